"""bpstudio.watch.Watcher on real PyTorch loops: what it writes to run.sqlite equals what torch itself says,
computed here from the model (gradient and parameter norms, update ratios, activation statistics), at the steps
``every`` and ``update_every`` name."""

import math
import sqlite3

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from bpstudio.core.errors import BpstudioError  # noqa: E402
from bpstudio.core.record.layer_stats import saturation_threshold  # noqa: E402
from bpstudio.watch import Watcher  # noqa: E402
from bpstudio.watch.activations import SAMPLED  # noqa: E402
from tests.cli.running import run  # noqa: E402


def rows(run_dir, sql):
    with sqlite3.connect(run_dir / "run.sqlite") as conn:
        return conn.execute(sql).fetchall()


def by_step(run_dir, table, value="norm"):
    """{step: {name: value}} of a per-parameter table."""
    out = {}
    for step, name, v in rows(run_dir, f"SELECT step, name, {value} FROM {table}"):
        out.setdefault(step, {})[name] = v
    return out


def mlp(activation=nn.ReLU):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), activation(), nn.Linear(7, 3))


def cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)
    )


def train(model, watcher, inputs, steps, lr=0.1, seen=None, device="cpu"):
    """SGD with momentum on random targets (on ``device``); ``seen`` collects, per step, the model's parameters
    as they are at the watcher's call and each gradient's norm as torch computes it."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(inputs, generator=gen).to(device)
        target = torch.randint(0, 3, (inputs[0],), generator=gen).to(device)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        if seen is not None:
            seen.append(
                {
                    "loss": loss.item(),
                    "grads": {n: p.grad.norm().item() for n, p in model.named_parameters() if p.grad is not None},
                    "params": {n: p.detach().to("cpu", torch.float64, copy=True) for n, p in model.named_parameters()},
                }
            )
        watcher.step(loss)


@pytest.mark.parametrize("make, inputs", [(mlp, (8, 5)), (cnn, (6, 1, 8, 8))], ids=["mlp", "cnn"])
def test_recorded_norms_and_update_ratios_are_torchs_own(tmp_path, make, inputs):
    model, seen = make(), []
    with Watcher(model, tmp_path, update_every=1) as w:
        train(model, w, inputs, 4, seen=seen)
    assert_norms_are_torchs(tmp_path, model, seen)
    assert sorted(by_step(tmp_path, "update_ratios", "ratio")) == [2, 3, 4]


def assert_norms_are_torchs(run_dir, model, seen):
    """Every step's gradient norms, parameter norms, update ratios and loss in ``run_dir`` equal those computed
    from ``seen`` (what :func:`train` collected), step by step."""
    names = [n for n, _ in model.named_parameters()]
    grads, norms = by_step(run_dir, "grad_norms"), by_step(run_dir, "param_norms")
    ratios = by_step(run_dir, "update_ratios", "ratio")
    assert sorted(grads) == sorted(norms) == list(range(1, len(seen) + 1))
    for step, then in enumerate(seen, start=1):
        assert set(grads[step]) == set(names)
        for name in names:
            assert grads[step][name] == pytest.approx(then["grads"][name], rel=1e-5)
            assert norms[step][name] == pytest.approx(then["params"][name].norm().item(), rel=1e-5)
            if step > 1:
                before = seen[step - 2]["params"][name]
                expected = (then["params"][name] - before).norm().item() / before.norm().item()
                assert ratios[step][name] == pytest.approx(expected, rel=1e-4)
    losses = rows(run_dir, "SELECT step, loss FROM steps ORDER BY step")
    assert [s for s, _ in losses] == list(range(1, len(seen) + 1))
    assert [v for _, v in losses] == pytest.approx([then["loss"] for then in seen], rel=1e-6)


def test_activation_statistics_are_those_of_the_outputs(tmp_path):
    """mean, population std and zero fraction of every leaf module's output; dead units of the ReLU (0 for every
    sample) and saturated entries of the tanh (|input| beyond the threshold bpstudio uses for tanh layers)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 3))
    with torch.no_grad():
        model[0].bias[:2] = -100.0  # two units dead whatever the input
        model[2].weight.mul_(40.0)  # and a tanh pushed into its flat parts
    outputs, inputs = {}, {}

    def keep(name):
        def hook(module, args, output):
            outputs[name], inputs[name] = output.detach().double(), args[0].detach().double()

        return hook

    for name, m in model.named_children():
        m.register_forward_hook(keep(name))
    with Watcher(model, tmp_path) as w:
        train(model, w, (9, 5), 1)
    stats = {
        r[0]: r[1:]
        for r in rows(
            tmp_path,
            "SELECT module, mean, std, zero_fraction, dead_fraction, "
            "saturated_fraction FROM activations WHERE step = 1",
        )
    }
    assert set(stats) == {"0", "1", "2", "3", "4"}
    for name, y in outputs.items():
        mean, std, zeros, dead, saturated = stats[name]
        assert mean == pytest.approx(y.mean().item(), rel=1e-5, abs=1e-6)
        assert std == pytest.approx(y.std(correction=0).item(), rel=1e-4)
        assert zeros == pytest.approx((y == 0).double().mean().item())
    assert stats["1"][3] == pytest.approx((outputs["1"] == 0).all(dim=0).double().mean().item())
    assert stats["1"][3] >= 2 / 6
    beyond = (inputs["3"].abs() > saturation_threshold("tanh")).double().mean().item()
    assert stats["3"][4] == pytest.approx(beyond) and 0 < beyond < 1
    assert stats["0"][3:] == (None, None)  # a Linear counts neither
    kinds = rows(tmp_path, "SELECT name, type, kind FROM modules ORDER BY position")
    assert kinds == [
        ("0", "Linear", None),
        ("1", "ReLU", "dead"),
        ("2", "Linear", None),
        ("3", "Tanh", "saturated"),
        ("4", "Linear", None),
    ]


def test_a_large_activation_is_summed_over_its_first_samples_and_dead_units_over_the_whole_batch(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 16 * 16, 2))
    with torch.no_grad():
        model[0].bias[:3] = -100.0
    per_sample = 16 * 16 * 16
    batch = 2 * SAMPLED // per_sample + 3  # more than the statistics take
    captured = {}
    model[1].register_forward_hook(lambda m, i, o: captured.update(y=o.detach().double()))
    with Watcher(model, tmp_path) as w:
        x = torch.randn(batch, 1, 16, 16)
        loss = model(x).square().mean()
        loss.backward()
        w.step(loss)
    y = captured["y"]
    first = y[: SAMPLED // per_sample]
    mean, std, zeros, dead = rows(
        tmp_path, "SELECT mean, std, zero_fraction, dead_fraction FROM activations WHERE module = '1'"
    )[0]
    assert mean == pytest.approx(first.mean().item(), rel=1e-5)
    assert std == pytest.approx(first.std(correction=0).item(), rel=1e-4)
    assert zeros == pytest.approx((first == 0).double().mean().item())
    assert dead == pytest.approx((y == 0).all(dim=3).all(dim=2).all(dim=0).double().mean().item())  # channels
    assert dead == pytest.approx(3 / 16)


def test_every_k_records_every_kth_step_with_that_steps_activations(tmp_path):
    model = mlp()
    means = []
    model[0].register_forward_hook(lambda m, i, o: means.append(o.detach().double().mean().item()) and None)
    with Watcher(model, tmp_path, every=3, activations_every=3) as w:
        train(model, w, (8, 5), 10)
    assert [s for (s,) in rows(tmp_path, "SELECT step FROM steps ORDER BY step")] == [3, 6, 9]
    assert sorted({s for (s,) in rows(tmp_path, "SELECT step FROM grad_norms")}) == [3, 6, 9]
    recorded = rows(tmp_path, "SELECT step, mean FROM activations WHERE module = '0' ORDER BY step")
    assert [s for s, _ in recorded] == [3, 6, 9]
    assert [m for _, m in recorded] == pytest.approx([means[2], means[5], means[8]], rel=1e-5)
    # weights and update ratios every 20 × every steps by default: none within 10 steps
    assert rows(tmp_path, "SELECT count(*) FROM param_norms") == [(0,)]
    info = dict(rows(tmp_path, "SELECT key, value FROM run_info"))
    assert (info["every"], info["update_every"], info["activations_every"]) == ("3", "60", "3")


@pytest.mark.parametrize(
    "every, activations_every, steps, expected",
    [(1, None, 41, [1, 20, 40]), (2, None, 81, [2, 40, 80]), (2, 4, 9, [2, 4, 8]), (1, 1, 3, [1, 2, 3])],
)
def test_activations_come_at_the_first_recorded_step_and_every_activations_every_steps(
    tmp_path, every, activations_every, steps, expected
):
    """The activation statistics cost the most of what a step records (a hook per module), so by default they
    come at the first recorded step (the network as it starts) and every 20 × every steps; gradient norms and
    the loss at every recorded step. What a step records is that step's own forward pass."""
    model, means = mlp(), []
    model[0].register_forward_hook(lambda m, i, o: means.append(o.detach().double().mean().item()) and None)
    with Watcher(model, tmp_path, every=every, activations_every=activations_every) as w:
        train(model, w, (8, 5), steps)
    recorded = rows(tmp_path, "SELECT step, mean FROM activations WHERE module = '0' ORDER BY step")
    assert [s for s, _ in recorded] == expected
    assert [m for _, m in recorded] == pytest.approx([means[s - 1] for s in expected], rel=1e-5)
    grads = sorted({s for (s,) in rows(tmp_path, "SELECT step FROM grad_norms")})
    assert grads == list(range(every, steps + 1, every))


def test_update_ratios_every_update_every_steps_measure_one_update(tmp_path):
    model, seen = mlp(), []
    with Watcher(model, tmp_path, every=2, update_every=4) as w:
        train(model, w, (8, 5), 9, seen=seen)
    ratios = by_step(tmp_path, "update_ratios", "ratio")
    assert sorted(ratios) == [4, 8] and sorted(by_step(tmp_path, "param_norms")) == [4, 8]
    for step in (4, 8):
        before, after = seen[step - 2]["params"]["0.weight"], seen[step - 1]["params"]["0.weight"]
        assert ratios[step]["0.weight"] == pytest.approx(((after - before).norm() / before.norm()).item(), rel=1e-4)


def test_forward_passes_without_autograd_do_not_count(tmp_path):
    model = mlp()
    with Watcher(model, tmp_path) as w:
        x = torch.randn(8, 5)
        loss = model(x).square().mean()
        loss.backward()
        expected = model[0](x).mean().item()
        with torch.no_grad():
            model(torch.full((8, 5), 50.0))  # an evaluation between backward and step
        w.step(loss)
    assert rows(tmp_path, "SELECT mean FROM activations WHERE module = '0'")[0][0] == pytest.approx(expected, rel=1e-5)


def test_frozen_parameters_have_no_gradient_rows_and_the_run_lists_every_parameter(tmp_path):
    model = mlp()
    model[0].bias.requires_grad_(False)
    with Watcher(model, tmp_path) as w:
        train(model, w, (8, 5), 2)
    assert {n for (n,) in rows(tmp_path, "SELECT DISTINCT name FROM grad_norms")} == {"0.weight", "2.weight", "2.bias"}
    assert rows(tmp_path, "SELECT position, name, module, shape, numel FROM parameters ORDER BY position") == [
        (0, "0.weight", "0", "[7, 5]", 35),
        (1, "0.bias", "0", "[7]", 7),
        (2, "2.weight", "2", "[3, 7]", 21),
        (3, "2.bias", "2", "[3]", 3),
    ]


def test_the_run_says_what_it_is_and_when_it_finished(tmp_path):
    model = mlp()
    w = Watcher(model, tmp_path)
    train(model, w, (8, 5), 1)
    w.flush()
    info = dict(rows(tmp_path, "SELECT key, value FROM run_info"))
    assert (info["format"], info["version"], info["model_class"], info["finished"]) == (
        "bpstudio-watch",
        "1",
        "Sequential",
        "0",
    )
    assert "T" in info["started"]  # ISO 8601
    w.close()
    w.close()  # (twice is fine)
    assert dict(rows(tmp_path, "SELECT key, value FROM run_info"))["finished"] == "1"
    with pytest.raises(RuntimeError, match="closed"):
        w.step(0.5)
    assert "stopped_by" not in dict(rows(tmp_path, "SELECT key, value FROM run_info"))


def test_a_loop_ended_by_an_exception_says_which_and_bpstudio_runs_does_not_call_it_finished(tmp_path, capsys):
    model = mlp()
    with pytest.raises(KeyboardInterrupt), Watcher(model, tmp_path) as w:
        train(model, w, (8, 5), 2)
        raise KeyboardInterrupt  # (Ctrl+C in the middle of training)
    info = dict(rows(tmp_path, "SELECT key, value FROM run_info"))
    assert (info["finished"], info["stopped_by"]) == ("1", "KeyboardInterrupt")  # (what was recorded is whole)
    code, out, _ = run(capsys, "runs", tmp_path)
    headline = out.splitlines()[0]
    assert code == 0
    assert "; stopped by KeyboardInterrupt;" in headline and "finished" not in headline


@pytest.mark.filterwarnings("ignore:bpstudio.watch. at step 1 no parameter has a gradient")
def test_a_plain_number_or_no_loss(tmp_path):
    model = mlp()
    with Watcher(model, tmp_path) as w:
        w.step(1.25)
        w.step()
    assert rows(tmp_path, "SELECT step, loss FROM steps ORDER BY step") == [(1, 1.25), (2, None)]


def test_a_model_without_parameters_records_its_activations(tmp_path):
    model = nn.ReLU()
    with Watcher(model, tmp_path, update_every=1, activations_every=1) as w:
        for _ in range(2):
            model(torch.tensor([[1.0, -1.0], [2.0, -2.0]], requires_grad=True))
            w.step(1.0)
    assert rows(tmp_path, "SELECT step, module, zero_fraction, dead_fraction FROM activations") == [
        (1, "", 0.5, 0.5),
        (2, "", 0.5, 0.5),
    ]
    assert rows(tmp_path, "SELECT count(*) FROM grad_norms") == [(0,)]


@pytest.mark.filterwarnings("ignore:bpstudio.watch. at step 1 no parameter has a gradient")
def test_bad_arguments_are_refused_in_one_line(tmp_path):
    with pytest.raises(BpstudioError, match="every must be a whole number ≥ 1, got 0"):
        Watcher(mlp(), tmp_path / "a", every=0)
    with pytest.raises(BpstudioError, match=r"update_every \(5\) must be a multiple of every \(2\)"):
        Watcher(mlp(), tmp_path / "b", every=2, update_every=5)
    with pytest.raises(BpstudioError, match=r"activations_every \(3\) must be a multiple of every \(2\)"):
        Watcher(mlp(), tmp_path / "b2", every=2, activations_every=3)
    with pytest.raises(BpstudioError, match="activations_every must be a whole number ≥ 1, got 0"):
        Watcher(mlp(), tmp_path / "b3", activations_every=0)
    with pytest.raises(BpstudioError, match="needs a torch.nn.Module"):
        Watcher("model", tmp_path / "c")
    with Watcher(mlp(), tmp_path / "d") as w, pytest.raises(BpstudioError, match="single number"):
        w.step(torch.ones(3))
    for wrong in ("0.5", True, [0.5]):  # (a string, a bool or a list is not a loss, though float() takes some)
        with (
            Watcher(mlp(), tmp_path / f"e{len(str(wrong))}") as w,
            pytest.raises(
                BpstudioError,
                match=f"must be a tensor holding one number, a number, or left out; got {type(wrong).__name__}",
            ),
        ):
            w.step(wrong)
    with Watcher(mlp(), tmp_path / "f") as w:
        w.step(np.float32(0.25))  # a NumPy number is a number
    assert rows(tmp_path / "f", "SELECT loss FROM steps") == [(0.25,)]


def test_the_watch_package_lists_the_watcher_before_it_is_imported():
    import bpstudio.watch

    assert "Watcher" in dir(bpstudio.watch)


def test_a_folder_that_holds_a_run_is_not_recorded_over(tmp_path):
    Watcher(mlp(), tmp_path).close()
    before = (tmp_path / "run.sqlite").read_bytes()
    with pytest.raises(BpstudioError, match="already holds a run"):
        Watcher(mlp(), tmp_path)
    assert (tmp_path / "run.sqlite").read_bytes() == before


def test_a_failing_writer_warns_once_and_the_loop_goes_on(tmp_path, monkeypatch):
    from bpstudio.watch import writer

    def broken(self, sample):
        raise OSError("disk full")

    monkeypatch.setattr(writer.Writer, "_write", broken)
    model = mlp()
    w = Watcher(model, tmp_path)
    train(model, w, (8, 5), 1)
    w.flush()
    with pytest.warns(RuntimeWarning, match="disk full.*recording stopped"):
        train(model, w, (8, 5), 2)
    w.close()
    assert math.isfinite(model[0].weight.sum().item())
    assert np.asarray(rows(tmp_path, "SELECT count(*) FROM steps")).item() == 0


def test_a_sample_larger_than_the_row_is_summed_over_its_first_entries_and_many_modules_grow_the_buffers(tmp_path):
    """One sample of 16×32×32 entries is more than the 4096 the statistics take: they are over the first 4096
    entries of the first sample. Twenty watched modules are more rows than a buffer starts with."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 32 * 32, 4))
    deep = nn.Sequential(*[m for _ in range(10) for m in (nn.Linear(4, 4), nn.Tanh())])
    captured = {}
    model[1].register_forward_hook(lambda m, i, o: captured.update(y=o.detach().double()))
    deep[19].register_forward_hook(lambda m, i, o: captured.update(last=o.detach().double()))
    net = nn.Sequential(model, deep)
    with Watcher(net, tmp_path, activations_every=1) as w:
        for _ in range(2):
            loss = net(torch.randn(3, 1, 32, 32)).square().mean()
            loss.backward()
            w.step(loss)
    first = captured["y"][0].reshape(-1)[:SAMPLED]
    mean, std, dead = rows(tmp_path, "SELECT mean, std, dead_fraction FROM activations WHERE module = '0.1'")[-1]
    assert mean == pytest.approx(first.mean().item(), rel=1e-5)
    assert std == pytest.approx(first.std(correction=0).item(), rel=1e-4)
    assert dead == pytest.approx((captured["y"] == 0).all(dim=3).all(dim=2).all(dim=0).double().mean().item())
    (last,) = rows(tmp_path, "SELECT mean FROM activations WHERE module = '1.19' AND step = 2")[0]
    assert last == pytest.approx(captured["last"].mean().item(), rel=1e-5)
    assert rows(tmp_path, "SELECT count(*) FROM activations WHERE step = 2") == [(23,)]  # (Flatten passes its input on)


def test_half_precision_outputs_and_a_model_changing_precision_mid_run_are_recorded_as_they_are(tmp_path):
    """A bfloat16 model's statistics (summed in float32) and, after ``model.double()``, the float64 model's:
    each equal to its own outputs."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 3)).to(torch.bfloat16)
    with torch.no_grad():
        model[0].bias[:2] = -100.0
    captured = {}
    model[1].register_forward_hook(lambda m, i, o: captured.update(y=o.detach().double()))
    expected = {}
    with Watcher(model, tmp_path, activations_every=1) as w:
        for step, dtype in enumerate((torch.bfloat16, torch.bfloat16, torch.float64), start=1):
            model.to(dtype)
            loss = model(torch.randn(7, 5, dtype=dtype)).square().mean()
            loss.backward()
            w.step(loss)
            y = captured["y"]
            expected[step] = (y.mean().item(), y.std(correction=0).item(), (y == 0).all(dim=0).double().mean().item())
    got = {
        s: (m, sd, d)
        for s, m, sd, d in rows(tmp_path, "SELECT step, mean, std, dead_fraction FROM activations WHERE module = '1'")
    }
    for step, (mean, std, dead) in expected.items():
        assert got[step][0] == pytest.approx(mean, rel=1e-5, abs=1e-6)
        assert got[step][1] == pytest.approx(std, rel=1e-4)
        assert got[step][2] == pytest.approx(dead) and dead >= 2 / 6


def test_a_step_called_where_there_are_no_gradients_warns_once_with_what_to_do(tmp_path):
    """The usual slip: step() after zero_grad(), before backward(). Nothing is recorded for the gradients, and
    the loop is told where the call belongs, once."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Watcher(model, tmp_path) as w:
        with pytest.warns(RuntimeWarning, match=r"at step 1 no parameter has a gradient.*after loss.backward\(\)"):
            for _ in range(3):
                opt.zero_grad()  # (set_to_none: every .grad is None)
                w.step()
                model(torch.randn(4, 5)).square().mean().backward()
                opt.step()
    assert rows(tmp_path, "SELECT count(*) FROM grad_norms") == [(0,)]
