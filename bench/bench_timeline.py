"""What the timeline holds against what it counts, and what recording costs as states pile up.

    python bench/bench_timeline.py [--quick]

Prints, for XOR (the smallest example) and a 2-256-256-1 net with Adam (each state 1.6 MB of values):
  memory: bytes per state counted (the bound's figure) and held (Python's allocation count, tracemalloc)
  disk:   bytes per spilled state counted and taken (the blocks its files take), and written (their sizes)
  record: milliseconds per record() with 1k, 10k and 40k XOR states held, and the ratio to 1k (O(1): ~1)
This is a measurement, not a test: nothing here passes or fails. It runs against whichever bpstudio is first on
the path, so the same script measures an earlier version too.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import presets, spec_io
from bpstudio.core.record.timeline import Timeline
from bpstudio.core.session import Session


def wide_spec():
    layers = [{"id": "x", "type": "input", "units": 2}]
    for k, units in enumerate([256, 256, 1], start=1):
        lid = "out" if units == 1 else f"h{k}"
        activation = "sigmoid" if units == 1 else "tanh"
        layers.append(
            {"id": lid, "type": "dense", "inputs": [layers[-1]["id"]], "units": units, "activation": activation}
        )
    return spec_io.from_dict(
        {
            "format": "bpstudio-network",
            "version": 1,
            "name": "2-256-256-1",
            "layers": layers,
            "output": "out",
            "loss": "bce",
            "optimizer": {"name": "adam", "lr": 0.001},
            "seed": 1,
            "data": {"builtin": "circles", "n": 200},
        }
    )


def session_of(spec):
    session = Session(spec, resolve_split(spec.data)[0], batch_size=16)
    session.step()
    return session


def memory(name, spec, states):
    session = session_of(spec)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    timeline = Timeline(memory_bound=2**40, spill=False)
    for _ in range(states):
        session.step()
        timeline.record(session.state())
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    counted = timeline.memory_used
    print(
        f"  {name:<14} {states:>6} states   counted {counted / states:>11,.0f} B/state   held {held / states:>11,.0f}"
        f" B/state   held/counted {held / counted:5.2f}"
    )


def disk(name, spec, states):
    session = session_of(spec)
    with tempfile.TemporaryDirectory() as folder:
        timeline = Timeline(memory_bound=256 * 2**10, spill_dir=folder)
        for _ in range(states):
            session.step()
            timeline.record(session.state())
        files = list(Path(folder).iterdir())
        taken = sum(f.stat().st_blocks * 512 for f in files)
        written = sum(f.stat().st_size for f in files)
        n = max(1, len(files))
        print(
            f"  {name:<14} {len(files):>6} files    counted {timeline.disk_used / n:>11,.0f} B/state   taken"
            f" {taken / n:>11,.0f} B/state   written {written / n:>11,.0f} B/state   taken/counted"
            f" {taken / max(1, timeline.disk_used):5.2f}"
        )


def record_times(sizes):
    session = session_of(presets.load("xor"))
    states = []
    for _ in range(max(sizes) + 400):
        session.step()
        states.append(session.state())
    timeline = Timeline(memory_bound=2**40, spill=False)
    held, times = 0, {}
    for size in sizes:
        for state in states[held:size]:
            timeline.record(state)
        held = size
        rounds = []
        for _ in range(8):  # eight runs of 50 records; the median of their means
            batch = states[held : held + 50]
            began = time.perf_counter()
            for state in batch:
                timeline.record(state)
            rounds.append((time.perf_counter() - began) / len(batch))
            held += len(batch)
        times[size] = statistics.median(rounds)
    base = times[sizes[0]]
    for size in sizes:
        ratio = times[size] / base
        print(f"  {size:>6} states held   {times[size] * 1e3:8.3f} ms per record()   ratio to {sizes[0]}: {ratio:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import bpstudio

    print(f"bpstudio from {Path(bpstudio.__file__).parent}")
    xor, wide = presets.load("xor"), wide_spec()
    print("memory")
    memory("xor", xor, 500 if args.quick else 3000)
    memory("2-256-256-1", wide, 10 if args.quick else 40)
    print("disk (a 256 KiB memory bound: nearly every state spilled)")
    disk("xor", xor, 300 if args.quick else 2000)
    disk("2-256-256-1", wide, 10 if args.quick else 40)
    print("record()")
    record_times([1000, 10_000] if args.quick else [1000, 10_000, 40_000])


if __name__ == "__main__":
    main()
