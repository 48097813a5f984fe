"""ONNX files as PyTorch writes them, with both of its exporters, imported and checked against onnxruntime.

The new exporter (dynamo=True) writes Gemm, LayerNormalization and Gelu as single ops and folds an eval-mode
BatchNorm1d into the Gemm before it; the legacy one (dynamo=False) writes BatchNormalization nodes, and below
opset 20 Gelu as its Erf decomposition, below opset 17 LayerNormalization as its ReduceMean decomposition."""

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

from bpstudio.core.io import onnx_import  # noqa: E402
from tests.onnx_building import assert_same_as_onnxruntime, needs_onnxscript, torch_export  # noqa: E402

EXPORTERS = [
    pytest.param({"dynamo": True}, id="dynamo", marks=needs_onnxscript),
    pytest.param({"dynamo": False}, id="legacy"),
    pytest.param({"dynamo": False, "opset": 14}, id="legacy-opset14"),
]


class Sin(torch.nn.Module):
    def forward(self, x):
        return torch.sin(x)


def every_activation():
    """A Linear before each activation bpstudio has (softmax last, over the features)."""
    torch.manual_seed(0)
    acts = [
        torch.nn.ReLU(),
        torch.nn.Sigmoid(),
        torch.nn.Tanh(),
        torch.nn.LeakyReLU(),
        torch.nn.ELU(),
        torch.nn.GELU(),
        torch.nn.Softplus(),
        Sin(),
        torch.nn.SiLU(),
        torch.nn.Mish(),
        torch.nn.Softmax(dim=-1),
    ]
    layers = []
    for act in acts:
        layers += [torch.nn.Linear(6, 6), act]
    return torch.nn.Sequential(torch.nn.Linear(3, 6), *layers)


class Block(torch.nn.Module):
    """Dense, batchnorm, layernorm, dropout, a residual add, a concat, Flatten, Identity and a bias-free Linear."""

    def __init__(self):
        super().__init__()
        self.l1 = torch.nn.Linear(4, 8)
        self.bn = torch.nn.BatchNorm1d(8, momentum=0.3)
        self.l2 = torch.nn.Linear(8, 8)
        self.ln = torch.nn.LayerNorm(8, eps=1e-3)
        self.drop = torch.nn.Dropout(0.25)
        self.keep = torch.nn.Identity()
        self.flat = torch.nn.Flatten()
        self.out = torch.nn.Linear(16, 3, bias=False)

    def forward(self, x):
        h = torch.relu(self.bn(self.l1(x)))
        g = torch.nn.functional.gelu(self.ln(self.l2(h)))
        r = self.drop(h + g)
        joined = torch.cat([self.keep(r), torch.tanh(h)], dim=1)
        return self.out(self.flat(joined))


def trained_block():
    """A Block whose batchnorm has running statistics of its own (a few training batches) and whose layernorm's
    γ and β are not ones and zeros."""
    torch.manual_seed(1)
    block = Block()
    block.train()
    with torch.no_grad():
        for _ in range(5):
            block(torch.randn(32, 4) * 3 + 1)
        block.ln.weight.uniform_(0.5, 1.5)
        block.ln.bias.uniform_(-0.5, 0.5)
    return block


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_every_activation_imports_and_equals_onnxruntime(tmp_path, exporter):
    path = torch_export(every_activation(), 3, tmp_path / "acts.onnx", **exporter)
    spec = onnx_import.load(path)
    dense = [spec.layer(i) for i in spec.order if spec.layer(i).type == "dense"]
    # each activation joined the Linear before it: no extra layers
    assert [layer.activation for layer in dense] == [
        "identity",
        "relu",
        "sigmoid",
        "tanh",
        "leaky_relu",
        "elu",
        "gelu",
        "softplus",
        "sin",
        "silu",
        "mish",
        "softmax",
    ]
    assert len(spec.layers) == 13
    assert_same_as_onnxruntime(spec, path)


@pytest.mark.parametrize("exporter", EXPORTERS)
def test_a_block_with_norms_dropout_and_joins_equals_onnxruntime(tmp_path, exporter):
    block = trained_block()
    path = torch_export(block, 4, tmp_path / "block.onnx", **exporter)
    spec = onnx_import.load(path)
    types = {spec.layer(i).type for i in spec.order}
    assert {"input", "dense", "layernorm", "add", "concat"} <= types
    norm = next(spec.layer(i) for i in spec.order if spec.layer(i).type == "layernorm")
    assert norm.eps == pytest.approx(1e-3) and norm.activation == "gelu"
    np.testing.assert_allclose(norm.weight, block.ln.weight.detach().numpy(), rtol=1e-6)
    out = spec.layer(spec.output)
    assert out.type == "dense" and not out.use_bias
    assert spec.param_shapes()[f"{spec.output}.weight"] == (3, 16)
    if not exporter["dynamo"]:  # the new exporter folds the batchnorm into the Gemm before it
        bn = spec.layer("bn")
        assert bn.type == "batchnorm" and bn.activation == "relu"
        assert bn.momentum == pytest.approx(0.3)  # ONNX's momentum is 0.7: the other way round
        np.testing.assert_allclose(bn.running_mean, block.bn.running_mean.numpy(), rtol=1e-6)
        np.testing.assert_allclose(bn.running_var, block.bn.running_var.numpy(), rtol=1e-6)
    assert_same_as_onnxruntime(spec, path)


def test_layer_ids_come_from_the_module_names(tmp_path):
    path = torch_export(trained_block(), 4, tmp_path / "block.onnx", dynamo=False)
    spec = onnx_import.load(path)
    assert {"l1", "bn", "l2", "ln", "out"} <= set(spec.order)
    assert spec.param_shapes()["l1.weight"] == (8, 4)
