"""Checking parameter values (a user's edit, a file's, a caller's) against a network's shapes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from bpstudio.core.errors import SessionError


def checked_params(
    shapes: Mapping[str, tuple[int, ...]], params: Mapping[str, object], *, complete: bool
) -> dict[str, np.ndarray]:
    """``params`` as float64 arrays, after checking each names a parameter of ``shapes``, has its shape
    and holds only finite numbers (and, if ``complete``, that none is missing); else SessionError."""
    if complete:
        missing = sorted(set(shapes) - set(params))
        if missing:
            raise SessionError(f"parameters missing: {', '.join(missing)}")
    checked = {}
    for key, value in params.items():
        if key not in shapes:
            raise SessionError(f"no parameter '{key}' (parameters: {', '.join(shapes)})")
        array = np.array(value, dtype=np.float64)
        if array.shape != shapes[key]:
            raise SessionError(f"parameter '{key}' has shape {array.shape}, expected {shapes[key]}")
        bad = np.argwhere(~np.isfinite(array))
        if bad.size:
            at = ", ".join(map(str, bad[0]))
            raise SessionError(f"parameter '{key}' entry [{at}] is not a finite number ({array[tuple(bad[0])]})")
        checked[key] = array
    return checked
