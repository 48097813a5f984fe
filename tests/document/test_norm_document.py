"""A batchnorm layer's running statistics in the open document: moved by every step, and carried back and forth
by undo and redo, Reset, the timeline (going back to step k shows the statistics after step k and the batch's of
that step), a saved session opened again (it predicts what the saved one did) and edits of the layer's settings;
and a dropout layer's p or a norm layer's eps edited in the app takes effect in the next step."""

import numpy as np
import pytest

from bpstudio.core.edit import topology as edit
from bpstudio.core.edit.layer_fields import update_layer
from bpstudio.core.session import Session
from bpstudio.document import Document


@pytest.fixture
def doc():
    d = Document()
    d.load_preset("xor")
    return d


def add_after_h(doc, kind):
    assert doc.edit(f"Add {kind}", lambda s: edit.add_layer(s, kind, source="h", before="y")[0])
    return next(layer.id for layer in doc.spec.layers if layer.type == kind)


def stats(doc, bn):
    running = doc.running()
    return running[f"{bn}.running_mean"], running[f"{bn}.running_var"]


def test_steps_move_the_running_statistics_and_undo_redo_and_reset_bring_each_state_back(doc):
    bn = add_after_h(doc, "batchnorm")
    assert [a.tolist() for a in stats(doc, bn)] == [[0.0] * 4, [1.0] * 4]  # torch's start
    edited = doc.params()["y.weight"].copy()
    after = []
    for _ in range(3):
        doc.full_step()
        after.append(stats(doc, bn))
    # each step moved them by momentum 0.1 towards the batch's mean and unbiased variance
    h = np.asarray(doc.trace.layers["h"].out)
    expected_mean = 0.9 * after[1][0] + 0.1 * h.mean(axis=0)
    np.testing.assert_allclose(after[2][0], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(after[2][1], 0.9 * after[1][1] + 0.1 * h.var(axis=0, ddof=1), rtol=1e-12)
    doc.undo_stack.undo()  # ("Train 3 steps": the steps merged into one entry)
    assert [a.tolist() for a in stats(doc, bn)] == [[0.0] * 4, [1.0] * 4]
    doc.undo_stack.redo()
    np.testing.assert_array_equal(stats(doc, bn)[1], after[2][1])
    assert doc.rewind.go_to(2)  # (a step between: the timeline's)
    np.testing.assert_array_equal(stats(doc, bn)[0], after[1][0])
    doc.undo_stack.undo()  # (undoing the Go to)
    np.testing.assert_array_equal(stats(doc, bn)[0], after[2][0])
    doc.reset_training()  # back to the state of the last edit (a jump undone is none): the layer as added
    assert [a.tolist() for a in stats(doc, bn)] == [[0.0] * 4, [1.0] * 4]
    np.testing.assert_array_equal(doc.params()["y.weight"], edited)
    doc.undo_stack.undo()  # (undoing Reset)
    np.testing.assert_array_equal(stats(doc, bn)[0], after[2][0])
    doc.undo_stack.undo()
    doc.undo_stack.undo()  # the steps, then the insertion
    assert bn not in doc.spec.widths and doc.running() == {}


def test_the_timeline_shows_a_steps_running_statistics_and_its_batch_statistics(doc):
    bn = add_after_h(doc, "batchnorm")
    seen = []
    for _ in range(5):
        doc.full_step()
        seen.append((stats(doc, bn), {k: np.array(v) for k, v in doc.trace.layers[bn].stats.items()}))
    assert doc.rewind.go_to(3)
    (mean, var), batch = seen[2]
    np.testing.assert_array_equal(stats(doc, bn)[0], mean)
    np.testing.assert_array_equal(stats(doc, bn)[1], var)
    assert doc.trace is not None and doc.trace.step == 3
    np.testing.assert_array_equal(doc.trace.layers[bn].stats["mean"], batch["mean"])
    np.testing.assert_array_equal(doc.trace.layers[bn].stats["var"], batch["var"])


def test_a_saved_session_opened_again_predicts_what_the_saved_one_did(doc, tmp_path):
    bn = add_after_h(doc, "batchnorm")
    for _ in range(6):
        doc.full_step()
    path = tmp_path / "bn.json"
    doc.save(str(path))
    X = doc.train_data.X
    before = doc.session.predict(X)  # evaluation: the running statistics
    assert not np.allclose(before, doc.session.predict(X, mode="train"))  # (they differ from the batch's)
    opened = Document()
    opened.open_file(str(path))
    for a, b in zip(stats(opened, bn), stats(doc, bn)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(opened.session.predict(X), before)
    doc.full_step()
    opened.full_step()  # and both go on alike
    np.testing.assert_array_equal(stats(opened, bn)[1], stats(doc, bn)[1])


def test_editing_eps_keeps_the_running_statistics_and_the_next_step_uses_the_new_eps(doc):
    bn = add_after_h(doc, "batchnorm")
    for _ in range(2):
        doc.full_step()
    kept = stats(doc, bn)
    assert doc.edit("eps", lambda s: update_layer(s, bn, eps=0.5))
    np.testing.assert_array_equal(stats(doc, bn)[0], kept[0])
    state = doc.snapshot()
    doc.full_step()
    reference = Session.from_state(state, doc.train_data, batch_size=doc.session.batch_size).step()
    np.testing.assert_allclose(doc.trace.layers[bn].out, np.asarray(reference.layers[bn].out), rtol=1e-12)
    h = np.asarray(doc.trace.layers["h"].out)
    xhat = (h - h.mean(axis=0)) / np.sqrt(h.var(axis=0) + 0.5)  # γ = 1, β = 0 so far: out is x̂ with ε = 0.5
    gamma, beta = (np.asarray(doc.trace.params_before[f"{bn}.{n}"]) for n in ("weight", "bias"))
    np.testing.assert_allclose(doc.trace.layers[bn].out, gamma * xhat + beta, rtol=1e-9)


def test_a_dropout_layers_new_p_takes_effect_in_the_next_step(doc):
    drop = add_after_h(doc, "dropout")
    assert doc.edit("p", lambda s: update_layer(s, drop, p=0.25))
    doc.full_step()
    h, out = (np.asarray(doc.trace.layers[i].out) for i in ("h", drop))
    mask = np.asarray(doc.trace.masks[f"{drop}.mask"])
    np.testing.assert_allclose(out, h * mask / 0.75, rtol=1e-12)  # kept units scaled by 1/(1 − 0.25), not 2
