"""Time per training step: the bpstudio engine (traces on) against baselines measured in the same run.

    python bench/bench_engine.py [--quick] [--device cuda]

Prints, per network, microseconds per step and the ratios the engine issue targets:
  numpy engine / minimal NumPy loop        (target ≤ 1.2; the batchnorm net against a loop with batchnorm)
  plain PyTorch / numpy engine, tiny net   (target ≥ 3, i.e. the engine is 3× faster)
  torch backend / plain PyTorch, mid net   (target ≤ 1.2)
With --device cuda the two PyTorch columns run on the GPU (the NumPy ones stay on the CPU, for scale) and
backend/plain is the torch backend's cost over plain PyTorch there; every step of both reads its loss back.
This is a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import os

# One thread for every library: OpenBLAS (NumPy) and OpenMP (PyTorch) threads spin while waiting and
# steal the other library's cores when candidates alternate, which would distort the ratios.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import minimal_numpy_step, plain_torch_step  # noqa: E402
from nets import benchmark_nets  # noqa: E402

from bpstudio.core.session import Session  # noqa: E402


def per_step_seconds(steps: dict[str, Callable[[], object]], budget: float, rounds: int = 9) -> dict[str, float]:
    """Median over rounds of the mean time per call, for each candidate.

    Candidates take turns within every round, so drift in machine speed (other processes, frequency
    scaling) affects them alike and cancels in the ratios.
    """
    per_round = {}
    for name, step in steps.items():
        step()
        start, calls = time.perf_counter(), 0
        while time.perf_counter() - start < 0.05:
            step()
            calls += 1
        per_round[name] = max(3, int(calls * budget / rounds / 0.05))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(per_round[name]):
                step()
            samples[name].append((time.perf_counter() - t0) / per_round[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def engine_step(spec, data, backend: str, dtype: str, device: str = "cpu") -> Callable[[], object]:
    session = Session(spec, data, backend=backend, dtype=dtype, device=device)
    return session.step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing rounds")
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="where the PyTorch columns run")
    args = parser.parse_args()
    budget = 0.5 if args.quick else 2.0
    import torch

    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"bpstudio engine benchmark — dtype {args.dtype}, batch 64, torch {torch.__version__} "
        f"(PyTorch columns on {where}), times in µs per training step\n"
    )
    header = (
        f"{'net':<24} {'numpy loop':>11} {'engine':>9} {'torch plain':>12} {'torch backend':>14}"
        f"   {'engine/loop':>11} {'plain/engine':>12} {'backend/plain':>13}"
    )
    print(header)
    print("-" * len(header))
    for name, (spec, data) in benchmark_nets().items():
        t = per_step_seconds(
            {
                "loop": minimal_numpy_step(spec, data, args.dtype),
                "engine": engine_step(spec, data, "numpy", args.dtype),
                "plain": plain_torch_step(spec, data, args.dtype, args.device),
                "backend": engine_step(spec, data, "torch", args.dtype, args.device),
            },
            budget,
        )
        loop, engine, plain, backend = t["loop"], t["engine"], t["plain"], t["backend"]
        print(
            f"{name:<24} {loop * 1e6:11.1f} {engine * 1e6:9.1f} {plain * 1e6:12.1f} {backend * 1e6:14.1f}"
            f"   {engine / loop:11.2f} {plain / engine:12.2f} {backend / plain:13.2f}"
        )
    print(
        "\ntargets: engine/loop ≤ 1.2 (the batchnorm net too) · plain/engine ≥ 3 on the tiny net · "
        "backend/plain ≤ 1.2 on the mid net"
    )


if __name__ == "__main__":
    main()
