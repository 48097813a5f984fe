"""WatchedRun: a run database (docs/watch.md) read back as NumPy series aligned with the steps, loaded
incrementally while a writer adds steps, and refused in one line when it is not a run."""

import math
import sqlite3

import numpy as np
import pytest

from bpstudio.core.io import run_db
from bpstudio.core.io.run_db import RunError
from bpstudio.core.record.watched_run import Module, WatchedRun
from tests.watched_runs import RunBuilder

PARAMS = {"conv.weight": "conv", "conv.bias": "conv", "head.weight": "head", "head.bias": "head", "scale": ""}
MODULES = [("conv", "Conv2d", None), ("act", "ReLU", "dead"), ("head", "Linear", None)]


def grads(step):
    return {"conv.weight": 0.1 * step, "conv.bias": 0.3, "head.weight": 2.0 * step, "head.bias": 0.4, "scale": 5.0}


def test_series_are_aligned_with_the_steps(tmp_path):
    b = RunBuilder(tmp_path, PARAMS, MODULES, model_class="Small", update_every=2)
    b.step(1, 2.5, grads(1), activations={"act": (0.4, 0.5, 0.6, 0.25, None)})
    b.step(2, 2.0, grads(2), norms={"conv.weight": 3.0}, ratios={"conv.weight": 0.01})
    b.step(3, math.nan, {"conv.weight": 0.3})
    with WatchedRun(tmp_path) as run:
        assert run.steps.tolist() == [1, 2, 3]
        np.testing.assert_array_equal(run.losses(), [2.5, 2.0, np.nan])
        np.testing.assert_array_equal(run.grad_norms("head.weight"), [2.0, 4.0, np.nan])
        np.testing.assert_array_equal(run.param_norms("conv.weight"), [np.nan, 3.0, np.nan])
        np.testing.assert_array_equal(run.update_ratios("conv.weight"), [np.nan, 0.01, np.nan])
        np.testing.assert_array_equal(run.activation("act", "dead_fraction"), [0.25, np.nan, np.nan])
        np.testing.assert_array_equal(run.activation("act", "saturated_fraction"), [np.nan] * 3)
        np.testing.assert_array_equal(run.seconds(), [0.1, 0.2, 0.30000000000000004])
        assert run.modules == tuple(Module(*m) for m in MODULES)
        info = run.info
        assert (info.model_class, info.finished, info.every, info.update_every) == ("Small", False, 1, 2)
        assert info.parameters == tuple(PARAMS) and info.owners == tuple(PARAMS.values())


def test_layers_run_first_to_last_and_a_layer_reads_its_weight_gradient(tmp_path):
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    b.step(1, 1.0, grads(1))
    with WatchedRun(tmp_path) as run:
        assert run.layers == ("conv", "head", "")  # "" (the model's own parameter) never ran as a module
        assert run.layer_parameters("conv") == ("conv.weight", "conv.bias")
        assert run.layer_grad_norms("head").tolist() == [2.0]
        assert run.layer_grad_norms("").tolist() == [5.0]  # no weight: the norm over its parameters
        steps, layers, matrix = run.grad_matrix()
        assert steps.tolist() == [1] and layers == run.layers
        np.testing.assert_allclose(matrix, [[0.1], [2.0], [5.0]])


def test_a_layer_without_a_weight_combines_its_parameters(tmp_path):
    b = RunBuilder(tmp_path, {"norm.gain": "norm", "norm.shift": "norm"}, [("norm", "Custom", None)])
    b.step(1, 1.0, {"norm.gain": 3.0, "norm.shift": 4.0})
    with WatchedRun(tmp_path) as run:
        assert run.layer_grad_norms("norm").tolist() == [5.0]


def test_refresh_loads_only_the_new_steps_and_leaves_earlier_arrays_as_they_were(tmp_path):
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    b.step(1, 1.0, grads(1))
    run = WatchedRun(tmp_path)
    first = run.grad_norms("conv.weight")
    assert run.refresh() == 0
    for step in range(2, 80):  # past the arrays' first capacity
        b.step(step, 1.0 / step, grads(step))
    assert run.refresh() == 78
    assert run.steps.tolist() == list(range(1, 80))
    np.testing.assert_allclose(run.grad_norms("conv.weight"), 0.1 * np.arange(1, 80))
    assert first.tolist() == [pytest.approx(0.1)]
    with pytest.raises(ValueError):
        run.steps[0] = 7  # read-only: the series belong to the run
    b.step(80, 0.5, grads(80))
    b.finish()
    assert run.refresh() == 1 and run.info.finished
    run.close()


def test_a_gradient_norm_that_was_not_a_number_is_told_from_one_not_recorded(tmp_path):
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    b.step(1, 1.0, grads(1))
    b.step(2, 1.0, {"conv.weight": float("inf"), "head.weight": None})
    b.step(3, 1.0, {"conv.weight": None})
    with WatchedRun(tmp_path) as run:
        assert run.broken == {"conv.weight": (2, "inf"), "head.weight": (2, "nan")}
        assert np.isnan(run.grad_norms("conv.bias")[1])  # not recorded at step 2, and not broken
        assert "conv.bias" not in run.broken


def test_a_reader_opened_while_a_writer_writes_sees_whole_committed_steps(tmp_path):
    b = RunBuilder(tmp_path, PARAMS, MODULES)
    b.step(1, 1.0, grads(1))
    run = WatchedRun(tmp_path)
    b.conn.execute("BEGIN")  # a step being written: not yet there for readers
    b.conn.execute("INSERT INTO grad_norms VALUES (2, 'conv.weight', 9.0)")
    b.conn.execute("INSERT INTO steps VALUES (2, 1.0, 0.2)")
    assert run.refresh() == 0 and len(run) == 1
    b.conn.execute("COMMIT")
    assert run.refresh() == 1 and run.grad_norms("conv.weight").tolist() == [pytest.approx(0.1), 9.0]
    run.close()
    b.finish()


def test_bad_names_are_refused(tmp_path):
    RunBuilder(tmp_path, PARAMS, MODULES).finish()
    with WatchedRun(tmp_path) as run:
        with pytest.raises(RunError, match="no parameter 'nope' in this run"):
            run.grad_norms("nope")
        with pytest.raises(RunError, match="no watched module 'nope'"):
            run.activation("nope", "mean")
        with pytest.raises(RunError, match="no activation statistic 'median'; there are mean, std"):
            run.activation("act", "median")
        with pytest.raises(RunError, match="no layer 'act' in this run; layers: conv, head"):
            run.layer_grad_norms("act")


def test_what_is_not_a_run_is_refused_in_one_line(tmp_path):
    (tmp_path / "file.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.sqlite").write_bytes(b"not a database at all, just some bytes" * 100)
    (tmp_path / "other").mkdir()
    with sqlite3.connect(tmp_path / "other" / "run.sqlite") as conn:
        conn.execute("CREATE TABLE stuff(x)")
    (tmp_path / "starting").mkdir()
    sqlite3.connect(tmp_path / "starting" / "run.sqlite").close()  # (a Watcher creating it: no tables yet)
    (tmp_path / "starting" / "run.sqlite").write_bytes(b"")
    RunBuilder(tmp_path / "newer", PARAMS).finish()
    with sqlite3.connect(tmp_path / "newer" / "run.sqlite") as conn:
        conn.execute("UPDATE run_info SET value = '99' WHERE key = 'version'")
    cases = {
        tmp_path / "missing": "run folder '.*missing' not found",
        tmp_path / "file.txt": "is not a run folder",
        tmp_path / "empty": "holds no run.sqlite: not a run folder",
        tmp_path / "junk": "run.sqlite' is not a readable run database: file is not a database",
        tmp_path / "other": "is not a readable run database: no such table: run_info",
        tmp_path / "starting": "holds no run yet \\(no tables\\): a Watcher may be creating it; open it again",
        tmp_path / "newer": "is a run database of version '99'; this bpstudio reads 1",
    }
    for folder, message in cases.items():
        with pytest.raises(RunError, match=message) as caught:
            WatchedRun(folder)
        assert "\n" not in str(caught.value)


def test_a_run_is_never_created_over_another(tmp_path):
    RunBuilder(tmp_path, PARAMS).finish()
    with pytest.raises(RunError, match="already holds a run"):
        run_db.create(tmp_path)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(RunError, match="it is a file, not a folder"):
        run_db.create(tmp_path / "a-file")
