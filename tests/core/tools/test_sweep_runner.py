"""The vanishing-gradient sweep runner: networks like the presets, numbers against plain torch autograd,
the expected physics, aggregation and CSV, progress and cancel, and the local-pool and Dask paths."""

import concurrent.futures as cf
import csv
import io
import math
import threading

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split, sine, xor
from bpstudio.core.errors import BpstudioError
from bpstudio.core.init import initial_params
from bpstudio.core.io import presets
from bpstudio.core.tools import sweep
from bpstudio.core.tools.sweep import Config, SweepCell, SweepGrid, build_spec, parse_setting, run_cell, run_sweep

TINY = dict(
    depths=(1, 3),
    activations=("sigmoid",),
    inits=("xavier_uniform",),
    residual=(False, True),
    seeds=(0, 1),
    steps=3,
    data="xor:n=24",
)


def serial():
    return cf.ThreadPoolExecutor(max_workers=1)


# --- the networks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "preset, config",
    [
        ("deep_sigmoid", Config(10, "sigmoid", "xavier_uniform", False)),
        ("deep_sigmoid_residual", Config(10, "sigmoid", "xavier_uniform", True)),
        ("deep_relu_he", Config(10, "relu", "he_normal", False)),
    ],
)
def test_a_grid_point_is_the_preset_network(preset, config):
    expected = presets.load(preset)
    data = resolve_split(dict(expected.data))[0]
    built = build_spec(config, data, expected.seed)

    def shape(spec):
        return [(x.id, x.type, x.inputs, x.units, x.activation, x.weight_init.name) for x in spec.layers]

    assert shape(built) == shape(expected)
    assert (built.output, built.loss) == (expected.output, expected.loss)
    ours, theirs = initial_params(built), initial_params(expected)
    assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in ours)


def test_the_output_layer_fits_the_data():
    three = Dataset(np.zeros((6, 2)), np.array([0, 1, 2, 0, 1, 2]))
    spec = build_spec(Config(2, "tanh", "he_normal", False, (("units", 5),)), three, 0)
    assert (spec.widths["h2"], spec.widths["out"], spec.loss) == (5, 3, "cross_entropy")
    regression = Dataset(np.zeros((4, 3)), np.zeros((4, 2)))
    spec = build_spec(Config(1, "relu", "he_normal", False), regression, 0)
    assert (spec.widths["x"], spec.widths["out"], spec.loss, spec.layer("out").activation) == (3, 2, "mse", "identity")


# --- one run against plain torch ---------------------------------------------------------------------------


def torch_reference(spec, data, steps):
    """Full-batch SGD on the same weights, written directly in torch: per step (‖∇W_h1‖, ‖∇W_out‖), the loss
    at the first step and the loss after the last update."""
    torch = pytest.importorskip("torch")
    params = {k: torch.tensor(v, requires_grad=True) for k, v in initial_params(spec).items()}
    x = torch.tensor(data.X)
    t = torch.tensor(data.Y, dtype=torch.float64).reshape(-1, 1)
    act = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}[spec.layer("h1").activation]

    def loss_of():
        values = {"x": x}
        for lid in spec.order[1:]:
            layer = spec.layer(lid)
            if layer.type == "add":
                values[lid] = sum(values[i] for i in layer.inputs)
            else:
                z = values[layer.inputs[0]] @ params[f"{lid}.weight"].T + params[f"{lid}.bias"]
                values[lid] = torch.sigmoid(z) if lid == "out" else act(z)
        return torch.nn.functional.binary_cross_entropy(values["out"], t)

    norms, losses = [], []
    for _ in range(steps):
        loss = loss_of()
        grads = torch.autograd.grad(loss, list(params.values()))
        by_key = dict(zip(params, grads))
        norms.append((float(by_key["h1.weight"].norm()), float(by_key["out.weight"].norm())))
        losses.append(float(loss.detach()))
        with torch.no_grad():
            for k in params:
                params[k] -= spec.optimizer.lr * by_key[k]
    with torch.no_grad():
        final = float(loss_of())
    return norms, losses[0], final


@pytest.mark.parametrize(
    "config",
    [
        Config(3, "sigmoid", "xavier_uniform", True, (("lr", 0.5),)),
        Config(2, "relu", "he_normal", False, (("units", 5),)),
    ],
)
def test_a_run_measures_what_torch_autograd_gives(config):
    data = xor(n=40, seed=1)
    result = run_cell(SweepCell(config, 7, 6, data))
    norms, loss_start, final = torch_reference(build_spec(config, data, 7), data, 6)
    firsts, lasts = np.array(norms).T
    assert result.steps_done == 6 and result.seed == 7 and result.config == config
    np.testing.assert_allclose([result.grad_first_start, result.grad_last_start], norms[0], rtol=1e-10)
    np.testing.assert_allclose(
        [result.grad_first_mean, result.grad_last_mean], [firsts.mean(), lasts.mean()], rtol=1e-10
    )
    np.testing.assert_allclose([result.loss_start, result.final_loss], [loss_start, final], rtol=1e-10)
    assert result.ratio == pytest.approx(norms[0][0] / norms[0][1], rel=1e-10)


def test_a_diverging_run_stops_and_says_so():
    config = Config(2, "relu", "he_normal", False, (("lr", 1e3),))
    result = run_cell(SweepCell(config, 0, 20, sine(n=40)))  # (mse on regression targets overflows; bce clamps)
    assert 1 <= result.steps_done < 20
    assert math.isnan(result.final_loss) and math.isfinite(result.grad_first_start)


# --- the physics ------------------------------------------------------------------------------------------


def test_sigmoid_gradients_vanish_with_depth_relu_he_and_residual_keep_them():
    grid = SweepGrid(
        depths=(2, 6, 10),
        activations=("sigmoid", "relu"),
        inits=("xavier_uniform", "he_normal"),
        residual=(False, True),
        seeds=(0, 1),
        steps=1,
        data="circles:n=100",
    )
    curves = {s.label: np.array(s.mean) for s in run_sweep(grid, serial()).series()}
    plain = curves["sigmoid, xavier_uniform, plain"]
    per_layer = (plain[-1] / plain[0]) ** (1 / 8)  # sigmoid' ≤ 1/4: about that factor per extra layer
    assert 0.1 < per_layer < 0.35
    assert curves["sigmoid, xavier_uniform, residual"][-1] > 1e3 * plain[-1]
    relu = curves["relu, he_normal, plain"]
    assert 0.1 < relu[-1] / relu[0] < 10


# --- the sweep ------------------------------------------------------------------------------------------------


def test_progress_results_aggregates_and_csv():
    calls = []
    result = run_sweep(
        SweepGrid(**TINY, settings={"lr": (0.1, 0.5), "units": 4}),
        serial(),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(k, 16) for k in range(1, 17)]
    assert (result.done, result.total, result.cancelled) == (16, 16, False)
    assert [(r.config.depth, r.config.residual, r.seed) for r in result.results[:4]] == [
        (1, False, 0),
        (1, False, 1),
        (3, False, 0),
        (3, False, 1),
    ]
    assert all(r.config.settings[1] == ("units", 4) for r in result.results)
    rows = list(csv.DictReader(io.StringIO(result.to_csv())))
    runs, means = [r for r in rows if r["row"] == "run"], [r for r in rows if r["row"] == "mean"]
    assert len(runs) == 16 and len(means) == 8
    first = next(m for m in means if (m["depth"], m["residual"], m["lr"]) == ("3", "on", "0.5"))
    values = [float(r["grad_first_start"]) for r in runs if (r["depth"], r["residual"], r["lr"]) == ("3", "on", "0.5")]
    assert len(values) == 2 and first["seeds"] == "2" and first["units"] == "4"
    assert float(first["grad_first_start"]) == pytest.approx(np.mean(values), rel=1e-12)
    assert float(first["grad_first_start_std"]) == pytest.approx(np.std(values), rel=1e-12)
    assert float(first["grad_first_start_max"]) == max(values)
    series = result.series()
    assert [s.label for s in series] == [
        "sigmoid, xavier_uniform, plain, lr=0.1",
        "sigmoid, xavier_uniform, plain, lr=0.5",
        "sigmoid, xavier_uniform, residual, lr=0.1",
        "sigmoid, xavier_uniform, residual, lr=0.5",
    ]
    assert all(s.depths == (1, 3) and all(lo <= m <= hi for lo, m, hi in zip(s.low, s.mean, s.high)) for s in series)


class ScriptedExecutor(cf.Executor):
    """An executor whose schedule the test sets: the first submission runs at once, the second is started
    and finishes only when :meth:`finish_running` is called, the rest wait in the queue (not started)."""

    def __init__(self):
        self.submitted: list[tuple[cf.Future, object, tuple]] = []

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        self.submitted.append((future, fn, args))
        if len(self.submitted) == 1:
            future.set_running_or_notify_cancel()
            future.set_result(fn(*args))
        elif len(self.submitted) == 2:
            future.set_running_or_notify_cancel()
        return future

    def finish_running(self):
        future, fn, args = self.submitted[1]
        future.set_result(fn(*args))


def test_cancel_cancels_what_has_not_started_and_lets_the_running_run_finish():
    stop = threading.Event()
    executor = ScriptedExecutor()
    seen = []

    def progress(done, total):
        seen.append(done)
        if not stop.is_set():
            stop.set()  # Cancel, pressed while the second run is under way
            executor.finish_running()

    result = run_sweep(SweepGrid(**TINY), executor, progress=progress, cancel=stop)
    assert (result.cancelled, result.done, result.total, seen) == (True, 2, 8, [1, 2])
    queued = [future for future, _, _ in executor.submitted[2:]]
    assert len(queued) == 6 and all(future.cancelled() for future in queued)
    cells = SweepGrid(**TINY).cells()
    assert [(r.config, r.seed) for r in result.results] == [(c.config, c.seed) for c in cells[:2]]


def test_cancel_before_the_start_submits_nothing():
    stop = threading.Event()
    stop.set()
    executor = ScriptedExecutor()
    result = run_sweep(SweepGrid(**TINY), executor, cancel=stop)
    assert (result.cancelled, result.done, executor.submitted) == (True, 0, [])


def test_a_failing_run_stops_the_sweep(monkeypatch):
    def broken(cell):
        raise RuntimeError(f"boom at depth {cell.config.depth}")

    monkeypatch.setattr(sweep, "run_cell", broken)
    with pytest.raises(RuntimeError, match="boom at depth 1"):
        run_sweep(SweepGrid(**TINY), serial())


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(depths=(0, 2)), "depth .* ≥ 1, got 0"),
        (dict(depths=()), "at least one depth"),
        (dict(activations=("sigmoid", "swish")), "unknown hidden activation 'swish'"),
        (dict(inits=("glorot",)), "unknown initialiser 'glorot'"),
        (dict(seeds=(1, 1)), "seed 1 twice"),
        (dict(steps=0), "steps must be .* ≥ 1"),
        (dict(settings={"depth": 3}), "main axis .* depths"),
        (dict(settings={"momentm": 0.5}), "unknown sweep setting 'momentm'"),
        (dict(settings={"units": "four"}), "'units' takes whole numbers"),
        (dict(data="nosuchset"), "not a built-in data set"),
    ],
)
def test_bad_grids_are_refused_with_a_reason(changes, message):
    with pytest.raises(BpstudioError, match=message):
        SweepGrid(**{**TINY, **changes}).cells()


def test_settings_parse_from_text():
    assert parse_setting("lr=0.1, 0.5") == ("lr", (0.1, 0.5))
    assert parse_setting("units=4") == ("units", (4,))
    assert parse_setting("use_bias=false,true") == ("use_bias", (False, True))
    for bad, message in (
        ("lr", "name=value"),
        ("lr=", "empty"),
        ("optimizer=adagrad", "sgd, momentum, adam, adamw, rmsprop"),
        ("lr=-1", "≥ 0"),
        ("batch_size=2.5", "whole numbers"),
    ):
        with pytest.raises(BpstudioError, match=message):
            parse_setting(bad)


# --- executors ------------------------------------------------------------------------------------------------


def test_the_default_process_pool_gives_the_same_numbers():
    grid = SweepGrid(**{**TINY, "depths": (2,), "residual": (True,)})
    pooled, reference = run_sweep(grid, workers=1), run_sweep(grid, serial())
    assert [r.grad_first_mean for r in pooled.results] == [r.grad_first_mean for r in reference.results]


def test_the_dask_path_runs_on_a_local_cluster():
    distributed = pytest.importorskip("distributed")
    grid = SweepGrid(**TINY)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        executor = sweep.dask_executor(cluster.scheduler_address)
        try:
            assert isinstance(executor, cf.Executor)
            result = run_sweep(grid, executor)
        finally:
            sweep.close_executor(executor)
    reference = run_sweep(grid, serial())
    assert result.to_csv() == reference.to_csv()


def test_an_unreachable_scheduler_is_one_clear_error():
    pytest.importorskip("distributed")
    with pytest.raises(BpstudioError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        sweep.dask_executor("tcp://127.0.0.1:9", timeout=1)


def test_a_grid_may_vary_the_new_optimizers_and_their_settings():
    """rmsprop and adamw with an L1 term and clipping, on a silu net: the run is the engine's run of that spec."""
    from bpstudio.core.session import Session
    from bpstudio.core.spec import OptimizerSpec

    data = xor(n=24, seed=1)
    for name in ("rmsprop", "adamw"):
        config = Config(2, "silu", "xavier_uniform", False, (("optimizer", name), ("l1", 0.01), ("clip_norm", 0.5)))
        spec = build_spec(config, data, 3)
        assert spec.optimizer == OptimizerSpec(name, lr=0.1, l1=0.01, clip_norm=0.5)
        result = run_cell(SweepCell(config, 3, 5, data))
        session = Session(spec, data)
        session.run(5)
        assert result.final_loss == pytest.approx(session.evaluate(data), rel=1e-10)
    with pytest.raises(BpstudioError, match="'clip_norm' takes numbers above 0"):
        parse_setting("clip_norm=0")
