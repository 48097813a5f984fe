"""Kept runs: snapshots of finished runs, labelled, at most MAX_KEPT (the oldest goes), unchanged by later
training, told apart when two get the same label."""

import numpy as np

from bpstudio.core.record.history import TrainingHistory
from bpstudio.document.kept_runs import MAX_KEPT, KeptRuns, run_label


def history(steps, scale=1.0):
    h = TrainingHistory(["h1", "out"])
    for step in range(steps):
        h.record(step, scale / (step + 1), {"h1": scale * 1e-6, "out": scale * 0.1})
    return h


def test_a_kept_run_is_a_snapshot_that_later_training_does_not_touch():
    runs, seen = KeptRuns(), []
    runs.changed.connect(lambda: seen.append(len(runs.runs)))
    live = history(10)
    kept = runs.keep("sigmoid", live)
    live.record(10, 0.01, {"h1": 1.0, "out": 1.0})
    assert len(kept.history) == 10 and len(live) == 11
    np.testing.assert_array_equal(kept.history.losses(), 1.0 / np.arange(1, 11))
    assert seen == [1]


def test_labels_stay_apart_and_the_oldest_goes_first():
    runs = KeptRuns()
    for i in range(MAX_KEPT + 1):
        runs.keep("run", history(3, scale=i + 1))
    labels = [r.label for r in runs.runs]
    assert len(labels) == MAX_KEPT == len(set(labels))
    assert runs.runs[0].history.losses()[0] == 2.0  # the first kept (scale 1) went
    runs.clear()
    assert runs.runs == []


def test_an_empty_run_is_not_kept():
    runs = KeptRuns()
    assert runs.keep("nothing yet", history(0)) is None and runs.runs == []


def test_run_labels_are_short():
    assert run_label("Deep sigmoid net (10 hidden layers): gradients vanish", 3000) == "Deep sigmoid net · 3000 steps"
    assert run_label("XOR 2-4-1", 1) == "XOR 2-4-1 · 1 step"
    assert run_label("", 5) == "untitled · 5 steps"
