"""The Linux installers, built for real (slow: about a minute and a half): packaging/build_linux.sh makes the
PyInstaller bundle, the tarball and the .deb; the binary from each starts offscreen with --smoke, steps the
default example once and exits 0, drawing text with its own fonts on a system that has none."""

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from bpstudio import __version__

ROOT = Path(__file__).resolve().parents[2]
NO_FONTS = (
    '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><cachedir>{cache}</cachedir></fontconfig>'
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb (Debian's packaging tool) is not here"),
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed (pip install -e '.[test]')")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [str(ROOT / "packaging" / "build_linux.sh"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    print(done.stdout[-400:])  # the sizes and build time (shown with pytest -s)
    return out


def run_smoke(binary, tmp_path, bare=False):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "BPSTUDIO_SMOKE_SCREENSHOT": str(tmp_path / "window.png")}
    if bare:  # a system without fonts (fontconfig finds none): the bundle's own must be used
        (tmp_path / "fonts.conf").write_text(NO_FONTS.format(cache=tmp_path / "fc-cache"))
        env["FONTCONFIG_FILE"] = str(tmp_path / "fonts.conf")
    return subprocess.run([str(binary), "--smoke"], capture_output=True, text=True, timeout=120, env=env)


def test_the_tarball_holds_a_bundle_that_starts_steps_and_draws_text_without_system_fonts(built, tmp_path):
    tarball = built / f"bpstudio-{__version__}-linux-x86_64.tar.gz"
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path, filter="data")
    top = f"bpstudio-{__version__}-linux-x86_64"
    assert f"{top}/bpstudio" in names and f"{top}/README.txt" in names
    assert not any("torch" in name.split("/")[2:3] for name in names if name.count("/") >= 2)  # numpy flavour
    assert not any(part in name.lower() for name in names for part in ("qt6qml", "qt6quick", "libqpdf", "webengine"))
    binary = tmp_path / top / "bpstudio"
    done = run_smoke(binary, tmp_path, bare=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "one step: loss 0.735763" in done.stdout and "fonts: bundled" in done.stdout
    assert (tmp_path / "window.png").stat().st_size > 50_000  # (a window of text and plots, not a blank one)
    digits = tmp_path / "digits.json"  # the real data set shipped inside the package: in the bundle too
    shutil.copy(ROOT / "bpstudio" / "presets" / "digits.json", digits)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([str(binary), str(digits), "--smoke"], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and "network 'Handwritten digits" in done.stdout, done.stdout + done.stderr
    assert (
        subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
        == f"bpstudio {__version__}"
    )


def test_the_deb_installs_the_app_its_menu_entry_and_icons(built, tmp_path):
    deb = next(built.glob(f"bpstudio_{__version__}_*.deb"))
    control = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True, text=True, check=True).stdout
    assert f"Package: bpstudio\nVersion: {__version__}" in control and "fonts-dejavu-core" in control
    contents = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True).stdout
    for path in (
        "./opt/bpstudio/bpstudio",
        "./usr/share/applications/org.bpstudio.bpstudio.desktop",
        "./usr/share/metainfo/org.bpstudio.bpstudio.metainfo.xml",
        "./usr/share/icons/hicolor/scalable/apps/bpstudio.svg",
        "./usr/share/icons/hicolor/48x48/apps/bpstudio.png",
    ):
        assert path in contents, path
    assert "./usr/bin/bpstudio -> /opt/bpstudio/bpstudio" in contents and "root/root" in contents
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "root")], check=True)
    done = run_smoke(tmp_path / "root" / "opt" / "bpstudio" / "bpstudio", tmp_path)
    assert done.returncode == 0 and "one step: loss 0.735763" in done.stdout, done.stdout + done.stderr
