"""bpstudio.watch goes into people's own training scripts: it imports torch and core, never Qt or the app, and
what a run needs to be read back (the writer, the sample format, the reader) imports no torch."""

import subprocess
import sys
import textwrap

import pytest


def run_isolated(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_watcher_imports_and_records_without_qt(tmp_path):
    pytest.importorskip("torch")
    out = run_isolated(f"""
        import sys
        for blocked in ("PySide6", "pyqtgraph", "PyQt5", "PyQt6"):
            sys.modules[blocked] = None   # any import of these now fails
        import torch
        import bpstudio.watch
        model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
        with bpstudio.watch.Watcher(model, {str(tmp_path)!r}) as w:
            loss = model(torch.ones(4, 2)).sum()
            loss.backward()
            w.step(loss)
        app = ("bpstudio.gui", "bpstudio.document", "bpstudio.cli")
        print(sorted(m for m in sys.modules if m.startswith(app)))
    """)
    assert out.strip() == "[]"
    assert (tmp_path / "run.sqlite").is_file()


def test_reading_a_run_needs_no_torch():
    out = run_isolated("""
        import sys
        import bpstudio.watch, bpstudio.watch.writer, bpstudio.watch.sample
        import bpstudio.core.record.watched_run, bpstudio.core.tools.run_verdicts, bpstudio.cli.runs
        print("torch" in sys.modules)
    """)
    assert out.strip() == "False"


def test_a_watcher_left_open_is_closed_when_python_exits(tmp_path):
    pytest.importorskip("torch")
    run_isolated(f"""
        import torch
        from bpstudio.watch import Watcher
        model = torch.nn.Linear(2, 1)
        w = Watcher(model, {str(tmp_path)!r})
        for _ in range(3):
            loss = model(torch.ones(4, 2)).sum()
            loss.backward()
            w.step(loss)
    """)
    import sqlite3

    with sqlite3.connect(tmp_path / "run.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM steps").fetchone() == (3,)
        assert conn.execute("SELECT value FROM run_info WHERE key = 'finished'").fetchone() == ("1",)
