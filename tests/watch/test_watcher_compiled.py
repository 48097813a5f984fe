"""A Watcher on a model the loop runs through ``torch.compile``: the forward hooks are traced into the compiled
graph, so the watcher must record the same figures as on the plain model, and arming the hooks every few steps
must not make the model compile again and again. (Compiled with the ``aot_eager`` backend: the same tracing and
graph guards as the default one, without a C++ compiler.)"""

import sqlite3

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
dynamo = pytest.importorskip("torch._dynamo")

from bpstudio.watch import Watcher  # noqa: E402

STEPS = 45  # records activation statistics and update ratios at steps 20 and 40 (and activations at step 1)


def tanh_relu_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3))


def train(model, run_dir, compiled, graphs_after=None):
    """Trains ``model`` (through torch.compile when ``compiled``) with a Watcher on it; with ``graphs_after``, the
    count of graphs compiled so far at each step in it."""
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 20, generator=gen), torch.randint(0, 3, (64,), generator=gen)
    forward = torch.compile(model, backend="aot_eager") if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    graphs = {}
    with Watcher(model, run_dir) as w:
        for step in range(1, STEPS + 1):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(forward(x), y)
            loss.backward()
            opt.step()
            w.step(loss)
            if graphs_after and step in graphs_after:
                graphs[step] = dynamo.utils.counters["stats"]["unique_graphs"]
    return graphs


def table(run_dir, sql):
    with sqlite3.connect(run_dir / "run.sqlite") as conn:
        return conn.execute(sql).fetchall()


QUERIES = {
    "grad_norms": "SELECT step, name, norm FROM grad_norms ORDER BY step, name",
    "update_ratios": "SELECT step, name, ratio FROM update_ratios ORDER BY step, name",
    "activations": "SELECT step, module, mean, std, zero_fraction, dead_fraction, saturated_fraction "
    "FROM activations ORDER BY step, module",
}


def test_a_compiled_model_records_what_the_plain_model_does_and_compiles_a_bounded_number_of_times(tmp_path):
    dynamo.reset()
    dynamo.utils.counters.clear()
    graphs = train(tanh_relu_net(), tmp_path / "compiled", compiled=True, graphs_after={21, STEPS})
    train(tanh_relu_net(), tmp_path / "plain", compiled=False)
    # the hooks' armed and idle passes each compiled once: arming them again at step 40 compiles nothing new
    assert graphs[STEPS] == graphs[21]
    assert not dynamo.utils.counters["graph_break"]
    for what, sql in QUERIES.items():
        compiled, plain = table(tmp_path / "compiled", sql), table(tmp_path / "plain", sql)
        assert [r[:2] for r in compiled] == [r[:2] for r in plain], what
        for got, want in zip(compiled, plain):
            assert [v is None for v in got] == [v is None for v in want], (what, got[:2])
            figures = [(g, w) for g, w in zip(got[2:], want[2:]) if w is not None]
            assert [g for g, _ in figures] == pytest.approx([w for _, w in figures], rel=1e-5, abs=1e-7), what
    activation_steps = sorted({step for step, *_ in table(tmp_path / "compiled", QUERIES["activations"])})
    assert activation_steps == [1, 20, 40]


def test_the_compiled_wrapper_is_watched_under_the_models_own_parameter_names(tmp_path):
    model = tanh_relu_net()
    compiled = torch.compile(model, backend="aot_eager")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with Watcher(compiled, tmp_path) as w:
        for _ in range(2):
            opt.zero_grad()
            compiled(torch.randn(8, 20)).square().mean().backward()
            opt.step()
            w.step()
    names = {name for (name,) in table(tmp_path, "SELECT DISTINCT name FROM grad_norms")}
    assert names == {name for name, _ in model.named_parameters()}
    assert {m for (m,) in table(tmp_path, "SELECT DISTINCT module FROM activations")} == {"0", "1", "2", "3", "4"}


def test_a_watcher_made_after_the_compiled_model_ran_says_why_it_sees_no_activations(tmp_path):
    """torch.compile does not see forward hooks set after it compiled: the watcher's never run. It says so once,
    with what to do, and still records the gradients."""
    model = tanh_relu_net()
    compiled = torch.compile(model, backend="aot_eager")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step():
        opt.zero_grad()
        compiled(torch.randn(8, 20)).square().mean().backward()
        opt.step()

    step()  # compiled here, before the watcher exists
    with Watcher(model, tmp_path) as w:
        with pytest.warns(RuntimeWarning, match=r"at step 1 no watched module ran.*make the Watcher first") as said:
            for _ in range(21):
                step()
                w.step()
    assert len([w for w in said if "no watched module" in str(w.message)]) == 1
    assert table(tmp_path, "SELECT count(*) FROM activations") == [(0,)]
    assert table(tmp_path, "SELECT count(DISTINCT step) FROM grad_norms") == [(21,)]
