"""Export and import from the main window: PyTorch script, state_dict weights, step trace, metrics.

The window is driven as a person would (its actions, the stood-in file dialogs); what is checked is what
they would find: the files written (the script run, its numbers against the engine's), the weights in
the window, the undo history, the warning shown and the status bar line.
"""

import csv

import numpy as np
import pytest

from bpstudio.core.session import Session
from bpstudio.gui.tools.export_dialogs import (
    export_metrics_csv,
    export_torch_script,
    export_trace_npz,
    import_state_dict,
)
from tests.gui.driving import history_texts, open_example, set_batch_size, settle
from tests.helpers import needs_torch, optional_torch, run_script

torch = optional_torch()


def step(qtbot, window, times=1):
    for _ in range(times):
        window.window_actions.step.trigger()
    settle(qtbot)


@needs_torch
def test_the_exported_script_starts_from_the_windows_current_weights(qtbot, window, dialogs, tmp_path):
    set_batch_size(qtbot, window, 16)
    step(qtbot, window, 3)
    doc = window.document
    dialogs.save_path = str(tmp_path / "trained")  # no suffix typed: .py is added
    written = export_torch_script(window)
    assert written == [tmp_path / "trained.py"]
    assert "Exported trained.py" in window.statusBar().currentMessage() and dialogs.shown == []

    namespace = run_script(written[0], "--check", tmp_path / "out.npz")
    assert namespace["BATCH_SIZE"] == 16
    reference = Session(doc.spec, doc.train_data, params=doc.params())  # the engine, full batch
    trace = reference.forward_backward()
    with np.load(tmp_path / "out.npz") as result:
        np.testing.assert_allclose(result["output"], trace.layers[doc.spec.output].out, rtol=1e-10, atol=1e-12)
        assert float(result["loss"]) == pytest.approx(trace.loss, rel=1e-10)
        for key, grad in reference.gradients().items():
            np.testing.assert_allclose(result[f"grad/{key}"], grad, rtol=1e-10, atol=1e-12)


def test_cancelling_a_file_dialog_does_nothing(window, dialogs, tmp_path):
    dialogs.save_path = dialogs.open_path = ""
    assert export_torch_script(window) is None
    assert import_state_dict(window) is False
    assert dialogs.shown == [] and list(tmp_path.iterdir()) == []


@needs_torch
def test_imported_weights_are_one_undoable_edit(qtbot, window, dialogs, tmp_path):
    open_example(qtbot, window, "mazur")
    doc = window.document
    before = {k: v.copy() for k, v in doc.params().items()}
    new = {
        "h.weight": [[0.1, -0.2], [0.3, 0.4]],
        "h.bias": [0.5, 0.5],
        "o.weight": [[-0.6, 0.7], [0.8, 0.9]],
        "o.bias": [1.0, -1.0],
    }
    torch.save({k: torch.tensor(v, dtype=torch.float32) for k, v in new.items()}, tmp_path / "w.pt")
    dialogs.open_path = str(tmp_path / "w.pt")
    assert import_state_dict(window)
    settle(qtbot)
    for key, value in new.items():
        np.testing.assert_array_equal(doc.params()[key], np.array(value, dtype=np.float32).astype(np.float64))
    assert history_texts(window)[-1] == "Import weights from w.pt"
    assert "Imported 4 parameters from w.pt" in window.statusBar().currentMessage()
    step(qtbot, window)  # the forward pass uses them: out_h1 = σ(0.1·0.05 − 0.2·0.1 + 0.5)
    assert doc.trace.layers["h"].out[0, 0] == pytest.approx(
        1 / (1 + np.exp(-np.float32(0.1) * 0.05 + np.float32(0.2) * 0.1 - 0.5))
    )
    window.window_actions.undo.trigger()
    window.window_actions.undo.trigger()
    settle(qtbot)
    for key, value in before.items():
        np.testing.assert_array_equal(doc.params()[key], value)


@needs_torch
def test_weights_that_do_not_fit_are_refused_with_the_reason(qtbot, window, dialogs, tmp_path):
    doc = window.document  # the XOR example: h is 4×2, y is 1×4
    before = {k: v.copy() for k, v in doc.params().items()}
    entries = len(history_texts(window))
    torch.save(
        {"h.weight": torch.zeros(3, 2), "h.bias": torch.zeros(4), "y.weight": torch.zeros(1, 4)}, tmp_path / "w.pt"
    )
    dialogs.open_path = str(tmp_path / "w.pt")
    assert not import_state_dict(window)
    ((kind, title, text),) = dialogs.shown
    assert (kind, title) == ("warning", "Import weights")
    assert "'h.weight' has shape 3×2 but 'h.weight' needs 4×2" in text and "missing key 'y.bias'" in text
    assert len(history_texts(window)) == entries
    for key, value in before.items():
        np.testing.assert_array_equal(doc.params()[key], value)

    (tmp_path / "junk.pt").write_text("not torch")
    dialogs.open_path = str(tmp_path / "junk.pt")
    assert not import_state_dict(window)
    assert "cannot read" in dialogs.shown[-1][2]


def test_the_step_trace_and_the_metrics_go_to_files(qtbot, window, dialogs, tmp_path):
    assert not export_trace_npz(window) and not export_metrics_csv(window)
    assert [text.split(":")[0] for _, _, text in dialogs.shown] == ["No step to export yet", "No training metrics yet"]
    step(qtbot, window, 3)
    doc = window.document
    dialogs.save_path = str(tmp_path / "trace.npz")
    assert export_trace_npz(window)
    with np.load(tmp_path / "trace.npz") as saved:
        assert int(saved["step"]) == 3 and float(saved["loss"]) == doc.trace.loss
        np.testing.assert_array_equal(saved["h/grad/weight"], doc.trace.layers["h"].grads["weight"])
        np.testing.assert_array_equal(saved["y/out"], doc.trace.layers["y"].out)
    dialogs.save_path = str(tmp_path / "metrics.csv")
    assert export_metrics_csv(window)
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv", encoding="utf-8")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]  # (the numbers the timeline and status bar give)
    np.testing.assert_array_equal([float(r["train_loss"]) for r in rows], doc.history.losses())
    np.testing.assert_array_equal([float(r["grad_norm/h"]) for r in rows], doc.history.grad_norms("h"))
    assert "Exported 3 steps of metrics to metrics.csv" in window.statusBar().currentMessage()

    dialogs.save_path = str(tmp_path / "missing" / "m.csv")
    assert not export_metrics_csv(window)
    assert "does not exist" in dialogs.shown[-1][2]
