"""The app while it trains: throughput against the same training headless, main-thread latency, start time.

    python bench/bench_gui.py [--seconds 3] [--rounds 5] [--nets xor 2-1000-1000-1 ...]
    xvfb-run -a python bench/bench_gui.py        # with a real X display instead of Qt's offscreen one

For each network (three examples, and two wide nets from bench/nets.py: 2-1000-1000-1 on the circles and
64-256-256-10 on 64-feature blobs), each round runs, back to back,
  headless: the same session stepped in a plain loop, recording the same history points, no Qt at all;
  window:   the main window open with live plots and canvas, training at full speed in its worker thread;
  probed:   the window again, while a 5 ms timer on the GUI thread measures how late the event loop serves it;
and prints steps per second and the ratio window/headless (target ≥ 0.8: the median of the rounds' ratios, as
the machine's speed drifts between rounds) and the p99 lateness of the probed runs (target ≤ 30 ms). The rates
come from the runs without the probe: its 200 wake-ups a second each take Python's interpreter from the worker,
which the window alone does not. "pause" is the longest Pause took (until the window shows the final state).
On a busy machine the rates swing with the other processes; two CPU figures hold up better: "cpu ratio" is
the CPU time of a headless step over that of a step on the worker's thread (1.00: the window's worker does
nothing beyond training) and "GUI cpu" the GUI thread's share of one core. Then (unless --quick) the time one
canvas redraw of the deep sigmoid net takes, and the time its neuron pictures take to compute (worker) and
to build and paint (GUI thread) when new maps arrive (no targets; the pacer budgets them). Last, the time
from process start to the window shown (`bpstudio gui --smoke`, target ≤ 1.0 s, and torch must not be
loaded by then). A measurement, not a test: nothing passes or fails here.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nets import window_nets  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bpstudio.core.record.history import TrainingHistory  # noqa: E402
from bpstudio.core.session import Session  # noqa: E402

WIDE_NETS = window_nets()
NETS = ("xor", "deep_sigmoid", "spiral", *WIDE_NETS)
TICK_MS = 5


def thread_cpu() -> dict[int, float]:
    """CPU seconds each thread of this process has used so far (Linux's /proc; elsewhere empty)."""
    ticks, used = os.sysconf("SC_CLK_TCK"), {}
    for task in Path("/proc/self/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def headless_rate(window, seconds: float) -> tuple[float, float]:
    """Steps per second of the document's network trained in a plain loop on a copy of its session, and the
    CPU seconds a step took."""
    doc = window.document
    s = doc.session
    session = Session(s.spec, doc.train_data, batch_size=s.batch_size, params=s.params_numpy())
    history = TrainingHistory(doc.history.layer_ids)
    ids = history.layer_ids
    steps, start, cpu = 0, time.perf_counter(), time.thread_time()
    while time.perf_counter() - start < seconds:
        trace = session.step()
        norms = trace.grad_norms()
        history.record(trace.step, float(trace.loss), {k: norms.get(k, math.nan) for k in ids})
        steps += 1
    return steps / (time.perf_counter() - start), (time.thread_time() - cpu) / steps


def open_net(window, name: str, folder: Path) -> None:
    """Open an example, or one of the wide nets written to a network file in ``folder``."""
    if name not in WIDE_NETS:
        window.files.open_example(name)
        return
    path = folder / f"{name}.json"
    path.write_text(json.dumps(WIDE_NETS[name]))
    window.files.open(str(path), ask=False)


def window_rate(app, window, seconds: float, probe: bool = False) -> dict:
    """What the window did while its worker trained for ``seconds``: steps per second (``rate``), how long
    Pause took in ms (``pause``: from the call until the window has taken the final state in), the CPU seconds
    a step took on the worker's thread (``step_cpu``) and the GUI thread's share of a core (``gui_cpu``); with
    ``probe``, the GUI thread's timer lateness in ms (``lateness``). The CPU figures hold up on a busy machine,
    the rates do not. The probe wakes the GUI thread 200 times a second, each time taking Python's interpreter
    from the worker (a small net trained ~10% slower with it): the window alone does not, so the rates come
    from rounds without it."""
    doc = window.document
    lateness: list[float] = []
    clock = QElapsedTimer()
    tick = QTimer()
    tick.setInterval(TICK_MS)

    def on_tick() -> None:
        lateness.append(max(0.0, clock.restart() - TICK_MS))

    if probe:
        tick.timeout.connect(on_tick)
    first = doc.session.step_count
    main = threading.get_native_id()
    before = thread_cpu()
    start = time.perf_counter()
    window.training.start()
    clock.start()
    tick.start()
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    tick.stop()
    paused = time.perf_counter()
    trained = doc.session.step_count - first  # (read without the lock: Pause's own time is not training time)
    after = thread_cpu()
    window.training.stop()
    stop_ms = 1000 * (time.perf_counter() - paused)
    app.processEvents()
    worker = sum(cpu for tid, cpu in after.items() if tid not in before)  # (the thread training started)
    gui = after.get(main, math.nan) - before.get(main, math.nan)
    return {
        "rate": trained / (paused - start),
        "lateness": lateness[1:],
        "pause": stop_ms,
        "step_cpu": worker / max(trained, 1),
        "gui_cpu": gui / (paused - start),
    }


def canvas_redraw_ms(app, window, name: str = "deep_sigmoid", repeats: int = 7) -> float:
    """Median time to redraw and paint the canvas for ``name`` mid-backward (values and gradients shown)."""
    window.files.open_example(name)
    doc = window.document
    session = Session(doc.spec, doc.train_data, params=doc.session.params_numpy())
    while session.next_phase.kind != "backward" or session.next_phase.layer == doc.spec.output:
        session.advance()
    trace, params, spec = session.trace.to_numpy(), session.params_numpy(), doc.spec
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        window.canvas.show_network(spec, params, trace, session.next_phase)
        window.canvas.viewport().repaint()
        times.append(time.perf_counter() - start)
    app.processEvents()
    return 1000 * statistics.median(times)


def neuron_pictures_ms(app, window, name: str = "deep_sigmoid", repeats: int = 7) -> tuple[float, float]:
    """Median time to compute the neuron maps of ``name`` (the worker's share, every evaluation) and to turn
    them into the canvas's pictures and paint them (the GUI thread's share, once per new maps)."""
    from bpstudio.core.tools.neuron_maps import neuron_maps

    window.files.open_example(name)
    app.processEvents()
    doc = window.document
    compute, draw = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        maps = neuron_maps(doc.session, doc.train_data)
        compute.append(time.perf_counter() - start)
        start = time.perf_counter()
        window.canvas.show_neuron_maps(maps)
        window.canvas.viewport().repaint()
        draw.append(time.perf_counter() - start)
    return 1000 * statistics.median(compute), 1000 * statistics.median(draw)


def startup_seconds() -> tuple[float, str]:
    out = subprocess.run(
        [sys.executable, "-m", "bpstudio", "gui", "--smoke"],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")},
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr.strip()[-200:]
    seconds = float(line.split("window shown ")[1].split(" s")[0]) if "window shown" in line else math.nan
    return seconds, line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--nets", nargs="+", choices=NETS, default=NETS, help="which networks to measure")
    parser.add_argument("--quick", action="store_true", help="only the throughput and latency table")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from bpstudio.gui.main_window import MainWindow

    folder = Path(tempfile.mkdtemp())
    settings = QSettings(str(folder / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1500, 950)
    window.show()
    window.window_actions.speed.setCurrentText("max")  # (examples open at a watchable pace)
    platform = app.platformName()
    print(
        f"bpstudio GUI benchmark — Qt platform '{platform}', {args.rounds} rounds of {args.seconds:g} s, "
        f"NumPy backend, one BLAS thread\n"
    )
    header = (
        f"{'net':<14} {'headless steps/s':>17} {'window steps/s':>15} {'ratio':>6}   "
        f"{'latency p50':>11} {'p99':>6} {'max':>6} {'pause':>6} (ms)   {'cpu ratio':>9} {'GUI cpu':>7}   "
        "ratio by round"
    )
    print(header)
    print("-" * len(header))
    for name in args.nets:
        window.document.forget_changes()  # trained steps are not worth a "save changes?" prompt here
        open_net(window, name, folder)
        app.processEvents()
        head, head_cpu, runs, probed = [], [], [], []
        for _ in range(args.rounds):
            rate, cpu = headless_rate(window, args.seconds)
            head.append(rate)
            head_cpu.append(cpu)
            for probe in (False, True):  # the rates without the latency probe, the latency with it
                (probed if probe else runs).append(window_rate(app, window, args.seconds, probe))
                window.document.reset_training()
                app.processEvents()
        gui = [r["rate"] for r in runs]
        h, g = statistics.median(head), statistics.median(gui)
        ratio = statistics.median(b / a for a, b in zip(head, gui))  # (each round's pair: the machine drifts)
        late = sorted(x for r in probed for x in r["lateness"])
        p50 = late[len(late) // 2] if late else math.nan
        p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else math.nan
        cpu_ratio = statistics.median(head_cpu) / statistics.median(r["step_cpu"] for r in runs)
        gui_cpu = statistics.median(r["gui_cpu"] for r in runs)
        print(
            f"{name:<14} {h:17.0f} {g:15.0f} {ratio:6.2f}   {p50:11.1f} {p99:6.1f} {max(late, default=math.nan):6.1f} "
            f"{max(r['pause'] for r in runs + probed):6.0f}   {cpu_ratio:9.2f} {gui_cpu:7.0%}   "
            + " ".join(f"{b / a:.2f}" for a, b in zip(head, gui)),
            flush=True,
        )
    window.document.forget_changes()
    if args.quick:
        window.close()
        return
    redraw = canvas_redraw_ms(app, window)
    print(f"\ncanvas redraw, deep_sigmoid mid-backward (values and gradients shown): {redraw:.1f} ms")
    window.document.forget_changes()
    maps_ms, pictures_ms = neuron_pictures_ms(app, window)
    print(
        f"neuron pictures, deep_sigmoid (83 neurons): maps {maps_ms:.1f} ms, "
        f"pictures built and painted {pictures_ms:.1f} ms"
    )
    window.document.forget_changes()
    window.close()
    seconds, line = startup_seconds()
    print(f"\nstart to window shown: {seconds:.2f} s   ({line})")
    print("\ntargets: window/headless ≥ 0.8 · latency p99 ≤ 30 ms · start ≤ 1.0 s without torch")


if __name__ == "__main__":
    main()
