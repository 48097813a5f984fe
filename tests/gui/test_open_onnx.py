"""File ▸ Open reads an ONNX model through the importer of `bpstudio import`: the canvas shows its layers, the
network computes what onnxruntime computes and trains at once; a model bpstudio cannot represent is refused in one
line and the work in progress stays as it was."""

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from tests.gui.driving import CTRL, press
from tests.gui.test_hostile_open import work_in_progress
from tests.onnx_building import ATOL, RTOL, inputs, make_model, node, ort_outputs


def classifier(path):
    """4 inputs → Gemm → BatchNormalization → Relu → Gemm → Softmax over 3 classes."""
    rng = np.random.default_rng(2)
    nodes = [
        node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], "/fc1/Gemm", transB=1),
        node("BatchNormalization", ["h", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"], ["b"], "/bn/BN"),
        node("Relu", ["b"], ["r"], "/act/Relu"),
        node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["z"], "/fc2/Gemm", transB=1),
        node("Softmax", ["z"], ["y"], "/sm/Softmax", axis=-1),
    ]
    inits = {
        "fc1.weight": rng.standard_normal((6, 4)),
        "fc1.bias": rng.standard_normal(6),
        "bn.weight": rng.uniform(0.5, 2, 6),
        "bn.bias": rng.standard_normal(6),
        "bn.running_mean": rng.standard_normal(6),
        "bn.running_var": rng.uniform(0.5, 2, 6),
        "fc2.weight": rng.standard_normal((3, 6)),
        "fc2.bias": rng.standard_normal(3),
    }
    make_model(nodes, inits, path=path)
    return path


def test_file_open_imports_an_onnx_model(qtbot, window, dialogs, tmp_path):
    path = classifier(tmp_path / "classifier.onnx")
    dialogs.open_path = str(path)
    press(qtbot, window, Qt.Key.Key_O, CTRL)  # File ▸ Open…
    assert dialogs.shown == []
    assert window.windowTitle() == "classifier — bpstudio"  # untitled: Save will ask where to write the network
    assert set(window.canvas.canvas.blocks) == {"x", "fc1", "bn", "fc2"}  # the Relu and the Softmax joined layers
    doc = window.document
    assert (doc.spec.layer("bn").activation, doc.spec.layer("fc2").activation) == ("relu", "softmax")
    X = inputs(4, n=20)
    np.testing.assert_allclose(doc.session.predict(X), ort_outputs(path, X), rtol=RTOL, atol=ATOL)
    before = path.read_bytes()
    press(qtbot, window, Qt.Key.Key_S)  # a step on the data it came with
    assert doc.session.step_count == 1 and window.windowTitle() == "classifier * — bpstudio"
    dialogs.save_path = str(tmp_path / "classifier.json")
    press(qtbot, window, Qt.Key.Key_S, CTRL)
    assert window.windowTitle() == "classifier.json — bpstudio"
    assert path.read_bytes() == before and (tmp_path / "classifier.json").exists()


def test_the_open_dialog_offers_onnx_models(qtbot, window, dialogs, monkeypatch):
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: asked.append(a) or ("", "")))
    press(qtbot, window, Qt.Key.Key_O, CTRL)
    assert "*.onnx" in asked[0][3].split(";;")[0]  # the first filter shows networks and models together


def test_a_model_bpstudio_cannot_represent_is_refused_and_the_work_stays(qtbot, window, dialogs, tmp_path):
    params, title = work_in_progress(qtbot, window)
    path = tmp_path / "cnn.onnx"
    make_model([node("Conv", ["x", "W"], ["y"], "/conv1/Conv")], {"W": np.ones((3, 4, 1, 1))}, path=path)
    dialogs.open_path = str(path)
    press(qtbot, window, Qt.Key.Key_O, CTRL)  # "Discard" the unsaved steps when asked
    assert dialogs.kinds() == ["question", "warning"]
    _, heading, text = dialogs.shown[-1]
    assert heading == "Cannot open file"
    assert text == f"'{path}': unsupported op 'Conv' (node '/conv1/Conv')"
    doc = window.document
    assert doc.session.step_count == 3 and doc.dirty and window.windowTitle() == title
    for key, value in params.items():
        np.testing.assert_array_equal(doc.params()[key], value, err_msg=key)


def test_a_model_named_on_the_command_line_opens(qtbot, window, tmp_path):
    path = classifier(tmp_path / "classifier.onnx")
    assert window.files.open_at_start(str(path))
    assert window.document.spec.output == "fc2" and window.files.recent()[0] == str(path)
