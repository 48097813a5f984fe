"""Building ONNX models for the tests (by hand with onnx.helper, or with torch.onnx.export) and running them with
onnxruntime, the reference every import and export is checked against. Modules that use it import onnx and
onnxruntime with ``pytest.importorskip`` first."""

from __future__ import annotations

import importlib.util
import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec

HAS_ONNXSCRIPT = importlib.util.find_spec("onnxscript") is not None
# torch.onnx.export(dynamo=True) needs onnxscript
needs_onnxscript = pytest.mark.skipif(not HAS_ONNXSCRIPT, reason="needs onnxscript (pip install onnxscript)")
# float32 tolerance: onnxruntime computes in float32, bpstudio in float64 on the same (float32) inputs
RTOL, ATOL = 1e-4, 1e-5


def tensor_info(name: str, dims: list, elem: int | None = None):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, TensorProto.FLOAT if elem is None else elem, dims)


def make_model(nodes, inits=(), width=4, out_width=None, opset=20, inputs=None, outputs=None, path=None):
    """A model whose one input 'x' is batch × ``width`` and whose one output is 'y'; ``inits`` maps names to
    arrays (stored as float32 unless they are integer arrays). Written to ``path`` when given."""
    import onnx
    from onnx import helper, numpy_helper

    initializers = [
        numpy_helper.from_array(
            np.asarray(v) if np.asarray(v).dtype.kind in "iu" else np.asarray(v, dtype=np.float32), name
        )
        for name, v in dict(inits).items()
    ]
    graph = helper.make_graph(
        list(nodes),
        "test",
        inputs if inputs is not None else [tensor_info("x", ["batch", width])],
        outputs if outputs is not None else [tensor_info("y", ["batch", out_width])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    if path is not None:
        onnx.save(model, str(path))
    return model


_numbers = itertools.count()


def node(op, inputs, outputs, name=None, **attrs):
    """An ONNX node (named ``/Op_k`` unless named)."""
    from onnx import helper

    return helper.make_node(op, list(inputs), list(outputs), name=name or f"/{op}_{next(_numbers)}", **attrs)


def ort_outputs(path: str | Path, X: np.ndarray) -> np.ndarray:
    """onnxruntime's output for ``X`` (as the model's input type)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    given = session.get_inputs()[0]
    dtype = np.float64 if given.type == "tensor(double)" else np.float32
    return np.asarray(session.run(None, {given.name: X.astype(dtype)})[0], dtype=np.float64)


def predictions(spec: NetworkSpec, X: np.ndarray) -> np.ndarray:
    """bpstudio's evaluation-mode outputs for ``X``."""
    session = Session(spec, Dataset(X, np.zeros(len(X), dtype=np.int64)))
    return session.predict(X)


def inputs(width: int, n: int = 16, seed: int = 0) -> np.ndarray:
    """Random inputs that float32 holds exactly (so both sides read the same numbers)."""
    return np.random.default_rng(seed).standard_normal((n, width)).astype(np.float32).astype(np.float64)


def assert_same_as_onnxruntime(spec: NetworkSpec, path: str | Path, n: int = 16) -> None:
    X = inputs(spec.widths[spec.input_id], n)
    np.testing.assert_allclose(predictions(spec, X), ort_outputs(path, X), rtol=RTOL, atol=ATOL)


def torch_export(module, width: int, path: Path, dynamo: bool, opset: int | None = None) -> Path:
    """``module`` (put in eval mode) exported with a symbolic batch dimension by the new (dynamo) or the legacy
    (TorchScript) exporter."""
    import torch

    module.eval()
    x = torch.randn(5, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(
                module,
                (x,),
                str(path),
                dynamo=True,
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
                **({"opset_version": opset} if opset else {}),
            )
        else:
            torch.onnx.export(
                module,
                (x,),
                str(path),
                dynamo=False,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
                **({"opset_version": opset} if opset else {}),
            )
    return path
