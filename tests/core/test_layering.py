"""Architecture rules: core never imports Qt, and torch is imported only when chosen."""

import subprocess
import sys
import textwrap


def run_isolated(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_core_imports_and_trains_without_qt_or_torch():
    out = run_isolated("""
        import importlib, pkgutil, sys
        for blocked in ("PySide6", "pyqtgraph", "PyQt5", "PyQt6"):
            sys.modules[blocked] = None   # any import of these now fails
        import bpstudio.core
        names = [m.name for m in pkgutil.walk_packages(bpstudio.core.__path__, "bpstudio.core.")
                 if m.name != "bpstudio.core.backends.torch_backend"]
        for name in names:
            importlib.import_module(name)
        from bpstudio.core.io import presets
        from bpstudio.core.datasets import resolve_split
        from bpstudio.core.session import Session
        spec = presets.load("xor")
        Session(spec, resolve_split(dict(spec.data))[0]).run(3)
        print(len(names), "torch" in sys.modules)
    """)
    count, torch_loaded = out.split()
    assert int(count) >= 12 and torch_loaded == "False"


def test_the_cli_does_not_import_qt_or_torch_for_headless_commands():
    out = run_isolated("""
        import sys
        from bpstudio import cli
        cli.main(["presets"])
        print(sorted(m for m in ("PySide6", "pyqtgraph", "torch") if m in sys.modules))
    """)
    assert out.strip().endswith("[]")
