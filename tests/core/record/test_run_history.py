"""RunHistory: a watched run fed into the bounded TrainingHistory the app's plots draw, only the new steps on each
refresh."""

import math

import numpy as np

from bpstudio.core.record.run_history import MODEL_LAYER, RunHistory
from bpstudio.core.record.watched_run import WatchedRun
from tests.watched_runs import RunBuilder

PARAMS = {"conv.weight": "conv", "conv.bias": "conv", "head.weight": "head", "scale": ""}
MODULES = [("conv", "Conv2d", None), ("act", "ReLU", "dead"), ("head", "Linear", None)]


def grads(step):
    return {"conv.weight": 0.1 * step, "conv.bias": 0.3, "head.weight": 2.0 * step, "scale": 5.0}


def test_the_history_holds_the_runs_loss_and_layer_norms(tmp_path):
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    for step in range(1, 6):
        b.step(step, 1.0 / step, grads(step))
    fed = RunHistory(tmp_path)
    history = fed.history
    assert history.layer_ids == ("conv", "head", MODEL_LAYER)
    assert history.steps().tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(history.losses(), [1.0 / s for s in range(1, 6)])
    np.testing.assert_allclose(history.grad_norms("conv"), [0.1 * s for s in range(1, 6)])
    np.testing.assert_allclose(history.grad_norms(MODEL_LAYER), [5.0] * 5)
    conv = [0.1 * s for s in range(1, 6)]  # (the ratio takes each layer's geometric mean over the last steps)
    assert math.isclose(history.first_last_ratio(), math.prod(conv) ** (1 / 5) / 5.0)
    fed.close()


def test_refresh_records_only_the_new_steps(tmp_path, monkeypatch):
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    b.step(1, 1.0, grads(1))
    fed = RunHistory(tmp_path)
    recorded = []
    original = fed.history.record
    monkeypatch.setattr(fed.history, "record", lambda step, *a, **k: (recorded.append(step), original(step, *a, **k)))
    assert fed.refresh() == 0 and recorded == []
    for step in (2, 3, 4):
        b.step(step, 1.0, grads(step))
    assert fed.refresh() == 3
    assert recorded == [2, 3, 4]
    with WatchedRun(tmp_path) as run:
        np.testing.assert_allclose(fed.history.grad_norms("head"), run.layer_grad_norms("head"))
    b.finish()
    assert fed.refresh() == 0 and fed.finished
    fed.close()


def test_a_run_opened_before_its_first_step_follows_the_order_its_layers_ran_in(tmp_path):
    b = RunBuilder(tmp_path, {"b.weight": "b", "a.weight": "a"})  # the model lists b first, a runs first
    fed = RunHistory(tmp_path)
    assert fed.layer_ids == ("b", "a") and len(fed.history) == 0
    with b.conn:
        b.conn.executemany(
            "INSERT INTO modules VALUES (?, ?, ?, ?)", [(0, "a", "Linear", None), (1, "b", "Linear", None)]
        )
    b.step(1, 0.5, {"a.weight": 3.0, "b.weight": 4.0})
    fed.refresh()
    assert fed.layer_ids == ("a", "b")
    assert fed.history.grad_norms("a").tolist() == [3.0] and fed.history.steps().tolist() == [1]
    fed.close()


def test_a_long_run_is_read_in_parts_that_add_up_to_the_whole(tmp_path):
    """Each read takes in about ``read_rows`` rows (here 10 rows: 1 step row + 4 gradient rows + 3 modules → 1
    step per 8 rows); the parts, read on until caught up, give the history a single read gives."""
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    for step in range(1, 8):
        b.step(step, 1.0 / step, grads(step))
    b.finish()
    whole = RunHistory(tmp_path)
    assert whole.caught_up and whole.finished and len(whole.history.steps()) == 7
    parts = RunHistory(tmp_path, read_rows=17)  # 17 // 8 = 2 steps per read
    reads = [len(parts.history.steps())]
    while not parts.caught_up:
        assert not parts.finished  # (the run ended, but not all of it is read yet)
        reads.append(parts.refresh())
    assert reads == [2, 2, 2, 1] and parts.finished and parts.refresh() == 0
    for series in ("steps", "losses"):
        np.testing.assert_array_equal(getattr(parts.history, series)(), getattr(whole.history, series)())
    for layer in whole.history.layer_ids:
        np.testing.assert_array_equal(parts.history.grad_norms(layer), whole.history.grad_norms(layer))
    whole.close()
    parts.close()
