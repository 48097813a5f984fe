"""What bpstudio.watch costs a PyTorch training loop: time per step with a Watcher (every=1) against the same
loop without one, measured in one process, the two taking turns within every round.

    python bench/bench_watch.py [--quick] [--threads N] [--device cuda]

Nets (SGD, batch 128, random data; on the CPU, or with --device cuda on the GPU, where every round ends with a
device synchronisation so that it counts the GPU's work too):
  mlp       784-512-512-10, ReLU
  cnn       28×28×1 → conv 3×3 16 → ReLU → max-pool → conv 3×3 32 → ReLU → max-pool → linear 10
  digits    the docs example's CNN on 8×8 inputs (a step of ~1 ms: the watcher's fixed cost shows most here)
Watchers, all recording every step (every=1): the default (gradient norms and loss every step; parameter norms,
update ratios and activation statistics every 20th step), one without activation statistics (activations=False),
one with activation statistics at every step (activations_every=1) and one measuring the update ratio at every
step (update_every=1: it copies every parameter once per step). Prints the median ratio over rounds; the target
is ≤ 1.05 for the default watcher on mlp and cnn. A measurement, not a test: nothing passes or fails. On a
machine shared with other programs the ratios move by a few percent from run to run: run it twice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpstudio.watch import Watcher

BATCH = 128


def mlp() -> tuple[nn.Module, torch.Tensor]:
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return net, torch.randn(BATCH, 784)


def cnn() -> tuple[nn.Module, torch.Tensor]:
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )
    return net, torch.randn(BATCH, 1, 28, 28)


def digits() -> tuple[nn.Module, torch.Tensor]:
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )
    return net, torch.randn(BATCH, 1, 8, 8)


NETS = {"mlp": mlp, "cnn": cnn, "digits": digits}


def training_step(make: Callable[[], tuple[nn.Module, torch.Tensor]], watcher: dict | None, folder: Path, device: str):
    """A step function over its own copy of the net (same seed for every candidate) on ``device`` and, with
    ``watcher`` (the Watcher's keyword arguments), a Watcher recording it into a new run folder."""
    torch.manual_seed(0)
    net, x = make()
    net, x = net.to(device), x.to(device)
    y = torch.randint(0, 10, (BATCH,)).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    w = Watcher(net, folder / f"run{len(list(folder.iterdir()))}", **watcher) if watcher is not None else None

    def step() -> None:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        if w is not None:
            w.step(loss)

    return step, w


CANDIDATES = {
    "watch": {"every": 1},
    "no activations": {"every": 1, "activations": False},
    "activations each step": {"every": 1, "activations_every": 1},
    "ratio each step": {"every": 1, "update_every": 1},
}


def ratios(name: str, rounds: int, steps_per_round: int, folder: Path, device: str) -> dict[str, tuple[float, ...]]:
    """Per candidate, over rounds in which the candidates take turns (in a rotating order): the median of its
    time per step over the plain loop's in the same round, the quartiles of that ratio, and the same median for
    the process's CPU time (all threads: the writer's too). "plain" holds milliseconds per step instead."""
    made = {"plain": training_step(NETS[name], None, folder, device)}
    made |= {label: training_step(NETS[name], kw, folder, device) for label, kw in CANDIDATES.items()}
    done = torch.cuda.synchronize if device == "cuda" else lambda: None
    wall: dict[str, list[float]] = {label: [] for label in made}
    cpu: dict[str, list[float]] = {label: [] for label in made}
    for step, _ in made.values():  # warm up
        for _ in range(5):
            step()
    labels = list(made)
    for r in range(rounds):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            step = made[label][0]
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps_per_round):
                step()
            done()
            wall[label].append(time.perf_counter() - t0)
            cpu[label].append(time.process_time() - c0)
    for _, w in made.values():
        if w is not None:
            w.close()
    plain = statistics.median(wall["plain"]) / steps_per_round * 1e3
    result = {"plain": (plain, plain, plain)}
    for label in CANDIDATES:
        r = [t / b for t, b in zip(wall[label], wall["plain"])]
        q1, _, q3 = statistics.quantiles(r, n=4)
        c = statistics.median(t / b for t, b in zip(cpu[label], cpu["plain"]) if b > 0)
        result[label] = (statistics.median(r), q1, q3, c)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: steadier on a shared box)")
    parser.add_argument("--nets", nargs="+", choices=list(NETS), default=list(NETS))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds, steps = (12, 5) if args.quick else (60, 5)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(
        f"torch {torch.__version__} on {where}, {args.threads} thread(s), batch {BATCH}, "
        f"{rounds} rounds × {steps} steps"
    )
    print(f"time per step over the plain loop's: median of {rounds} rounds [quartiles] (CPU time of all threads)")
    print(f"{'net':<8} {'plain ms/step':>14}" + "".join(f" {label:>30}" for label in CANDIDATES))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.nets:
            r = ratios(name, rounds, steps, Path(tmp), args.device)
            cells = [f"{m:.3f} [{q1:.3f}–{q3:.3f}] ({c:.3f})" for m, q1, q3, c in (r[label] for label in CANDIDATES)]
            print(f"{name:<8} {r['plain'][0]:>14.2f}" + "".join(f" {cell:>30}" for cell in cells))


if __name__ == "__main__":
    main()
