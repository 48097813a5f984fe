"""``bpstudio export NET --onnx OUT.onnx`` and ``bpstudio predict`` on an imported ONNX model: onnxruntime runs
the exported file with the engine's outputs, and predict on an imported model equals onnxruntime on the same
inputs."""

import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from bpstudio.core.io import presets  # noqa: E402
from tests.cli.running import assert_one_line_error, run  # noqa: E402
from tests.onnx_building import ATOL, RTOL, inputs, ort_outputs, predictions, torch_export  # noqa: E402


def test_export_onnx_writes_a_model_onnxruntime_runs_with_the_engines_outputs(capsys, tmp_path):
    out = tmp_path / "net.onnx"
    code, stdout, err = run(capsys, "export", "deep_sigmoid_batchnorm", "--onnx", out)
    assert code == 0, err
    spec = presets.load("deep_sigmoid_batchnorm")
    assert stdout == f"wrote {out}: opset 20, float32, input 'x' (batch × 2), output '{spec.output}' (batch × 1)\n"
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    X = inputs(2, n=50)
    np.testing.assert_allclose(ort_outputs(out, X), predictions(spec, X), rtol=RTOL, atol=ATOL)


def test_the_scripts_options_do_not_go_with_onnx(capsys, tmp_path):
    code, out, err = run(capsys, "export", "xor", "--onnx", tmp_path / "n.onnx", "--steps", "5", "--data", "xor")
    assert (code, out) == (2, "")
    assert "--data, --steps go with --torch" in assert_one_line_error(err)
    code, _, err = run(capsys, "export", "xor", "--onnx", tmp_path / "n.onnx", "--torch", tmp_path / "n.py")
    assert code == 2 and "not allowed with argument" in assert_one_line_error(err)
    assert not list(tmp_path.iterdir())


def test_export_without_the_onnx_package_says_how_to_install_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, _, err = run(capsys, "export", "xor", "--onnx", tmp_path / "n.onnx")
    assert code == 2
    assert assert_one_line_error(err) == (
        "bpstudio: error: reading or writing ONNX needs the onnx package: pip install 'bpstudio[onnx]'"
    )


def test_predict_on_an_imported_model_equals_onnxruntime(capsys, tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(5, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.GELU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(16, 4),
        torch.nn.LayerNorm(4),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 3),
    )
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(64, 5) * 2)  # running statistics of its own
    path = torch_export(model, 5, tmp_path / "model.onnx", dynamo=False)
    code, _, err = run(capsys, "import", path, "--out", tmp_path / "net.json")
    assert code == 0, err
    X = inputs(5, n=40)
    np.savez(tmp_path / "x.npz", X=X)
    code, _, err = run(
        capsys, "predict", tmp_path / "net.json", "--data", tmp_path / "x.npz", "--out", tmp_path / "y.npz"
    )
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["y"], ort_outputs(path, X), rtol=RTOL, atol=ATOL)
