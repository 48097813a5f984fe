"""The About dialog, the app's icon and its freedesktop files: what a person sees in Help ▸ About, what Copy puts
on the clipboard, and that the icon and desktop files are found and valid wherever bpstudio runs."""

import configparser
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QSize, Qt, qVersion
from PySide6.QtGui import QIcon, QImage, QImageReader
from PySide6.QtWidgets import QApplication

import bpstudio
from bpstudio import cli
from bpstudio.core import backends
from bpstudio.gui import resources
from bpstudio.gui.about_dialog import CHECKING, AboutDialog
from bpstudio.gui.resources import app_icon, resource_path
from tests.gui.driving import menu

ROOT = Path(__file__).resolve().parents[2]
DESKTOP = ROOT / "resources" / "org.bpstudio.bpstudio.desktop"
METAINFO = ROOT / "resources" / "org.bpstudio.bpstudio.metainfo.xml"
HAS_TORCH = importlib.util.find_spec("torch") is not None


def shown_dialog(qtbot):
    """An About dialog on screen, with its PyTorch rows filled in."""
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    assert dialog.rows["PyTorch"].text() == CHECKING  # nothing imported while building it
    with qtbot.waitSignal(dialog.torch_checked, timeout=20000):
        dialog.show()
    return dialog


# --- the dialog ---------------------------------------------------------------------------------------------


def test_about_shows_the_version_and_numpy(qtbot):
    dialog = shown_dialog(qtbot)
    assert dialog.title.text() == f"bpstudio {bpstudio.__version__}"
    assert dialog.rows["NumPy"].text() == importlib.metadata.version("numpy")
    assert dialog.rows["Python"].text().startswith(".".join(map(str, sys.version_info[:3])))
    assert dialog.rows["Qt"].text().startswith(qVersion())


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_torch_rows_fill_in_after_the_dialog_is_shown(qtbot):
    import torch

    dialog = shown_dialog(qtbot)
    assert dialog.rows["PyTorch"].text() == importlib.metadata.version("torch")
    cuda = dialog.rows["CUDA"].text()
    if torch.cuda.is_available():
        assert torch.cuda.get_device_name(0) in cuda
    else:
        assert cuda.startswith("not available: ")
        reason = backends.available()["torch/cuda"]
        assert reason is None or cuda == f"not available: {reason}"
        if torch.version.cuda is None:  # this machine's CPU build
            assert "CPU-only" in cuda


def test_without_torch_the_dialog_says_not_installed(qtbot, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a, **k: None if name == "torch" else real_find_spec(name, *a, **k)
    )
    monkeypatch.setitem(sys.modules, "torch", None)  # an attempt to import it anyway would fail
    dialog = shown_dialog(qtbot)
    assert dialog.rows["PyTorch"].text() == "not installed"
    assert dialog.rows["CUDA"].text() == "not available: PyTorch is not installed (pip install 'bpstudio[torch]')"


def test_the_check_runs_off_the_gui_thread_and_copy_waits_for_it(qtbot, monkeypatch):
    import threading

    from bpstudio.gui import about_dialog

    release, threads = threading.Event(), []

    def slow_rows():
        threads.append(threading.current_thread())
        assert release.wait(30)
        return "9.9", "not available: testing"

    monkeypatch.setattr(about_dialog, "torch_rows", slow_rows)
    dialog = AboutDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: bool(threads), timeout=5000)  # the dialog is up while the check still runs
    assert threads[0] is not threading.main_thread()
    assert dialog.rows["PyTorch"].text() == CHECKING and not dialog.copy_button.isEnabled()
    with qtbot.waitSignal(dialog.torch_checked, timeout=10000):
        release.set()
    assert dialog.rows["PyTorch"].text() == "9.9" and dialog.copy_button.isEnabled()


def test_copy_puts_everything_on_the_clipboard(qtbot):
    dialog = shown_dialog(qtbot)
    QApplication.clipboard().setText("something else")
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    text = QApplication.clipboard().text()
    assert text.splitlines()[0] == f"bpstudio {bpstudio.__version__}"
    assert f"NumPy: {importlib.metadata.version('numpy')}" in text.splitlines()
    assert f"PyTorch: {dialog.rows['PyTorch'].text()}" in text.splitlines()
    assert f"CUDA: {dialog.rows['CUDA'].text()}" in text.splitlines()
    assert CHECKING not in text


def test_help_menu_opens_the_about_dialog(qtbot, window):
    menu(window, "Help", "About bpstudio").trigger()
    dialog = window.findChild(AboutDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.title.text() == f"bpstudio {bpstudio.__version__}"
    dialog.close()


def test_main_window_does_not_import_torch_until_about_is_opened(tmp_path):
    code = textwrap.dedent("""
        import sys
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from bpstudio.gui.main_window import MainWindow
        w = MainWindow(QSettings(sys.argv[1], QSettings.Format.IniFormat))
        w.show()
        for _ in range(20):
            app.processEvents()
        print("window", "torch" in sys.modules)
        from bpstudio.gui.about_dialog import AboutDialog
        d = AboutDialog(w)
        print("dialog built", "torch" in sys.modules)
        from PySide6.QtCore import QEventLoop
        loop = QEventLoop()
        d.torch_checked.connect(loop.quit)
        d.show()
        d.check_torch()
        if not d.torch_is_checked:
            loop.exec()
        print("dialog checked", "torch" in sys.modules)
        w.document.undo_stack.set_clean()
        w.close()
    """)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.ini")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "window False" in lines
    assert "dialog built False" in lines
    assert f"dialog checked {HAS_TORCH}" in lines  # (the check above can see torch being imported)


# --- the icon -----------------------------------------------------------------------------------------------


def test_resource_path_finds_the_icon_in_this_checkout():
    assert resource_path("icons/bpstudio.svg") == ROOT / "resources" / "icons" / "bpstudio.svg"
    assert resource_path("icons/no-such-file.svg") is None


def test_resource_path_in_a_bundle_and_in_a_pip_install(tmp_path, monkeypatch):
    bundle = tmp_path / "bundle"
    (bundle / "resources" / "icons").mkdir(parents=True)
    (bundle / "resources" / "icons" / "bpstudio.svg").write_text("<svg/>")
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert resource_path("icons/bpstudio.svg") == bundle / "resources" / "icons" / "bpstudio.svg"
    monkeypatch.delattr(sys, "_MEIPASS")
    # a pip install: the package in site-packages, resources under <prefix>/share/bpstudio
    monkeypatch.setattr(bpstudio, "__file__", str(tmp_path / "site-packages" / "bpstudio" / "__init__.py"))
    prefix = tmp_path / "prefix"
    (prefix / "share" / "bpstudio" / "icons").mkdir(parents=True)
    (prefix / "share" / "bpstudio" / "icons" / "bpstudio.svg").write_text("<svg/>")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    assert resource_path("icons/bpstudio.svg") == prefix / "share" / "bpstudio" / "icons" / "bpstudio.svg"
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(resources.site, "getuserbase", lambda: str(tmp_path / "userbase"))
    assert resource_path("icons/bpstudio.svg") is None


def test_window_icon_is_bpstudios(qapp):
    old = QApplication.windowIcon()
    try:
        QApplication.setWindowIcon(app_icon())
        icon = QApplication.windowIcon()
        assert not icon.isNull()
        image = icon.pixmap(QSize(64, 64)).toImage()
        assert image.pixelColor(10, 32).name() == "#1f2a44"  # the dark square, left of the input nodes
        assert image.pixelColor(48, 32).name() == "#ff9a3c"  # the orange output node
        assert image.pixelColor(1, 1).alpha() == 0  # transparent outside the rounded square
    finally:
        QApplication.setWindowIcon(old)


def test_without_resources_the_icon_comes_from_the_theme(qapp, tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "resource_path", lambda relative: None)
    old = QIcon.fallbackSearchPaths()
    try:
        QIcon.setFallbackSearchPaths([])
        assert app_icon().isNull()  # nothing anywhere: a null icon, no error
        shutil.copy(ROOT / "resources" / "icons" / "png" / "bpstudio-48.png", tmp_path / "bpstudio.png")
        QIcon.setFallbackSearchPaths([str(tmp_path)])
        assert not app_icon().isNull()
    finally:
        QIcon.setFallbackSearchPaths(old)


def test_generated_icons_match_the_svg(qapp):
    icons = ROOT / "resources" / "icons"
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        image = QImage(str(icons / "png" / f"bpstudio-{size}.png"))
        assert (image.width(), image.height()) == (size, size)
    reference = QIcon(str(icons / "bpstudio.svg")).pixmap(QSize(32, 32)).toImage()
    png = QImage(str(icons / "png" / "bpstudio-32.png"))
    assert _mean_difference(reference, png) < 3, "run packaging/make_icons.py after editing the SVG"
    for name, sizes in (
        ("bpstudio.ico", [16, 24, 32, 48, 64, 128, 256]),
        ("bpstudio.icns", [16, 32, 64, 128, 256, 512, 32, 64, 256, 512, 1024]),
    ):
        reader = QImageReader(str(icons / name))
        found = []
        for i in range(reader.imageCount()):
            reader.jumpToImage(i)
            found.append(reader.read().width())
        assert found == sizes, name


def _mean_difference(a, b):
    a = a.convertToFormat(QImage.Format.Format_RGBA8888)
    b = b.convertToFormat(QImage.Format.Format_RGBA8888)
    total = sum(abs(x - y) for x, y in zip(bytes(a.constBits()), bytes(b.constBits())))
    return total / (a.width() * a.height() * 4)


# --- the freedesktop files ----------------------------------------------------------------------------------


def read_desktop_entry():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_has_the_required_fields():
    entry = read_desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] == "bpstudio"
    assert entry["Icon"] == "bpstudio"
    assert (ROOT / "resources" / "icons" / f"{entry['Icon']}.svg").is_file()
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    # Exec runs the command-line entry point: it must open the GUI with the file the desktop passes
    words = shlex.split(entry["Exec"])
    assert words[0] == "bpstudio"
    assert [w for w in words if w.startswith("%")] == ["%f"]
    args = cli.build_parser().parse_args([w.replace("%f", "/tmp/net.json") for w in words[1:]])
    assert (args.command, args.file) == ("gui", "/tmp/net.json")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["bpstudio"] == "bpstudio.cli:main"


def test_metainfo_matches_the_desktop_file():
    root = ET.parse(METAINFO).getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") + ".desktop" == DESKTOP.name
    assert root.findtext("launchable[@type='desktop-id']") == DESKTOP.name
    assert root.findtext("provides/binary") == "bpstudio"
    assert root.find("releases/release").get("version") == bpstudio.__version__
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert len(root.findall("description/ul/li")) >= 3


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="appstreamcli is not installed")
def test_metainfo_passes_appstreamcli():
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(METAINFO)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
