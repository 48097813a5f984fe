"""Helpers shared by the data-set tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bpstudio.core.errors import DataError

CLASSIFIERS = ["xor", "circles", "blobs", "spirals", "moons"]
REGRESSIONS = ["plane", "sine"]
REAL_SETS = ["digits"]  # shipped with the package


def raises(text: str) -> Any:
    """Expect a DataError whose message contains ``text`` literally."""
    return pytest.raises(DataError, match=re.escape(text))


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
