"""The ONNX export: every layer type and activation, checked by the ONNX checker, run by onnxruntime against the
engine's own predictions, and read back by the importer with the same predictions (bpstudio → ONNX → bpstudio)."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from bpstudio.core import activations  # noqa: E402
from bpstudio.core.init import initial_params  # noqa: E402
from bpstudio.core.io import onnx_export, onnx_import, presets, spec_io  # noqa: E402
from tests.onnx_building import ATOL, RTOL, inputs, ort_outputs, predictions  # noqa: E402

LINKED_ACTIVATIONS = [a for a in activations.NAMES if a != "softmax"]


def every_layer_network():
    """Each layer type at least once (features with every kind of term, dropout, batchnorm with running statistics
    of its own, layernorm with and without γ and β, add of one, two and three inputs, concat, a dense layer
    without bias) and each activation, softmax on the output."""
    rng = np.random.default_rng(5)
    layers = [
        {"id": "x", "type": "input", "units": 3},
        {"id": "feat", "type": "features", "inputs": ["x"], "terms": ["x1", "x2^3", "x1*x3", "sin(x2)", "cos(x3)"]},
    ]
    previous = "feat"
    for k, act in enumerate(LINKED_ACTIVATIONS):
        layers.append({"id": f"h{k}", "type": "dense", "inputs": [previous], "units": 4, "activation": act})
        previous = f"h{k}"
    layers += [
        {"id": "drop", "type": "dropout", "inputs": [previous], "p": 0.3},
        {
            "id": "bn",
            "type": "batchnorm",
            "inputs": ["drop"],
            "momentum": 0.2,
            "eps": 1e-3,
            "running_mean": rng.standard_normal(4).tolist(),
            "running_var": rng.uniform(0.5, 2, 4).tolist(),
            "weight": rng.uniform(0.5, 2, 4).tolist(),
            "bias": rng.standard_normal(4).tolist(),
            "activation": "tanh",
        },
        {"id": "bn_plain", "type": "batchnorm", "inputs": ["h0"], "affine": False, "running_var": [2.0] * 4},
        {"id": "ln", "type": "layernorm", "inputs": ["bn"], "weight": rng.uniform(0.5, 2, 4).tolist()},
        {"id": "ln_plain", "type": "layernorm", "inputs": ["h1"], "affine": False, "activation": "relu"},
        {"id": "one", "type": "add", "inputs": ["ln"], "activation": "sigmoid"},
        {"id": "two", "type": "add", "inputs": ["one", "bn_plain"]},
        {"id": "three", "type": "add", "inputs": ["two", "ln_plain", "h2"], "activation": "gelu"},
        {"id": "cat", "type": "concat", "inputs": ["three", "feat"]},
        {"id": "out", "type": "dense", "inputs": ["cat"], "units": 3, "use_bias": False, "activation": "softmax"},
    ]
    return spec_io.from_dict(
        {"format": "bpstudio-network", "version": 2, "layers": layers, "output": "out", "loss": "mse", "seed": 7}
    )


def exported(spec, path):
    path.write_bytes(onnx_export.to_bytes(spec, initial_params(spec), spec.running_stats()))
    return path


def test_every_layer_and_activation_runs_in_onnxruntime_as_in_the_engine(tmp_path):
    spec = every_layer_network()
    path = exported(spec, tmp_path / "net.onnx")
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    X = inputs(3, n=40)
    np.testing.assert_allclose(ort_outputs(path, X), predictions(spec, X), rtol=RTOL, atol=ATOL)


def test_the_batch_dimension_is_symbolic(tmp_path):
    spec = presets.load("mazur")
    path = exported(spec, tmp_path / "net.onnx")
    model = onnx.load(str(path))
    for value in (model.graph.input[0], model.graph.output[0]):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    for n in (1, 33):
        X = inputs(2, n=n)
        assert ort_outputs(path, X).shape == (n, 2)
        np.testing.assert_allclose(ort_outputs(path, X), predictions(spec, X), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", presets.names())
def test_every_example_exports_and_equals_the_engine(tmp_path, name):
    spec = presets.load(name)
    path = exported(spec, tmp_path / f"{name}.onnx")
    X = inputs(spec.widths[spec.input_id], n=24)
    np.testing.assert_allclose(ort_outputs(path, X), predictions(spec, X), rtol=RTOL, atol=ATOL)


def test_round_trip_through_onnx_gives_the_same_predictions_and_ids(tmp_path):
    spec = every_layer_network()
    # the importer reads every layer but features (Gather is not among its ops): the input takes their place
    fields = spec_io.to_dict(spec)
    fields["layers"] = _rewired(fields["layers"])
    without_features = spec_io.from_dict(fields)
    path = exported(without_features, tmp_path / "net.onnx")
    back = onnx_import.load(path)
    X = inputs(5, n=30)
    np.testing.assert_allclose(predictions(back, X), predictions(without_features, X), rtol=RTOL, atol=ATOL)
    kept = {"h0", "h1", "bn", "bn_plain", "ln", "ln_plain", "drop", "two", "three", "cat", "out"}
    assert kept <= set(back.order)
    assert back.layer("drop").p == pytest.approx(0.3) and back.layer("bn").momentum == pytest.approx(0.2)
    assert back.layer("h5").activation == without_features.layer("h5").activation


def _rewired(layers):
    """The layers with the features layer taken out: what read it reads the input (5 wide) instead."""
    out = [{"id": "x", "type": "input", "units": 5}]
    for layer in layers:
        if layer["type"] in ("input", "features"):
            continue
        layer = dict(layer)
        layer["inputs"] = ["x" if i == "feat" else i for i in layer["inputs"]]
        out.append(layer)
    return out
