"""A long training run in the real window: does memory level off?

    python bench/soak.py [--seconds 600] [--example xor] [--trace] [--sample 30]

Plays the example at full speed in the main window (offscreen unless a display is set, e.g. under
xvfb-run) and prints, every ``--sample`` seconds, the process's resident memory, the steps trained and what
the timeline holds. With ``--trace`` it also compares Python's allocations (tracemalloc) a minute in with the
end and prints the lines whose memory grew most: that is where to look when the RSS keeps climbing. This is
a measurement, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mib() -> float:
    """Resident memory of this process (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def python_mib() -> float:
    """Memory Python's allocators hold for objects now (tracemalloc's count; NaN when not tracing)."""
    return tracemalloc.get_traced_memory()[0] / 2**20 if tracemalloc.is_tracing() else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--example", default="xor")
    parser.add_argument("--sample", type=float, default=30)
    parser.add_argument("--trace", action="store_true", help="compare Python allocations (slows training)")
    args = parser.parse_args()

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from bpstudio.gui.gc_policy import GuiThreadCollector
    from bpstudio.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    collector = GuiThreadCollector(app)
    import tempfile

    settings = QSettings(str(Path(tempfile.mkdtemp(prefix="bpstudio-soak-")) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 900)
    window.show()
    if args.example != window.document.spec.name:
        window.document.load_preset(args.example)
    window.window_actions.speed.setCurrentText("max")
    window.training.start()
    if args.trace:
        tracemalloc.start(12)
    start = time.perf_counter()
    next_sample, first = start, None
    print(
        f"{'s':>5} {'RSS MiB':>8} {'Python MiB':>10} {'steps':>9} {'kept':>6} {'timeline MiB':>12} {'disk MiB':>8}",
        flush=True,
    )
    while True:
        app.processEvents()
        QCoreApplication.sendPostedEvents()
        time.sleep(0.005)  # (the window's own timer redraws; this loop only lets events through)
        now = time.perf_counter()
        if now >= next_sample or now - start >= args.seconds:
            doc, timeline = window.document, window.document.rewind.timeline
            print(
                f"{now - start:5.0f} {rss_mib():8.1f} {python_mib():10.1f} {doc.session.step_count:9d} "
                f"{len(timeline.steps()):6d} "
                f"{timeline.memory_used / 2**20:12.2f} {timeline.disk_used / 2**20:8.2f}",
                flush=True,
            )
            next_sample += args.sample
            if args.trace and first is None and now - start >= 60:
                gc.collect()
                first = tracemalloc.take_snapshot()
        if now - start >= args.seconds:
            break
    window.training.stop()
    if args.trace and first is not None:
        gc.collect()
        last = tracemalloc.take_snapshot()
        print("\nallocations that grew most since the first minute:")
        for stat in last.compare_to(first, "traceback")[:8]:
            print(f"{stat.size_diff / 1024:+10.1f} KiB {stat.count_diff:+8d} blocks")
            for line in stat.traceback.format()[-8:]:
                print("     ", line)
    window.document.forget_changes()
    window.close()
    collector.uninstall()


if __name__ == "__main__":
    main()
