"""The data an imported network (from ONNX or from a PyTorch module) names, so it opens and trains at once."""

from __future__ import annotations

from typing import Any


def fitting_data(inputs: int, outputs: int) -> dict[str, Any] | None:
    """A built-in data set an imported network can train on at once: Gaussian blobs with as many features as
    inputs and a class per output unit (two for one unit), or the sine wave for one input and one output."""
    if inputs >= 2:
        return {"builtin": "blobs", "features": inputs, "classes": max(2, outputs), "test_fraction": 0.25}
    if outputs == 1:
        return {"builtin": "sine", "test_fraction": 0.25}
    return None
