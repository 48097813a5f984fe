"""``bpstudio import MODEL.onnx --out NET.json``: what it writes, and every model it refuses — exit status 2, one
line on stderr naming what is wrong, and no file written."""

import sys

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto

from bpstudio.core.io import spec_io
from tests.cli.running import assert_one_line_error, run
from tests.onnx_building import make_model, node, tensor_info

W = np.random.default_rng(0).standard_normal((4, 3))


def dense_then(*nodes, inits=None, **kwargs):
    """x · W, then ``nodes`` reading 'h'."""
    return [node("MatMul", ["x", "W"], ["h"])] + list(nodes), {"W": W, **(inits or {})}, kwargs


def refused(capsys, tmp_path, model_path):
    out = tmp_path / "net.json"
    code, stdout, err = run(capsys, "import", model_path, "--out", out)
    assert (code, stdout) == (2, "")
    assert not out.exists()
    return assert_one_line_error(err)


def test_import_writes_a_network_file_and_says_what_it_holds(capsys, tmp_path):
    path = tmp_path / "m.onnx"
    make_model(
        [node("Gemm", ["x", "W", "B"], ["h"], "/fc/Gemm"), node("Relu", ["h"], ["y"])],
        {"W": W, "B": np.arange(3)},
        path=path,
    )
    code, out, err = run(capsys, "import", path, "--out", tmp_path / "net.json", "--loss", "sse_half")
    assert code == 0, err
    assert out == f"wrote {tmp_path / 'net.json'}: 2 layers, 2 parameters (15 numbers) from {path}\n"
    spec = spec_io.load(tmp_path / "net.json")
    assert spec.loss == "sse_half" and spec.layer("fc").activation == "relu"
    np.testing.assert_allclose(spec.layer("fc").weight, W.T.astype(np.float32))


def test_a_softmax_output_under_cross_entropy_is_imported_with_a_note(capsys, tmp_path):
    """A model exported with its softmax head (common for inference) trained with cross_entropy, which takes
    logits: the file is written, and one note on stderr says what that means and what to do."""
    path = tmp_path / "m.onnx"
    make_model(
        [node("Gemm", ["x", "W"], ["h"], "/fc/Gemm"), node("Softmax", ["h"], ["y"], axis=1)], {"W": W}, path=path
    )
    code, out, err = run(capsys, "import", path, "--out", tmp_path / "net.json", "--loss", "cross_entropy")
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'net.json'}")
    assert err.count("\n") == 1
    assert err.startswith("bpstudio import: note: the output layer 'fc' ends in a softmax and cross_entropy")
    assert "leave the final softmax out of the model" in err
    code, _, err = run(capsys, "import", path, "--out", tmp_path / "mse.json", "--loss", "mse")
    assert (code, err) == (0, "")  # (a softmax under another loss is not the same slip)


CASES = {
    "an op bpstudio has no layer for": (
        [node("Conv", ["x", "W"], ["y"], "/conv1/Conv")],
        {"W": np.ones((3, 4, 1, 1))},
        {},
        "unsupported op 'Conv' (node '/conv1/Conv')",
    ),
    "a Mul outside a decomposition": (
        *dense_then(node("Mul", ["h", "h"], ["y"], "/Mul")),
        "unsupported op 'Mul' (node '/Mul') (bpstudio reads it only inside a decomposed",
    ),
    "an op of another domain": (
        [node("FusedGemm", ["x", "W"], ["y"], "/f", domain="com.microsoft")],
        {"W": W},
        {"opset_extra": True},
        "unsupported op 'com.microsoft.FusedGemm' (node '/f')",
    ),
    "LeakyRelu with another slope": (
        *dense_then(node("LeakyRelu", ["h"], ["y"], "/act/LeakyRelu", alpha=0.2)),
        "LeakyRelu node '/act/LeakyRelu' has alpha 0.2; bpstudio's leaky_relu has alpha 0.01 only",
    ),
    "Elu with another alpha": (
        *dense_then(node("Elu", ["h"], ["y"], "/elu", alpha=0.5)),
        "Elu node '/elu' has alpha 0.5; bpstudio's elu has alpha 1.0 only",
    ),
    "Gelu's tanh approximation": (
        *dense_then(node("Gelu", ["h"], ["y"], "/gelu", approximate="tanh")),
        "Gelu node '/gelu' uses approximate='tanh'",
    ),
    "Softmax over the batch": (
        *dense_then(node("Softmax", ["h"], ["y"], "/sm", axis=0)),
        "Softmax node '/sm' is over axis 0",
    ),
    "Gemm with transA": (
        [node("Gemm", ["x", "W"], ["y"], "/g", transA=1)],
        {"W": np.ones((16, 3))},
        {},
        "Gemm node '/g' has transA=1",
    ),
    "Gemm of two computed tensors": (
        *dense_then(node("Gemm", ["h", "h"], ["y"], "/g2", transB=1)),
        "Gemm node '/g2' multiplies two computed tensors",
    ),
    "MatMul with its constant on the left": (
        [node("MatMul", ["W", "x"], ["y"], "/mm")],
        {"W": np.ones((3, 3))},
        {},
        "MatMul node '/mm' has its constant on the left",
    ),
    "a constant added where no dense layer is": (
        *dense_then(node("Relu", ["h"], ["r"]), node("Add", ["r", "c"], ["y"], "/shift"), inits={"c": [1.0]}),
        "Add node '/shift' adds the constant 'c' to",
    ),
    "Concat over the batch": (
        *dense_then(node("Relu", ["h"], ["h2"]), node("Concat", ["h", "h2"], ["y"], "/cat", axis=0)),
        "Concat node '/cat' joins along axis 0",
    ),
    "Flatten to one row": (
        *dense_then(node("Flatten", ["h"], ["y"], "/flat", axis=0)),
        "Flatten node '/flat' has axis 0",
    ),
    "BatchNormalization in training mode": (
        *dense_then(
            node("BatchNormalization", ["h", "g", "b", "m", "v"], ["y"], "/bn", training_mode=1),
            inits={k: np.ones(3) for k in "gbmv"},
        ),
        "BatchNormalization node '/bn' is in training mode",
    ),
    "LayerNormalization over more than the features": (
        *dense_then(node("LayerNormalization", ["h", "g"], ["y"], "/ln", axis=0), inits={"g": np.ones(3)}),
        "LayerNormalization node '/ln' normalizes from axis 0",
    ),
    "an Add of a tensor to itself": (
        *dense_then(node("Add", ["h", "h"], ["y"], "/twice")),
        "Add node '/twice' adds 'h' to itself",
    ),
    "Dropout in training mode": (
        *dense_then(node("Dropout", ["h", "r", "t"], ["y"], "/drop"), inits={"r": np.float32(0.5), "t": np.True_}),
        "Dropout node '/drop' is in training mode",
    ),
    "a second output that is used": (
        *dense_then(
            node("Dropout", ["h"], ["d", "mask"], "/drop"),
            node("Cast", ["mask"], ["m"], "/cast", to=1),
            node("Add", ["d", "m"], ["y"], "/use"),
        ),
        "Dropout node '/drop': its output 'mask' is used; bpstudio keeps only the first",
    ),
    "a weight that does not fit": (
        [node("MatMul", ["x", "W"], ["y"], "/mm")],
        {"W": np.ones((5, 3))},
        {},
        "MatMul node '/mm': weight 'W' (3×5) does not fit its input's 4 features",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_model_bpstudio_cannot_represent_is_refused_naming_why(capsys, tmp_path, case):
    nodes, inits, kwargs, expected = CASES[case]
    path = tmp_path / "m.onnx"
    if kwargs.pop("opset_extra", False):
        from onnx import helper

        model = make_model(nodes, inits)
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
        import onnx

        onnx.save(model, str(path))
    else:
        make_model(nodes, inits, path=path, **kwargs)
    line = refused(capsys, tmp_path, path)
    assert f"bpstudio: error: '{path}': {expected}" in line


SHAPES = {
    "two inputs": (
        [tensor_info("x", ["batch", 4]), tensor_info("x2", ["batch", 4])],
        [tensor_info("y", ["batch", 3])],
        "the model takes 2 inputs ('x', 'x2'); bpstudio reads models with exactly one",
    ),
    "two outputs": (
        [tensor_info("x", ["batch", 4])],
        [tensor_info("y", ["batch", 3]), tensor_info("h", ["batch", 3])],
        "the model has 2 outputs ('y', 'h'); bpstudio reads models with exactly one",
    ),
    "images": (
        [tensor_info("x", ["batch", 3, 32, 32])],
        [tensor_info("y", ["batch", 3])],
        "the input 'x' takes 4-D tensors of shape (batch, 3, 32, 32); bpstudio reads a batch of feature rows",
    ),
    "a sequence dimension": (
        [tensor_info("x", ["batch", "time", 4])],
        [tensor_info("y", ["batch", 3])],
        "the input 'x' takes 3-D tensors of shape (batch, time, 4)",
    ),
    "features of no fixed size": (
        [tensor_info("x", ["batch", "d"])],
        [tensor_info("y", ["batch", 3])],
        "the input 'x' has shape (batch, d): its feature dimension needs a fixed size",
    ),
    "integer inputs": (
        [tensor_info("x", ["batch", 4], TensorProto.INT64)],
        [tensor_info("y", ["batch", 3])],
        "the input 'x' holds int64; bpstudio reads float32 or float64 inputs",
    ),
}


@pytest.mark.parametrize("case", list(SHAPES))
def test_inputs_and_outputs_bpstudio_cannot_represent_are_refused(capsys, tmp_path, case):
    inputs, outputs, expected = SHAPES[case]
    path = tmp_path / "m.onnx"
    nodes = [node("MatMul", ["x", "W"], ["h"]), node("Relu", ["h"], ["y"])]
    make_model(nodes, {"W": W}, inputs=inputs, outputs=outputs, path=path)
    assert expected in refused(capsys, tmp_path, path)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "is not an ONNX model with a graph"),
        (b"\x00\xff garbage \x13\x37" * 10, "is not an ONNX model"),
        (b'{"format": "bpstudio-network"}', "is not an ONNX model"),
    ],
    ids=["empty", "garbage", "json"],
)
def test_a_file_that_is_no_model_is_refused(capsys, tmp_path, content, expected):
    path = tmp_path / "m.onnx"
    path.write_bytes(content)
    assert expected in refused(capsys, tmp_path, path)


def test_a_model_the_onnx_checker_refuses_is_refused(capsys, tmp_path):
    path = tmp_path / "m.onnx"
    make_model([node("Relu", ["h"], ["y"]), node("MatMul", ["x", "W"], ["h"])], {"W": W}, path=path)
    line = refused(capsys, tmp_path, path)
    assert "is not a valid ONNX model: Nodes in a graph must be topologically sorted" in line


def test_a_model_file_too_big_to_read_is_refused_before_it_is_read(capsys, tmp_path, monkeypatch):
    from bpstudio.core.io import onnx_graph

    path = tmp_path / "m.onnx"
    make_model([node("MatMul", ["x", "W"], ["y"])], {"W": W}, path=path)
    monkeypatch.setattr(onnx_graph, "MAX_FILE_BYTES", 100)
    assert "MiB; the most read is 0 MiB" in refused(capsys, tmp_path, path)


def test_a_missing_model_file(capsys, tmp_path):
    assert f"model file '{tmp_path / 'no.onnx'}' not found" in refused(capsys, tmp_path, tmp_path / "no.onnx")


def test_without_the_onnx_package_one_line_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    make_model([node("MatMul", ["x", "W"], ["y"])], {"W": W}, path=path)
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    line = refused(capsys, tmp_path, path)
    assert line == "bpstudio: error: reading or writing ONNX needs the onnx package: pip install 'bpstudio[onnx]'"


def test_state_dict_and_onnx_do_not_mix(capsys, tmp_path):
    code, _, err = run(capsys, "import", tmp_path / "m.onnx", "--state-dict", "w.pt", "--out", tmp_path / "n.json")
    assert code == 2 and "an ONNX model holds its own weights" in assert_one_line_error(err)
    code, _, err = run(capsys, "import", "xor", "--out", tmp_path / "n.json")
    assert code == 2 and "give --state-dict W.pt to import weights into xor" in assert_one_line_error(err)
