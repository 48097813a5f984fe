"""NumPy vs PyTorch side by side (bpstudio.core.tools.compare): measured agreement, planted differences found
where they were planted, torch missing, and the table/CSV/heatmap views of the result."""

import csv
import importlib.util
import io
import math

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import BackendError, DataError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.core.tools.compare import QUANTITIES, BackendComparison, ComparisonCancelled, compare_backends, difference

MAZUR_LOSS = 0.298371109  # Mazur's worked example, before the first update


def preset(name):
    spec = presets.load(name)
    return spec, resolve_split(spec.data)[0]


@pytest.fixture(scope="module")
def results():
    pytest.importorskip("torch")
    return {name: compare_backends(*preset(name)) for name in ("mazur", "deep_sigmoid")}


def by_pair(result, backend, dtype):
    return [r for r in result.rows if (r.backend, r.dtype) == (backend, dtype)]


# --- the relative difference ------------------------------------------------------------------------------


def test_difference_by_hand():
    a = np.array([1.0, 0.0, 1e-30, -2.0])
    b = np.array([1.001, 0.0, 0.0, -2.0])
    # floor = 1e-3 · max|a| = 2e-3: the 1e-30 against 0 is measured against the floor, not itself
    max_abs, max_rel, at = difference(a, b)
    assert max_abs == pytest.approx(1e-3)
    assert max_rel == pytest.approx(1e-3 / 1.001)
    assert at == (0,)
    # plain elementwise: 1e-30 against 0 is a 100 % difference
    assert difference(a, b, near_zero=0.0)[1:] == (1.0, (2,))
    # opposite signs: at most 2, and symmetric
    assert difference(np.array([3.0]), np.array([-3.0]))[1] == 2.0
    assert (
        difference(np.array([1.0, 2.0]), np.array([1.5, 2.0]))[1]
        == difference(np.array([1.5, 2.0]), np.array([1.0, 2.0]))[1]
    )
    assert difference(np.ones((2, 3)), np.ones((2, 3))) == (0.0, 0.0, ())


def test_difference_of_nan_and_inf():
    nan, inf = math.nan, math.inf
    assert difference(np.array([nan, inf, 1.0]), np.array([nan, inf, 1.0])) == (0.0, 0.0, ())
    max_abs, max_rel, at = difference(np.array([1.0, 2.0]), np.array([1.0, nan]))
    assert (max_abs, max_rel, at) == (inf, inf, (1,))
    assert difference(np.array([inf]), np.array([-inf]))[1] == inf


# --- measured agreement -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mazur", "deep_sigmoid"])
def test_torch_float64_agrees_and_float32_differs_a_little(results, name):
    result = results[name]
    spec = presets.load(name)
    assert result.reference == ("numpy", "float64")
    assert set(result.pairs) == {("numpy", "float32"), ("torch", "float64"), ("torch", "float32")}
    assert result.skipped == ()
    assert result.layers == tuple(lid for lid in spec.order if lid != spec.input_id)
    # every layer's z, a, dL/dz and parameter gradients, and the loss once, on every pair
    dense = [spec.layer(lid) for lid in result.layers]
    per_pair = 3 * len(dense) + sum(len(l.param_names) for l in dense) + 1
    assert len(result.rows) == 3 * per_pair
    for row in result.rows:
        assert row.max_abs >= 0 and row.max_rel >= 0
    assert max(r.max_rel for r in by_pair(result, "torch", "float64")) < 1e-10
    for backend in ("numpy", "torch"):
        worst32 = max(r.max_rel for r in by_pair(result, backend, "float32"))
        assert 0 < worst32 < 1e-3
    # float32 rounds even the weights and inputs: every z differs from the float64 one
    assert all(r.max_abs > 0 for r in by_pair(result, "torch", "float32") if r.quantity == "pre")


def test_shapes_and_losses_against_mazur(results):
    result = results["mazur"]
    assert result.losses[("numpy", "float64")] == pytest.approx(MAZUR_LOSS, abs=1e-9)
    assert result.losses[("torch", "float32")] == pytest.approx(MAZUR_LOSS, rel=1e-6)
    shapes = {(r.layer, r.quantity): r.shape for r in result.rows}
    assert shapes[("h", "pre")] == (1, 2) and shapes[("o", "grad_weight")] == (2, 2)
    assert shapes[("o", "grad_bias")] == (2,) and shapes[("o", "loss")] == ()
    loss_rows = result.loss_rows()
    assert [(r.backend, r.dtype) for r in loss_rows] == list(result.pairs)
    for row in loss_rows:
        want = abs(result.losses[(row.backend, row.dtype)] - result.losses[("numpy", "float64")])
        assert row.max_abs == pytest.approx(want, abs=1e-18)


def test_batch_and_params_are_used():
    spec, data = preset("deep_sigmoid")
    session = Session(spec, data)
    for _ in range(3):
        session.step()
    trained = session.params_numpy()
    result = compare_backends(spec, data, params=trained, batch=[5, 0, 7], dtypes=("float32",), backends=("numpy",))
    assert result.pairs == (("numpy", "float32"),) and result.samples == 3
    assert all(r.shape[0] == 3 for r in result.rows if r.quantity in ("pre", "out", "grad_pre"))
    # the reference loss is the trained net's on those three samples (computed here by hand)
    x, y = data.X[[5, 0, 7]], data.Y[[5, 0, 7]]
    a = x
    for lid in spec.order[1:]:
        a = 1 / (1 + np.exp(-(a @ trained[f"{lid}.weight"].T + trained[f"{lid}.bias"])))
    p = a[:, 0]
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert result.losses[("numpy", "float64")] == pytest.approx(bce, rel=1e-12)
    with pytest.raises(DataError, match="sample 999"):
        compare_backends(spec, data, batch=[0, 999])


# --- planted differences are found where they were planted -------------------------------------------------


def test_planted_gradient_difference_is_found(monkeypatch):
    pytest.importorskip("torch")
    from bpstudio.core.backends import torch_backend

    original = torch_backend.TorchKernel.backward

    def backward(self, record, grad_out):
        original(self, record, grad_out)
        if self.layer_id == "h2":
            w = record.grads["weight"].clone()
            w[3, 4] *= 1 + 1e-6
            record.grads["weight"] = w

    monkeypatch.setattr(torch_backend.TorchKernel, "backward", backward)
    result = compare_backends(*preset("deep_sigmoid"), dtypes=("float64",))
    worst = result.worst()
    assert (worst.layer, worst.quantity, worst.backend, worst.dtype) == ("h2", "grad_weight", "torch", "float64")
    assert worst.worst_index == (3, 4)
    assert worst.max_rel == pytest.approx(1e-6, rel=1e-3)
    assert all(r.max_rel < 1e-10 for r in result.rows if r is not worst)
    assert "h2 dL/dW on torch float64" in result.verdict()


def test_planted_activation_difference_shows_from_that_layer_on(monkeypatch):
    pytest.importorskip("torch")
    import torch

    from bpstudio.core.backends import torch_backend

    original = torch_backend.TorchKernel.build

    def build(self, xs, ps, mask=None):
        record = original(self, xs, ps, mask)
        if self.layer_id == "h3":
            with torch.enable_grad():
                record.out = record.out * (1 + 1e-5)
        return record

    monkeypatch.setattr(torch_backend.TorchKernel, "build", build)
    result = compare_backends(*preset("deep_sigmoid"), dtypes=("float64",), backends=("torch",))
    differing = [(r.layer, r.quantity) for r in result.rows if r.max_rel > 1e-10]
    forward = [d for d in differing if d[1] in ("pre", "out", "loss")]
    assert forward[0] == ("h3", "out")  # the first forward quantity that differs: z of h3 still agrees
    assert ("h4", "pre") in forward and ("h5", "out") in forward  # (deeper down the sigmoids damp it)
    assert ("h1", "grad_weight") in differing  # and every gradient, back to the first layer
    assert result.matrix("outputs").values[:2, 0].max() < 1e-10  # h1, h2 forward untouched
    assert result.matrix("outputs").values[2, 0] == pytest.approx(1e-5, rel=1e-3)


# --- without torch -----------------------------------------------------------------------------------------


def test_without_torch_only_numpy_pairs_are_compared(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    result = compare_backends(*preset("mazur"))
    assert result.pairs == (("numpy", "float32"),)
    assert [(b, d) for b, d, _ in result.skipped] == [("torch", "float64"), ("torch", "float32")]
    assert all("PyTorch" in why and "not installed" in why for _, _, why in result.skipped)
    assert {r.backend for r in result.rows} == {"numpy"}
    assert "torch" not in result.to_table() and result.matrix().columns == ("numpy float32",)
    with pytest.raises(BackendError, match="reference torch float64 cannot run"):
        compare_backends(*preset("mazur"), reference=("torch", "float64"))


# --- views of the result -----------------------------------------------------------------------------------


def test_table_csv_and_matrix(results):
    result: BackendComparison = results["deep_sigmoid"]
    lines = result.to_table().splitlines()
    assert len(lines) == 2 + len(result.rows)
    header = lines[0]
    rel_end = header.index("max rel diff") + len("max rel diff")
    for line, row in zip(lines[2:], result.rows):  # layer order, numbers right-aligned under their header
        assert line.split()[0] == row.layer
        assert line[rel_end - 9 : rel_end] == f"{row.max_rel:.3e}"
    worst_first = result.to_table(order="worst").splitlines()[2]
    worst = result.worst()
    assert worst_first.split()[0] == worst.layer and f"{worst.max_rel:.3e}" in worst_first
    assert worst.max_rel == max(r.max_rel for r in result.rows)

    parsed = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert len(parsed) == len(result.rows)
    for got, row in zip(parsed, result.rows):
        assert (got["layer"], got["quantity"], got["backend"], got["dtype"]) == (
            row.layer,
            row.quantity,
            row.backend,
            row.dtype,
        )
        assert float(got["max_rel"]) == row.max_rel and float(got["max_abs"]) == row.max_abs
    assert parsed[0]["shape"] == "228x8"

    m = result.matrix("gradients")
    assert m.rows == result.layers and m.columns == ("numpy float32", "torch float64", "torch float32")
    for i, layer in enumerate(m.rows):
        for j, pair in enumerate(m.columns):
            want = max(
                r.max_rel for r in result.rows if r.layer == layer and r.pair == pair and r.quantity.startswith("grad_")
            )
            assert m.values[i, j] == want
    everything = result.matrix("all")
    assert everything.rows[-1] == "loss L" and everything.values.shape == (len(result.layers) + 1, 3)
    assert np.nanmax(everything.values) == worst.max_rel
    assert set(QUANTITIES) == {r.quantity for r in result.rows}


def test_bias_free_layer_has_no_bias_row_and_nan_in_matrix():
    spec, data = preset("mazur")
    spec = spec.replace_layer("h", use_bias=False, bias=None)
    result = compare_backends(spec, data, backends=("numpy",))
    assert ("h", "grad_bias") not in {(r.layer, r.quantity) for r in result.rows}
    assert math.isnan(result.matrix("grad_bias").values[0, 0])


def test_progress_and_cancel():
    spec, data = preset("mazur")
    seen = []
    compare_backends(spec, data, backends=("numpy",), progress=lambda done, total, label: seen.append((done, total)))
    assert seen == [(0, 2), (1, 2), (2, 2)]
    with pytest.raises(ComparisonCancelled):
        compare_backends(spec, data, cancelled=lambda: True)
