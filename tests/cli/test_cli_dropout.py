"""``bpstudio grad --out`` through a dropout layer: the mask it used is written under ``<id>.mask`` (0/1 floats,
samples × width), the same on both backends, and the gradients are torch autograd's of x·mask/(1−p) with that
mask fed in."""

import json

import numpy as np
import pytest

from tests.cli.running import run
from tests.helpers import optional_torch, with_torch

torch = optional_torch()


def dropout_files(tmp_path):
    rng = np.random.default_rng(11)
    p = {"h.weight": rng.normal(size=(6, 2)), "h.bias": rng.normal(size=6), "o.weight": rng.normal(size=(1, 6))}
    net = {
        "format": "bpstudio-network",
        "version": 2,
        "seed": 5,
        "output": "o",
        "loss": "mse",
        "layers": [
            {"id": "i", "type": "input", "units": 2},
            {"id": "h", "type": "dense", "inputs": ["i"], "units": 6, "activation": "relu"}
            | {"weight": p["h.weight"].tolist(), "bias": p["h.bias"].tolist()},
            {"id": "drop", "type": "dropout", "inputs": ["h"], "p": 0.4},
            {"id": "o", "type": "dense", "inputs": ["drop"], "units": 1, "use_bias": False}
            | {"weight": p["o.weight"].tolist()},
        ],
    }
    X, Y = rng.normal(size=(10, 2)), rng.normal(size=(10, 1))
    (tmp_path / "net.json").write_text(json.dumps(net), encoding="utf-8")
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    return p, X, Y


@pytest.mark.parametrize("backend", with_torch("numpy", "torch"))
def test_grad_writes_the_mask_it_used_and_the_gradients_through_it(capsys, tmp_path, backend):
    p, X, Y = dropout_files(tmp_path)
    out = tmp_path / "g.npz"
    args = ("grad", tmp_path / "net.json", "--data", tmp_path / "data.npz", "--backend", backend, "--out", out)
    code, _, err = run(capsys, *args)
    assert (code, err) == (0, "")
    with np.load(out) as g:
        assert set(g.files) == {"loss", "h.weight", "h.bias", "o.weight", "drop.mask"}
        mask = g["drop.mask"]
        assert mask.shape == (10, 6) and mask.dtype == np.float64 and set(np.unique(mask)) == {0.0, 1.0}
        # the loss and gradients written out by hand in NumPy with that mask
        h = np.maximum(X @ p["h.weight"].T + p["h.bias"], 0)
        d = h * mask / 0.6
        y = d @ p["o.weight"].T
        assert float(g["loss"]) == pytest.approx(np.mean((y - Y) ** 2), rel=1e-10)
        dy = 2 * (y - Y) / y.size
        np.testing.assert_allclose(g["o.weight"], dy.T @ d, rtol=1e-10)
        dz = (dy @ p["o.weight"]) * mask / 0.6 * (h > 0)
        np.testing.assert_allclose(g["h.weight"], dz.T @ X, rtol=1e-10)
        got = {k: g[k] for k in g.files}
    # the other backend writes the same mask
    other = "torch" if backend == "numpy" else "numpy"
    if other == "torch" and torch is None:
        return
    code, _, err = run(capsys, *args[:4], "--backend", other, "--out", tmp_path / "g2.npz")
    assert (code, err) == (0, "")
    with np.load(tmp_path / "g2.npz") as g2:
        np.testing.assert_array_equal(g2["drop.mask"], got["drop.mask"])
        np.testing.assert_allclose(g2["h.weight"], got["h.weight"], rtol=1e-9)
