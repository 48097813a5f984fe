"""``bpstudio train --metrics`` with the optimizer's extras: the learning rate each step used and the total
gradient norm (after the L1 term, before clipping), against a plain PyTorch training loop."""

import csv
import json

import numpy as np
import pytest

from bpstudio.core.io import spec_io
from tests.cli.running import assert_one_line_error, run
from tests.helpers import needs_torch, optional_torch

torch = optional_torch()
LAMBDA, CLIP, GAMMA, LR = 0.05, 0.4, 0.8, 0.05


def network_file(tmp_path, optimizer):
    rng = np.random.default_rng(4)
    raw = {
        "format": "bpstudio-network",
        "version": 2,
        "layers": [
            {"id": "x", "type": "input", "units": 2},
            {
                "id": "h",
                "type": "dense",
                "inputs": ["x"],
                "units": 3,
                "activation": "silu",
                "weight": rng.normal(size=(3, 2)).tolist(),
                "bias": rng.normal(size=3).tolist(),
            },
            {
                "id": "y",
                "type": "dense",
                "inputs": ["h"],
                "units": 1,
                "activation": "mish",
                "weight": rng.normal(size=(1, 3)).tolist(),
                "bias": [0.1],
            },
        ],
        "output": "y",
        "loss": "mse",
        "optimizer": optimizer,
        "data": {"X": rng.normal(size=(6, 2)).tolist(), "Y": rng.normal(size=(6, 1)).tolist()},
    }
    path = tmp_path / "net.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path, raw


def torch_reference(raw, steps):
    """(loss, lr, total norm) per step and the final weights, from torch.optim.RMSprop with the L1 term
    added by hand, clip_grad_norm_ and ExponentialLR."""
    layers = {layer["id"]: layer for layer in raw["layers"]}
    params = {
        f"{lid}.{name}": torch.tensor(layers[lid][name], dtype=torch.float64, requires_grad=True)
        for lid in ("h", "y")
        for name in ("weight", "bias")
    }
    X = torch.tensor(raw["data"]["X"], dtype=torch.float64)
    Y = torch.tensor(raw["data"]["Y"], dtype=torch.float64)
    optimizer = torch.optim.RMSprop(params.values(), lr=LR, alpha=0.99, eps=1e-8, foreach=False)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=GAMMA)
    rows = []
    for _ in range(steps):
        optimizer.zero_grad()
        h = torch.nn.functional.silu(X @ params["h.weight"].T + params["h.bias"])
        out = torch.nn.functional.mish(h @ params["y.weight"].T + params["y.bias"])
        loss = torch.nn.functional.mse_loss(out, Y)
        loss.backward()
        with torch.no_grad():
            for key in ("h.weight", "y.weight"):
                params[key].grad += LAMBDA * torch.sign(params[key])
        total = float(torch.nn.utils.clip_grad_norm_(params.values(), CLIP))
        rows.append((loss.item(), optimizer.param_groups[0]["lr"], total))
        optimizer.step()
        scheduler.step()
    return rows, {k: v.detach().numpy() for k, v in params.items()}


@needs_torch
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_metrics_show_the_learning_rate_and_the_total_gradient_norm(capsys, tmp_path, backend):
    optimizer = {"name": "rmsprop", "lr": LR, "l1": LAMBDA, "clip_norm": CLIP,
                 "schedule": {"name": "exponential", "gamma": GAMMA}}  # fmt: skip
    path, raw = network_file(tmp_path, optimizer)
    metrics, saved = tmp_path / "m.csv", tmp_path / "trained.json"
    code, _, err = run(capsys, "train", path, "--steps", 6, "--backend", backend, "--metrics", metrics,
                       "--save", saved, "--quiet")  # fmt: skip
    assert (code, err) == (0, "")
    with open(metrics, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "loss", "grad_norm/h", "grad_norm/y", "lr", "grad_norm/total"]
    expected, weights = torch_reference(raw, 6)
    assert any(total > CLIP for *_, total in expected)  # (clipping did something)
    for row, (loss, lr, total) in zip(rows, expected, strict=True):
        assert float(row["loss"]) == pytest.approx(loss, rel=1e-9)
        assert float(row["lr"]) == pytest.approx(lr, rel=1e-12)
        assert float(row["grad_norm/total"]) == pytest.approx(total, rel=1e-9)
    trained = spec_io.load(saved)
    assert json.loads(saved.read_text(encoding="utf-8"))["version"] == 2
    assert trained.optimizer == spec_io.from_dict(raw).optimizer
    for key, value in weights.items():
        lid, name = key.split(".")
        np.testing.assert_allclose(getattr(trained.layer(lid), name), value, rtol=1e-9, atol=1e-12, err_msg=key)


def test_a_bad_schedule_in_the_file_is_one_line_naming_the_field(capsys, tmp_path):
    path, _ = network_file(tmp_path, {"name": "sgd", "schedule": {"name": "cosine"}})
    code, _, err = run(capsys, "train", path, "--steps", 1)
    assert code != 0
    line = assert_one_line_error(err)
    assert "field 'optimizer.schedule': a cosine schedule needs 't_max'" in line
