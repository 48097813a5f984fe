"""The open document without Qt: edits, training entries that merge, undo, settings and rewind."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bpstudio.core.edit import topology as edit
from bpstudio.document import Document
from bpstudio.document.rewind import TRAINING_BYTES_PER_REPORT
from tests.helpers import wide_net_file


@pytest.fixture
def doc():
    d = Document()
    d.load_preset("xor")
    return d


def events(doc, *names):
    seen = []
    for name in names:
        getattr(doc, name).connect(lambda *args, name=name: seen.append(name))
    return seen


def test_the_document_package_imports_without_qt_pyqtgraph_or_torch():
    code = textwrap.dedent("""
        import sys
        for blocked in ("PySide6", "pyqtgraph", "torch"):
            sys.modules[blocked] = None   # any import of these now fails
        from bpstudio.document import Document
        d = Document()
        d.full_step()
        d.undo_stack.undo()
        print(d.session.step_count, d.undo_stack.count())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "1"]


def test_steps_merge_into_one_entry_and_undo_takes_them_back_with_their_plot_points(doc):
    start = doc.params()
    seen = events(doc, "params_changed", "step_changed")
    for _ in range(3):
        doc.full_step()
    stack = doc.undo_stack
    assert (stack.count(), stack.text(0), doc.session.step_count, len(doc.history)) == (1, "Train 3 steps", 3, 3)
    assert seen.count("params_changed") == 3 and seen.count("step_changed") == 3
    stack.undo()
    assert doc.session.step_count == 0 and len(doc.history) == 0
    for key, value in start.items():
        np.testing.assert_array_equal(doc.params()[key], value)
    stack.redo()
    assert doc.session.step_count == 3 and doc.dirty


def test_a_refused_edit_changes_nothing_and_says_why(doc):
    messages = []
    doc.refused.connect(messages.append)
    before = doc.spec
    assert not doc.edit("Remove the input", lambda spec: edit.remove_layers(spec, [spec.input_id]))
    assert doc.spec == before and doc.undo_stack.count() == 0 and len(messages) == 1 and messages[0]


def test_a_setting_is_carried_out_then_recorded_and_undone(doc):
    lr = doc.spec.optimizer.lr
    doc.set_optimizer(doc.spec.optimizer.__class__(doc.spec.optimizer.name, lr=lr / 2))
    assert doc.session.spec.optimizer.lr == lr / 2 and doc.undo_stack.text(0).startswith("Set optimizer settings")
    doc.undo_stack.undo()
    assert doc.session.spec.optimizer.lr == lr


def test_going_back_in_the_timeline_is_one_undoable_entry_with_the_steps_values(doc):
    for _ in range(4):
        doc.full_step()
    after_four = doc.params()
    assert doc.rewind.go_to(2)
    assert doc.session.step_count == 2 and doc.trace is not None and doc.trace.step == 2
    assert doc.undo_stack.text(doc.undo_stack.index() - 1) == "Go to step 2"
    doc.undo_stack.undo()
    assert doc.session.step_count == 4
    for key, value in after_four.items():
        np.testing.assert_array_equal(doc.params()[key], value)


def test_saving_marks_the_document_clean(doc, tmp_path):
    changed = events(doc, "file_changed")
    doc.full_step()
    assert doc.dirty and changed
    doc.save(str(tmp_path / "run.json"))
    assert not doc.dirty and doc.path.endswith("run.json")


def test_an_example_opens_with_the_batch_size_its_file_gives():
    from bpstudio.core.io import presets

    d = Document()
    for name in presets.names():
        d.load_preset(name)
        assert d.session.batch_size == presets.load(name).batch_size, name


def test_a_new_network_is_an_input_and_an_output_layer_on_the_xor_data(doc):
    doc.edit("add", lambda s: edit.add_layer(s, "dense")[0])
    doc.new_network()
    spec = doc.spec
    assert [(layer.id, layer.type, spec.widths[layer.id]) for layer in spec.layers] == [
        ("x", "input", 2),
        ("y", "dense", 1),
    ]
    assert spec.layer("y").inputs == ("x",) and spec.output == "y" and spec.loss == "bce"
    assert doc.train_data.X.shape[1] == 2 and doc.undo_stack.count() == 0 and not doc.dirty and doc.path is None


def test_the_input_layer_takes_the_width_of_the_data_chosen_and_undo_gives_both_back(doc):
    refused = []
    doc.refused.connect(refused.append)
    assert not doc.use_data({"builtin": "sine", "n": 50}, "sine")  # bce on regression targets: said why
    assert "use the mse loss" in refused[-1] and doc.spec.data["builtin"] == "xor"
    doc.set_loss("mse")
    assert doc.use_data({"builtin": "sine", "n": 50}, "sine")
    assert doc.spec.widths["x"] == 1 and doc.train_data.X.shape == (50, 1)
    assert doc.params()["h.weight"].shape == (4, 1)  # (h's weights drawn again for one input)
    doc.undo_stack.undo()
    assert doc.spec.data["builtin"] == "xor" and doc.spec.widths["x"] == 2 and doc.params()["h.weight"].shape == (4, 2)


def count_states(doc):
    """Count the run states the document's session captures (each copies every weight and buffer)."""
    taken, real = [], doc.session.state
    doc.session.state = lambda: taken.append(1) or real()
    return taken


@pytest.mark.parametrize("wide", [False, True])
def test_while_training_the_timeline_keeps_states_at_a_rate_its_size_allows(doc, tmp_path, wide):
    if wide:  # 2-300-300-1 with Adam: 2.2 MB a state, once the optimizer has its buffers
        doc.open_file(wide_net_file(tmp_path))
    doc.full_step()
    size = doc.snapshot().nbytes
    every = math.ceil(size / TRAINING_BYTES_PER_REPORT)  # reports that earn one state
    assert every == (3 if wide else 1)
    taken = count_states(doc)
    kept = [doc.rewind.record_while_training() for _ in range(30)]  # thirty reports
    assert len(taken) == kept.count(True) == 30 // every
    assert kept[every - 1] and not any(kept[: every - 1])  # the first once its size was earned
