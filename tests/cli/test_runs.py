"""``bpstudio runs RUN_DIR``: the per-layer table of a run bpstudio.watch recorded, with a verdict a practitioner
acts on — a deep sigmoid net's first layers read vanishing, a ReLU net with He initialisation healthy — and one
line with exit status 2 for a folder that holds no readable run."""

import pytest

from tests.cli.running import assert_one_line_error, run
from tests.helpers import needs_torch, optional_torch
from tests.watched_runs import RunBuilder, chain

torch = optional_torch()


NUMBERS = ("grad norm", "× last", "update", "mean", "std", "zeros", "dead", "saturated")  # right-aligned


def table(out):
    """The table's rows as {layer: {column: cell}}: cells lie between the header's column edges (layer, module and
    verdict are left-aligned, the numbers right-aligned, evidence is the rest of the line)."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("layer "))
    head, body = lines[header], lines[header + 1 :]
    module = head.index("module")
    edges = [0, module, module + max(len(line[module:].split(" ")[0]) for line in lines[header:])]
    edges += [head.index(n) + len(n) for n in NUMBERS]
    edges += [head.index("verdict"), head.index("evidence"), None]
    names = ["layer", "module", *NUMBERS]
    rows = {}
    for line in body:
        cells = [line[a:b].strip() for a, b in zip(edges, edges[1:])]
        cells = cells[:2] + cells[2:10] + cells[11:]  # (the gap before the verdict holds nothing)
        rows[cells[0]] = dict(zip([*names, "verdict", "evidence"], cells))
    return rows


def train_deep(tmp_path, activation, he, steps=12):
    from bpstudio.watch import Watcher

    torch.manual_seed(0)
    layers, width = [], 2
    for _ in range(8):
        linear = torch.nn.Linear(width, 16)
        if he:
            torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            torch.nn.init.zeros_(linear.bias)
        layers += [linear, activation()]
        width = 16
    model = torch.nn.Sequential(*layers, torch.nn.Linear(16, 1))
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    y = (x[:, :1] * x[:, 1:] > 0).float()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Watcher(model, tmp_path) as w:
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
            loss.backward()
            opt.step()
            w.step(loss)


@needs_torch
def test_a_deep_sigmoid_net_reads_vanishing_from_its_first_layer(capsys, tmp_path):
    train_deep(tmp_path, torch.nn.Sigmoid, he=False)
    code, out, err = run(capsys, "runs", tmp_path)
    assert (code, err) == (0, "")
    assert out.splitlines()[0].startswith(
        "Sequential: 12 steps recorded (every step; weight norms, update ratios and activation statistics every "
        "20 steps), the last step 12 with loss"
    )
    assert "finished" in out.splitlines()[0]
    rows = table(out)
    assert list(rows) == [str(i) for i in range(17)]
    assert rows["0"]["verdict"] == "vanishing" and "× the last layer's (below 1e-03)" in rows["0"]["evidence"]
    assert rows["16"]["verdict"] == "healthy" and rows["16"]["× last"] == "1.00e+00"
    assert rows["1"]["module"] == "Sigmoid" and rows["1"]["saturated"].endswith("%")
    assert float(rows["0"]["grad norm"]) < float(rows["8"]["grad norm"]) < float(rows["16"]["grad norm"])


@needs_torch
def test_a_relu_net_with_he_initialisation_reads_healthy(capsys, tmp_path):
    train_deep(tmp_path, torch.nn.ReLU, he=True)
    code, out, err = run(capsys, "runs", tmp_path)
    assert (code, err) == (0, "")
    rows = table(out)
    linear = [r for r in rows.values() if r["module"] == "Linear"]
    assert len(linear) == 9 and {r["verdict"] for r in linear} == {"healthy"}
    relu = [r for r in rows.values() if r["module"] == "ReLU"]
    assert all(r["verdict"] == "healthy" and r["dead"].endswith("%") for r in relu)


def test_dead_units_and_a_run_still_being_written(capsys, tmp_path):
    chain(tmp_path / "a", [[0.5] * 3, [0.5] * 3], "ReLU", "dead", fractions=[[0.95] * 3])
    code, out, _ = run(capsys, "runs", tmp_path / "a")
    assert code == 0 and table(out)["1"]["verdict"] == "dead units" and table(out)["1"]["dead"] == "95%"
    b = RunBuilder(tmp_path / "b", {"0.weight": "0"}, [("0", "Linear", None)], model_class="MyNet", every=5)
    code, out, _ = run(capsys, "runs", tmp_path / "b")
    assert (code, out) == (
        0,
        "MyNet: no step recorded yet (every 5 steps); still being written, or ended without Watcher.close()\n",
    )
    b.step(5, 0.25, {"0.weight": 1.0})
    code, out, _ = run(capsys, "runs", tmp_path / "b")
    assert out.splitlines()[0] == (
        "MyNet: 1 step recorded (every 5 steps), the last step 5 with loss 2.50e-01; still being written, or ended "
        "without Watcher.close(); figures over the last 1 recorded step"
    )
    b.finish()


def test_a_loop_that_never_had_gradients_is_told_so_and_no_layer_reads_healthy(capsys, tmp_path):
    """watcher.step() called after zero_grad(): steps and losses are recorded, gradients never. The summary says
    what went wrong rather than calling the layers healthy; the database file may be named instead of its
    folder."""
    b = RunBuilder(tmp_path, {"0.weight": "0", "1.weight": "1"}, [("0", "Linear", None), ("1", "Linear", None)])
    for step in (1, 2, 3):
        b.step(step, 0.5, {})
    b.finish()
    code, out, err = run(capsys, "runs", tmp_path / "run.sqlite")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[1].startswith("no parameter had a gradient at any recorded step: the loop calls watcher.step()")
    assert {row["verdict"] for row in table(out).values()} == {"no gradient"}


@pytest.mark.parametrize(
    "every, update_every, activations_every, says",
    [
        (1, 1, 1, "(every step)"),
        (2, 2, None, "(every 2 steps)"),  # (a run from before activations_every: activations at every record)
        (1, 10, 10, "(every step; weight norms, update ratios and activation statistics every 10 steps)"),
        (2, 10, 4, "(every 2 steps; weight norms, update ratios every 10 steps; activation statistics every 4 steps)"),
    ],
)
def test_the_headline_says_what_is_recorded_less_often(capsys, tmp_path, every, update_every, activations_every, says):
    extra = {} if activations_every is None else {"activations_every": activations_every}
    RunBuilder(tmp_path, {"0.weight": "0"}, [], model_class="M", every=every, update_every=update_every, **extra)
    code, out, _ = run(capsys, "runs", tmp_path)
    assert code == 0 and out.startswith(f"M: no step recorded yet {says}; ")


def test_what_is_not_a_run_exits_2_with_one_line(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.sqlite").write_bytes(b"\x00garbage" * 500)
    (tmp_path / "file").write_text("x")
    for folder, message in (
        (tmp_path / "missing", r"run folder '.*missing' not found"),
        (tmp_path / "empty", r"'.*empty' holds no run\.sqlite: not a run folder"),
        (tmp_path / "junk", r"'.*junk/run\.sqlite' is not a readable run database: file is not a database"),
        (tmp_path / "file", r"'.*file' is not a run folder"),
    ):
        code, out, err = run(capsys, "runs", folder)
        assert (code, out) == (2, "")
        assert_one_line_error(err, "bpstudio: error: " + message)


def test_runs_needs_a_folder(capsys):
    code, out, err = run(capsys, "runs")
    assert code == 2
    assert_one_line_error(err, r"bpstudio: error: the following arguments are required: RUN_DIR")


def test_a_diverged_run_says_so_in_its_headline(capsys, tmp_path):
    b = RunBuilder(tmp_path, {"0.weight": "0"}, [("0", "Linear", None)], model_class="M")
    b.step(1, 0.5, {"0.weight": 1.0})
    b.step(2, float("nan"), {"0.weight": float("nan")})
    b.finish()
    code, out, _ = run(capsys, "runs", tmp_path)
    assert code == 0 and "the last step 2 with loss nan (not a number: the run diverged);" in out.splitlines()[0]


def test_a_path_that_does_not_exist_is_said_as_such_not_as_an_unknown_command(capsys, tmp_path):
    for word in (str(tmp_path / "runs" / "not_yet"), "./no_such_folder"):
        code, out, err = run(capsys, word)
        assert (code, out) == (2, "")
        line = assert_one_line_error(err)
        assert line == f"bpstudio: error: '{word}' does not exist (no file or run folder to open there)"
    code, _, err = run(capsys, "trian")  # a misspelt command is still said as one, with the choices
    assert code == 2 and "invalid choice: 'trian'" in err
