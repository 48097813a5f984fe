"""What the window must agree with: Mazur's published numbers and a headless core Session."""

from __future__ import annotations

import numpy as np

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets
from bpstudio.core.session import Session

# Mazur's published values for his 2-2-2 example ("A Step by Step Backpropagation Example"; first sample,
# first step)
OUT_H = (0.593269992, 0.596884378)
OUT_O = (0.75136507, 0.772928465)
NET_O1 = 1.105905967
LOSS = 0.298371109
DW5, DW1 = 0.082167041, 0.000438568
W5_AFTER, W1_AFTER = 0.35891648, 0.149780716
O_WEIGHT_AFTER = [[0.35891648, 0.408666186], [0.511301270, 0.561370121]]


def headless(name, steps=0, **options):
    """A core Session on the preset's training data, ``steps`` steps run: what the window must agree with."""
    spec = presets.load(name)
    session = Session(spec, resolve_split(spec.data)[0], **options)
    traces = [session.step().to_numpy() for _ in range(steps)]
    return session, traces


def same_params(a, b, tol=0.0):
    """The same parameter keys, every value within ``tol`` (bit for bit unless told otherwise)."""
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=tol, err_msg=key)
