"""Each ONNX op bpstudio reads, in the forms files hold it (built with onnx.helper), imported and checked against
onnxruntime on random inputs."""

import math

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from bpstudio.core.io import onnx_import
from tests.onnx_building import assert_same_as_onnxruntime, make_model, node

rng = np.random.default_rng(3)
W = rng.standard_normal((4, 3))  # MatMul's layout: in × out
B = rng.standard_normal(3)


def imported(tmp_path, nodes, inits=(), **kwargs):
    path = tmp_path / "m.onnx"
    make_model(nodes, inits, path=path, **kwargs)
    spec = onnx_import.load(path)
    assert_same_as_onnxruntime(spec, path)
    return spec


def test_matmul_then_add_of_a_constant_is_one_dense_layer_with_that_bias(tmp_path):
    spec = imported(
        tmp_path,
        [node("MatMul", ["x", "W"], ["h"], "/fc/MatMul"), node("Add", ["h", "B"], ["y"], "/fc/Add")],
        {"W": W, "B": B},
    )
    assert spec.order == ("x", "fc")
    np.testing.assert_allclose(spec.layer("fc").weight, W.T.astype(np.float32))
    np.testing.assert_allclose(spec.layer("fc").bias, B.astype(np.float32))


def test_matmul_alone_is_a_dense_layer_without_bias(tmp_path):
    spec = imported(tmp_path, [node("MatMul", ["x", "W"], ["y"])], {"W": W})
    assert not spec.layer(spec.output).use_bias


@pytest.mark.parametrize(
    "attrs",
    [{}, {"transB": 1}, {"alpha": 0.5, "beta": 2.0}, {"transB": 1, "alpha": -1.5}],
    ids=["plain", "transB", "alpha-beta", "transB-alpha"],
)
def test_gemm_with_its_attributes(tmp_path, attrs):
    weight = W.T if attrs.get("transB") else W
    spec = imported(tmp_path, [node("Gemm", ["x", "W", "C"], ["y"], **attrs)], {"W": weight, "C": B.reshape(1, 3)})
    assert spec.layer(spec.output).type == "dense"


def test_gemm_without_c_then_add_of_a_scalar(tmp_path):
    spec = imported(tmp_path, [node("Gemm", ["x", "W"], ["h"]), node("Add", ["c", "h"], ["y"])], {"W": W, "c": [0.5]})
    np.testing.assert_allclose(spec.layer(spec.output).bias, [0.5] * 3)


@pytest.mark.parametrize(
    "op, attrs, name",
    [
        ("Relu", {}, "relu"),
        ("Sigmoid", {}, "sigmoid"),
        ("Tanh", {}, "tanh"),
        ("LeakyRelu", {}, "leaky_relu"),
        ("LeakyRelu", {"alpha": 0.01}, "leaky_relu"),
        ("Elu", {"alpha": 1.0}, "elu"),
        ("Gelu", {}, "gelu"),
        ("Softplus", {}, "softplus"),
        ("Softmax", {"axis": -1}, "softmax"),
        ("Softmax", {"axis": 1}, "softmax"),
        ("Sin", {}, "sin"),
        ("Mish", {}, "mish"),
    ],
)
def test_an_activation_joins_the_dense_layer_before_it(tmp_path, op, attrs, name):
    spec = imported(tmp_path, [node("MatMul", ["x", "W"], ["h"]), node(op, ["h"], ["y"], **attrs)], {"W": W})
    assert len(spec.layers) == 2 and spec.layer(spec.output).activation == name


def test_softmax_of_opset_11_is_over_axis_1_by_default(tmp_path):
    spec = imported(tmp_path, [node("MatMul", ["x", "W"], ["h"]), node("Softmax", ["h"], ["y"])], {"W": W}, opset=11)
    assert spec.layer(spec.output).activation == "softmax"


def test_an_activation_of_the_input_is_a_one_input_add_layer(tmp_path):
    spec = imported(tmp_path, [node("Tanh", ["x"], ["y"], "/act/Tanh")], out_width=4)
    layer = spec.layer(spec.output)
    assert (layer.type, layer.inputs, layer.activation) == ("add", ("x",), "tanh")


def test_an_activation_of_an_output_read_twice_gets_a_layer_of_its_own(tmp_path):
    # h feeds the Relu and the Add: the dense layer must keep h as it is
    nodes = [
        node("MatMul", ["x", "W"], ["h"], "/fc/MatMul"),
        node("Relu", ["h"], ["r"], "/act/Relu"),
        node("Add", ["h", "r"], ["y"], "/res/Add"),
    ]
    spec = imported(tmp_path, nodes, {"W": W})
    assert spec.layer("fc").activation == "identity"
    assert (spec.layer("act").type, spec.layer("act").activation) == ("add", "relu")
    assert spec.layer("res").inputs == ("fc", "act")


def test_two_activations_in_a_row(tmp_path):
    nodes = [node("MatMul", ["x", "W"], ["h"]), node("Relu", ["h"], ["r"]), node("Sigmoid", ["r"], ["y"])]
    spec = imported(tmp_path, nodes, {"W": W})
    assert [spec.layer(i).activation for i in spec.order[1:]] == ["relu", "sigmoid"]


def test_sum_concat_identity_flatten(tmp_path):
    nodes = [
        node("MatMul", ["x", "W"], ["a"], "/a/MatMul"),
        node("Identity", ["a"], ["a2"]),
        node("Flatten", ["a2"], ["a3"], axis=1),
        node("MatMul", ["x", "W2"], ["b"], "/b/MatMul"),
        node("Sum", ["a3", "b", "c"], ["s"], "/sum/Sum"),
        node("MatMul", ["x", "W3"], ["c"], "/c/MatMul"),
        node("Concat", ["s", "x"], ["y"], "/cat/Concat", axis=-1),
    ]
    nodes = [nodes[i] for i in (0, 1, 2, 3, 5, 4, 6)]
    spec = imported(tmp_path, nodes, {"W": W, "W2": W * 2, "W3": -W}, out_width=7)
    assert spec.layer("sum").inputs == ("a", "b", "c") and spec.layer("cat").type == "concat"


def test_batch_normalization_reads_its_running_statistics_and_turns_its_momentum_round(tmp_path):
    stats = {"g": rng.uniform(0.5, 2, 3), "b": rng.standard_normal(3), "m": rng.standard_normal(3)}
    stats["v"] = rng.uniform(0.5, 2, 3)
    nodes = [
        node("MatMul", ["x", "W"], ["h"], "/fc/MatMul"),
        node("BatchNormalization", ["h", "g", "b", "m", "v"], ["y"], "/bn/BN", epsilon=1e-3, momentum=0.8),
    ]
    spec = imported(tmp_path, nodes, {"W": W, **stats})
    bn = spec.layer("bn")
    assert bn.momentum == pytest.approx(0.2) and bn.eps == pytest.approx(1e-3)
    np.testing.assert_allclose(bn.running_var, stats["v"].astype(np.float32))


def test_layer_normalization_with_and_without_bias(tmp_path):
    nodes = [node("MatMul", ["x", "W"], ["h"]), node("LayerNormalization", ["h", "g"], ["y"], epsilon=1e-4)]
    spec = imported(tmp_path, nodes, {"W": W, "g": [1.5, 0.5, 2.0]}, opset=17)
    assert spec.layer(spec.output).type == "layernorm"


@pytest.mark.parametrize("opset", [11, 13])
def test_dropout_is_a_dropout_layer_with_its_ratio(tmp_path, opset):
    ratio = {"ratio": 0.3} if opset < 12 else {}
    inputs = ["h"] if opset < 12 else ["h", "r"]
    nodes = [node("MatMul", ["x", "W"], ["h"]), node("Dropout", inputs, ["y"], "/drop/Dropout", **ratio)]
    spec = imported(tmp_path, nodes, {"W": W, **({} if opset < 12 else {"r": np.float32(0.3)})}, opset=opset)
    assert spec.layer("drop").type == "dropout" and spec.layer("drop").p == pytest.approx(0.3)


def gelu_nodes(divide, half_first):
    """x · 0.5 · (1 + erf(x / √2)) in the orders exporters write it."""
    scale = node("Div", ["h", "sqrt2"], ["u"]) if divide else node("Mul", ["inv_sqrt2", "h"], ["u"])
    tail = (
        [node("Mul", ["h", "half"], ["hh"]), node("Mul", ["hh", "a"], ["y"])]
        if half_first
        else [node("Mul", ["h", "a"], ["ha"]), node("Mul", ["ha", "half"], ["y"])]
    )
    body = [node("MatMul", ["x", "W"], ["h"]), scale, node("Erf", ["u"], ["e"]), node("Add", ["e", "one"], ["a"])]
    return body + tail


@pytest.mark.parametrize("divide", [True, False])
@pytest.mark.parametrize("half_first", [True, False])
def test_the_erf_decomposition_of_gelu(tmp_path, divide, half_first):
    consts = {"W": W, "sqrt2": np.float32(math.sqrt(2)), "inv_sqrt2": np.float32(math.sqrt(0.5))}
    spec = imported(tmp_path, gelu_nodes(divide, half_first), {**consts, "half": np.float32(0.5), "one": np.float32(1)})
    assert len(spec.layers) == 2 and spec.layer(spec.output).activation == "gelu"


def layer_norm_nodes(axes_input, square="Pow", affine=True):
    """ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div then Mul γ, Add β."""
    mean = {"axes": [-1]} if not axes_input else {}
    means = (["h", "axes"], ["sq", "axes"]) if axes_input else (["h"], ["sq"])
    squared = node("Pow", ["d", "two"], ["sq"]) if square == "Pow" else node("Mul", ["d", "d"], ["sq"])
    nodes = [
        node("MatMul", ["x", "W"], ["h"]),
        node("ReduceMean", means[0], ["mu"], "/ln/ReduceMean", **mean),
        node("Sub", ["h", "mu"], ["d"]),
        squared,
        node("ReduceMean", means[1], ["var"], "/ln/ReduceMean_1", **mean),
        node("Add", ["var", "eps"], ["ve"]),
        node("Sqrt", ["ve"], ["s"]),
        node("Div", ["d", "s"], ["n" if affine else "y"]),
    ]
    if affine:
        nodes += [node("Mul", ["n", "ln.weight"], ["m"]), node("Add", ["m", "ln.bias"], ["y"])]
    return nodes


@pytest.mark.parametrize(
    "opset, axes_input, square, affine",
    [(14, False, "Pow", True), (18, True, "Pow", True), (18, True, "Mul", True), (13, False, "Pow", False)],
)
def test_the_decomposition_of_layer_normalization(tmp_path, opset, axes_input, square, affine):
    consts = {"W": W, "two": np.float32(2), "eps": np.float32(1e-5), "axes": np.array([-1], dtype=np.int64)}
    consts |= {"ln.weight": rng.uniform(0.5, 2, 3), "ln.bias": rng.standard_normal(3)}
    spec = imported(tmp_path, layer_norm_nodes(axes_input, square, affine), consts, opset=opset)
    ln = spec.layer("ln")
    assert ln.type == "layernorm" and ln.affine is affine and ln.eps == pytest.approx(1e-5)


def test_a_constant_under_another_name_is_still_the_weight(tmp_path):
    # the legacy exporter shares equal initializers and names the copies with Identity nodes
    nodes = [node("Identity", ["W"], ["fc.weight"]), node("MatMul", ["x", "fc.weight"], ["y"])]
    spec = imported(tmp_path, nodes, {"W": W})
    assert spec.output == "fc"


def test_ids_are_made_unique(tmp_path):
    nodes = [node("MatMul", ["x", "W"], ["h"], "/fc/MatMul"), node("MatMul", ["h", "W2"], ["y"], "/fc/MatMul_1")]
    spec = imported(tmp_path, nodes, {"W": W, "W2": rng.standard_normal((3, 3))})
    assert spec.order == ("x", "fc", "fc_2")


def test_the_network_gets_data_that_fits_it(tmp_path):
    spec = imported(tmp_path, [node("MatMul", ["x", "W"], ["y"])], {"W": W})
    assert dict(spec.data) == {"builtin": "blobs", "features": 4, "classes": 3, "test_fraction": 0.25}
    assert spec.loss == "mse"
