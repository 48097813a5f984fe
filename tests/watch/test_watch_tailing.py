"""Reading a run while it is written: the database is in WAL mode, a reader opened beside the watcher sees every
step the watcher has flushed, and a reader tails a training process that writes it step after step (the test
tells the process when to train and waits for its answer: no sleeps, no clocks)."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import bpstudio  # noqa: E402
from bpstudio.core.record.watched_run import WatchedRun  # noqa: E402
from bpstudio.watch import Watcher  # noqa: E402


def test_a_reader_beside_the_open_watcher_sees_each_flushed_step(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    expected = []

    def train(steps):
        for _ in range(steps):
            opt.zero_grad()
            loss = model(torch.randn(5, 3)).square().mean()
            loss.backward()
            opt.step()
            expected.append(model[0].weight.grad.norm().item())
            w.step(loss)
        w.flush()

    with Watcher(model, tmp_path) as w:
        with sqlite3.connect(tmp_path / "run.sqlite") as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        train(2)
        run = WatchedRun(tmp_path)
        assert run.steps.tolist() == [1, 2] and not run.info.finished
        before = run.grad_norms("0.weight")
        train(3)
        assert run.refresh() == 3
        assert run.steps.tolist() == [1, 2, 3, 4, 5]
        np.testing.assert_allclose(run.grad_norms("0.weight"), expected, rtol=1e-5)
        assert before.tolist() == pytest.approx(expected[:2], rel=1e-5)
    assert run.refresh() == 0 and run.info.finished
    run.close()


CHILD = """
import json, sys
import torch
from bpstudio.watch import Watcher

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=0.01)
w = Watcher(model, sys.argv[1], update_every=1)
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "close":
        w.close()
        print("closed", flush=True)
        break
    grads = {}
    for _ in range(int(line)):
        opt.zero_grad()
        loss = model(torch.randn(4, 1, 4, 4)).square().mean()
        loss.backward()
        opt.step()
        w.step(loss)
        grads[w.step_count] = model[0].weight.grad.norm().item()
    w.flush()
    print(json.dumps(grads), flush=True)
"""


def test_a_reader_tails_a_run_another_process_writes(tmp_path):
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(Path(bpstudio.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]),
    )
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline() == "ready\n"

        def train(steps):
            child.stdin.write(f"{steps}\n")
            child.stdin.flush()
            return {int(k): v for k, v in json.loads(child.stdout.readline()).items()}

        grads = train(3)
        run = WatchedRun(tmp_path)
        assert run.steps.tolist() == [1, 2, 3] and not run.info.finished
        assert run.layers == ("0", "3") and [m.name for m in run.modules] == ["0", "1", "3"]
        loaded = [len(run)]
        for steps in (2, 1, 4):
            grads |= train(steps)
            assert run.refresh() == steps
            loaded.append(len(run))
        assert loaded == [3, 5, 6, 10]
        assert run.steps.tolist() == list(range(1, 11))
        np.testing.assert_allclose(run.grad_norms("0.weight"), [grads[s] for s in range(1, 11)], rtol=1e-5)
        assert np.isnan(run.update_ratios("0.weight")[0]) and np.isfinite(run.update_ratios("0.weight")[1:]).all()
        child.stdin.write("close\n")
        child.stdin.flush()
        assert child.stdout.readline() == "closed\n"
        assert run.refresh() == 0 and run.info.finished
        run.close()
    finally:
        child.stdin.close()
        assert child.wait(timeout=60) == 0
