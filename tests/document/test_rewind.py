"""The timeline in the document, without Qt: going back to a kept step shows its values, training on branches from
there, each branch keeps its own plots, and undo/redo bring back exactly the plots they took away."""

import numpy as np
import pytest

from bpstudio.core.errors import SessionError
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from bpstudio.document import Document


@pytest.fixture
def doc():
    d = Document()
    d.load_preset("xor")
    return d


def train(doc, steps, report_every=50):
    """Train as the window's worker does: every step into the plot history, a state kept at its reports."""
    doc.set_training(True)
    for done in range(1, steps + 1):
        with doc.lock:
            trace = doc.session.step()
        doc.record_step(trace)
        if done % report_every == 0:
            doc.rewind.record_while_training()
    doc.set_training(False)


def reference_traces(steps):
    """xor trained headless from the start: the trace of every step, first to last."""
    spec = presets.load("xor")
    doc = Document()  # (the data the example opens with)
    session = Session(spec, doc.train_data, batch_size=doc.session.batch_size)
    return [session.step().to_numpy() for _ in range(steps)]


def plotted(doc):
    """What the loss plot draws: (steps, losses)."""
    return doc.history.steps().tolist(), doc.history.losses().tolist()


def test_going_back_to_a_step_kept_while_training_shows_that_steps_values(doc):
    train(doc, 400)
    kept = doc.rewind.timeline.steps()
    assert 149 not in kept and 150 in kept  # (while training only some states are kept)
    assert doc.rewind.go_to(150)
    reference = reference_traces(150)[-1]
    assert doc.session.step_count == 150 and doc.trace is not None and doc.trace.step == 150
    assert doc.trace.loss == reference.loss
    for layer_id, layer in reference.layers.items():
        np.testing.assert_array_equal(doc.trace.layers[layer_id].out, layer.out)
        np.testing.assert_array_equal(doc.trace.layers[layer_id].grads["weight"], layer.grads["weight"])
    np.testing.assert_array_equal(doc.params()["y.weight"], reference.params_after["y.weight"])
    assert plotted(doc)[0][-1] == 150 and len(doc.history) == 150


def test_training_on_from_a_step_branches_from_that_step(doc):
    train(doc, 400)
    doc.rewind.go_to(150)
    train(doc, 300)  # the first state kept after it is step 200's
    timeline = doc.rewind.timeline
    branch = timeline.branches[timeline.current]
    assert (branch.parent, branch.fork_step) == (0, 150)
    assert timeline.steps()[-1] == 450 and timeline.steps(0)[-1] == 400


def test_training_on_after_undo_branches_from_where_undo_went(doc):
    train(doc, 200)
    for _ in range(3):
        doc.full_step()  # merged with the run into one entry: "Train 203 steps"
    doc.undo_stack.undo()  # back to step 0
    train(doc, 120)  # states kept at 50, 100, 120: a new continuation, not more of the old one
    timeline = doc.rewind.timeline
    assert timeline.current == 1 and timeline.branches[1].fork_step == 0 and timeline.steps(0)[-1] == 203
    assert timeline.steps() == [0, 50, 100, 120]


def test_undo_and_redo_across_a_branch_bring_back_exactly_the_plots_they_took(doc):
    train(doc, 400)
    first_run = plotted(doc)
    doc.rewind.go_to(150)
    train(doc, 300)
    branched = plotted(doc)
    assert branched[0][-1] == 450 and len(doc.history) == 450
    stack = doc.undo_stack
    seen = []
    for _ in range(3):
        stack.undo()
        seen.append((doc.session.step_count, plotted(doc)))
    assert [s for s, _ in seen] == [150, 400, 0]
    assert seen[1][1] == first_run and seen[0][1][0][-1] == 150 and seen[2][1] == ([], [])
    for _ in range(3):
        stack.redo()
    assert doc.session.step_count == 450 and plotted(doc) == branched and len(doc.history) == 450
    train(doc, 10)  # and the curve goes on from there, with no jump
    steps = plotted(doc)[0]
    assert steps[-11:] == list(range(450, 461))


def test_switching_branches_shows_each_branchs_own_plots_and_gradient_ratio(doc):
    train(doc, 400)
    first_run, first_ratio = plotted(doc), doc.history.first_last_ratio()
    doc.rewind.go_to(150)
    train(doc, 300)
    branched, branched_ratio = plotted(doc), doc.history.first_last_ratio()
    assert doc.rewind.switch(0)
    assert doc.session.step_count == 400 and plotted(doc) == first_run
    assert doc.history.first_last_ratio() == first_ratio
    assert doc.rewind.switch(1)
    assert doc.session.step_count == 450 and plotted(doc) == branched
    assert doc.history.first_last_ratio() == branched_ratio
    doc.undo_stack.undo()  # "Switch to branch 1" is undoable, branch and plots included
    assert doc.rewind.timeline.current == 0 and plotted(doc) == first_run


def test_a_branch_is_discarded_without_switching_to_it_and_its_plots_go_with_it(doc):
    train(doc, 200)
    doc.rewind.go_to(100)
    train(doc, 100)
    timeline = doc.rewind.timeline
    assert timeline.current == 1 and doc.rewind.discard(0) is False  # branch 0 leads to the one in use
    doc.rewind.go_to(150)
    train(doc, 100)  # branch 2, from step 150 of branch 1
    assert timeline.current == 2 and doc.rewind.discard(1) is False
    doc.rewind.switch(1)
    assert doc.rewind.discard(2) and set(timeline.branches) == {0, 1} and timeline.current == 1
    assert doc.session.step_count == 200
    with pytest.raises(SessionError):
        timeline.steps(2)


def test_a_step_too_far_from_the_kept_one_before_it_shows_its_weights_and_says_why(doc, monkeypatch):
    monkeypatch.setattr("bpstudio.document.rewind.replay_limit", lambda spec: 20)  # (a big network's limit)
    said = []
    doc.refused.connect(said.append)
    train(doc, 200)
    assert doc.rewind.go_to(150) and doc.session.step_count == 150 and doc.trace is None
    np.testing.assert_array_equal(doc.params()["y.weight"], reference_traces(150)[-1].params_after["y.weight"])
    assert said == [
        "step 150's weights are shown without its values: the nearest kept step before it is 100, 50 steps back "
        "(at most 20 are run again)"
    ]
