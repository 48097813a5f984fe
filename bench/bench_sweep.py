"""Sweep runner throughput: runs per second of a small grid in-process (serial), on the local process pool,
and on a Dask LocalCluster through ``Client.get_executor()``, all measured in the same run.

    python bench/bench_sweep.py [--quick] [--workers N]

Prints runs/s for each path and the ratios:
  local pool / serial           (speed-up from worker processes, pool start included and excluded)
  Dask / local pool             (the Dask path's overhead: below 1 means slower than the local pool)
each for the benchmark grid (50-step runs) and for a grid of one-step runs, where per-task overhead dominates.
This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import os

# one thread per worker for NumPy's BLAS: the workers are the parallelism
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bpstudio.core.tools.sweep import SweepGrid, default_workers, local_executor, run_cell, run_sweep  # noqa: E402


def grid(steps: int, quick: bool) -> SweepGrid:
    return SweepGrid(
        depths=(2, 4, 8) if quick else (2, 4, 8, 12),
        activations=("sigmoid", "relu"),
        inits=("xavier_uniform", "he_normal"),
        residual=(False, True),
        seeds=(0, 1) if quick else (0, 1, 2),
        steps=steps,
        data="xor",
    )


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(g: SweepGrid, workers: int, rounds: int, client_executor: object) -> dict[str, float]:
    """Median seconds over rounds for each path; the paths take turns within a round, so drift in machine
    load affects them alike."""
    cells = g.cells()
    warm_pool = local_executor(workers)
    run_sweep(g, warm_pool)  # start every worker before timing
    paths: dict[str, Callable[[], object]] = {
        "serial (in-process loop)": lambda: [run_cell(c) for c in cells],
        "local pool, started per sweep": lambda: run_sweep(g, workers=workers),
        "local pool, already started": lambda: run_sweep(g, warm_pool),
        "Dask LocalCluster": lambda: run_sweep(g, client_executor),  # type: ignore[arg-type]
    }
    samples: dict[str, list[float]] = {name: [] for name in paths}
    try:
        for _ in range(rounds):
            for name, path in paths.items():
                samples[name].append(timed(path))
    finally:
        warm_pool.shutdown()
    return {name: statistics.median(values) for name, values in samples.items()}


def report(title: str, runs: int, seconds: dict[str, float]) -> None:
    print(f"\n{title}: {runs} runs per sweep")
    for name, s in seconds.items():
        print(f"  {name:<32} {runs / s:9.1f} runs/s   ({s * 1000:8.1f} ms per sweep)")
    serial = seconds["serial (in-process loop)"]
    cold, warm, dask = (
        seconds["local pool, started per sweep"],
        seconds["local pool, already started"],
        seconds["Dask LocalCluster"],
    )
    print(f"  ratio local pool / serial (runs/s): {serial / cold:.2f} with pool start, {serial / warm:.2f} without")
    print(
        f"  ratio Dask / local pool   (runs/s): {warm / dask:.2f} (both already started), "
        f"{cold / dask:.2f} against a pool started per sweep"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid and fewer rounds")
    parser.add_argument("--workers", type=int, default=default_workers(), help="worker processes for both pools")
    args = parser.parse_args()
    import distributed

    rounds = 3 if args.quick else 5
    print(
        f"{args.workers} workers (local process pool and Dask LocalCluster with {args.workers} worker processes, "
        f"one thread each); {os.cpu_count()} CPUs; median of {rounds} rounds"
    )
    with (
        distributed.LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        executor = client.get_executor()
        for steps, title in ((50, "benchmark grid, 50 steps per run"), (1, "one step per run (per-task overhead)")):
            g = grid(steps, args.quick)
            run_sweep(g, executor)  # warm the cluster's workers (imports)
            report(title, len(g), measure(g, args.workers, rounds, executor))


if __name__ == "__main__":
    main()
