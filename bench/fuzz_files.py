"""Hostile and oversized files through the command line and the app's document: the bigger campaign.

    python bench/fuzz_files.py [--seed S] [--networks N] [--data N] [--sessions N] [--memory GiB] [--timeout s]

Makes the hand-picked hostile files and N mutated network, data and session files (from the shipped examples,
seeded: tests/hostile_files.py), runs each through every entry point that reads it (tests/hostile_runs.py:
``bpstudio train``, ``grad``, ``export --torch`` for networks; ``train --data`` for data files;
``Document.open_file`` for networks and sessions) in worker processes held to a memory limit and a time limit
per case, and prints counts: files tried, runs, and how they ended (ok, refused with one line, traceback,
memory, unclear, timeout, crash), with the first few defects of each kind. This is a measurement, not a test:
nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(args: argparse.Namespace) -> None:
    """Run cases from ``args.start`` on, printing one JSON line per case (the parent restarts after a crash)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from tests.hostile_files import make_cases
    from tests.hostile_runs import run_case

    cases = make_cases(args.seed, args.networks, args.data, args.sessions)
    limit = int(args.memory * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def too_slow(signum: int, frame: object) -> None:
        raise TimeoutError(f"over {args.timeout} s")

    signal.signal(signal.SIGALRM, too_slow)
    with tempfile.TemporaryDirectory(prefix="bpstudio-fuzz-") as folder:
        for index in range(args.start, len(cases)):
            case = cases[index]
            signal.alarm(args.timeout)
            try:
                outcomes = [(o.verdict, o.runner, o.detail) for o in run_case(case, Path(folder))]
            except TimeoutError:
                outcomes = [("timeout", "any", f"over {args.timeout} s")]
            finally:
                signal.alarm(0)
            print(json.dumps([index, case.kind, case.note, outcomes]), flush=True)


def campaign(args: argparse.Namespace) -> None:
    from tests.hostile_files import make_cases

    total = len(make_cases(args.seed, args.networks, args.data, args.sessions))
    results: dict[int, tuple[str, str, list[list[str]]]] = {}
    start = 0
    while start < total:
        command = [sys.executable, __file__, "--worker", "--start", str(start)]
        command += [f"--{k}={getattr(args, k)}" for k in ("seed", "networks", "data", "sessions", "memory", "timeout")]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        assert process.stdout is not None
        for line in process.stdout:
            index, kind, note, outcomes = json.loads(line)
            results[index] = (kind, note, outcomes)
            start = index + 1
            if not args.quiet and index % 100 == 0:
                print(f"  {index + 1}/{total}", file=sys.stderr, flush=True)
        process.wait()
        if start < total and process.returncode != 0:  # the worker died on this case (a crash in C code)
            results[start] = ("?", "", [["crash", "any", f"worker exit {process.returncode}"]])
            start += 1
    report(results, args.defects)


def report(results: dict[int, tuple[str, str, list[list[str]]]], defects: str | None = None) -> None:
    files = collections.Counter(kind for kind, _, _ in results.values())
    print(f"files tried: {sum(files.values())} ({', '.join(f'{n} {k}' for k, n in sorted(files.items()))})")
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    examples: dict[str, list[str]] = collections.defaultdict(list)
    for kind, note, outcomes in results.values():
        for verdict, runner, detail in outcomes:
            if runner == "write":
                continue
            by_kind[kind][verdict] += 1
            if verdict not in ("ok", "refused") and len(examples[verdict]) < 8:
                examples[verdict].append(f"{kind} ({note}) via {runner}: {detail[:160]}")
    for kind, counts in sorted(by_kind.items()):
        runs = sum(counts.values())
        print(f"{kind} runs: {runs}: " + ", ".join(f"{v} {counts[v]}" for v in sorted(counts)))
    if defects is not None:  # every defect, one a line
        with open(defects, "w", encoding="utf-8", errors="backslashreplace") as f:
            for index, (kind, note, outcomes) in sorted(results.items()):
                for verdict, runner, detail in outcomes:
                    if verdict not in ("ok", "refused"):
                        f.write(f"{index}\t{kind}\t{note[:60]!r}\t{runner}\t{verdict}\t{detail[:300]!r}\n")
    for verdict, lines in sorted(examples.items()):
        print(f"first {verdict} cases:")
        for line in lines:
            print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--data", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--memory", type=float, default=3.0, help="the memory limit per worker, GiB")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--worker", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--defects", metavar="FILE", help="write every defect found to FILE, one a line")
    args = parser.parse_args()
    worker(args) if args.worker else campaign(args)


if __name__ == "__main__":
    main()
