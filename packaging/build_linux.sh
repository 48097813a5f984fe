#!/usr/bin/env bash
# Build bpstudio for Linux: the PyInstaller one-folder bundle, a versioned tarball and a .deb.
#
#   packaging/build_linux.sh [--flavour numpy|torch] [--out DIR]
#
# Needs, in the Python environment it runs in: bpstudio's dependencies (pip install -e .), PyInstaller
# (pip install "pyinstaller==6.22.*"), and PyTorch for --flavour torch; and dpkg-deb for the .deb.
# Writes into DIR (default dist/):
#   bpstudio-VERSION-linux-x86_64[-torch].tar.gz   the bundle: unpack anywhere, run bpstudio/bpstudio
#   bpstudio[-torch]_VERSION_amd64.deb             installs /opt/bpstudio, /usr/bin/bpstudio, menu entry, icons
# and checks the built binary with --smoke (opens the window offscreen, steps once, exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."

flavour=numpy
out=dist
while [ $# -gt 0 ]; do
    case "$1" in
        --flavour) flavour="${2:-}"; shift 2 ;;
        --flavour=*) flavour="${1#*=}"; shift ;;
        --out) out="${2:-}"; shift 2 ;;
        --out=*) out="${1#*=}"; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "build_linux.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$flavour" in numpy) suffix="" ;; torch) suffix="-torch" ;;
    *) echo "build_linux.sh: --flavour must be numpy or torch, got '$flavour'" >&2; exit 2 ;; esac
python -c "import PyInstaller" 2>/dev/null || {
    echo "build_linux.sh: PyInstaller is not installed: pip install 'pyinstaller==6.22.*'" >&2; exit 2; }
icons=resources/icons
for needed in "$icons/bpstudio.svg" "$icons/png/bpstudio-256.png" resources/org.bpstudio.bpstudio.desktop \
              resources/org.bpstudio.bpstudio.metainfo.xml; do
    [ -f "$needed" ] || { echo "build_linux.sh: missing $needed (see packaging/make_icons.py)" >&2; exit 2; }
done

version=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' bpstudio/__init__.py)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=build/linux-$flavour
started=$(date +%s)

# --- the bundle ------------------------------------------------------------------------------------------
BPSTUDIO_FLAVOUR=$flavour python -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$work/dist" --workpath "$work/pyinstaller" packaging/bpstudio.spec
bundle=$work/dist/bpstudio
# debug symbols of the Python runtime only: stripping numpy's OpenBLAS breaks it (ENVIRONMENT.md)
strip --strip-debug "$bundle"/_internal/libpython3*.so* "$bundle"/_internal/python3.*/lib-dynload/*.so
QT_QPA_PLATFORM=offscreen "$bundle/bpstudio" --smoke

# --- the tarball -----------------------------------------------------------------------------------------
name=bpstudio-$version-linux-x86_64$suffix
rm -rf "${work:?}/$name"
cp -a "$bundle" "$work/$name"
cat > "$work/$name/README.txt" <<TEXT
bpstudio $version for Linux (x86_64${suffix:+, with PyTorch}).

Run ./bpstudio (the app), ./bpstudio --help (the command line), ./bpstudio --version.
Needs a desktop with X11 (or XWayland) and the usual libraries: libgl1 libegl1 libfontconfig1
libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0. Fonts are included.
For a menu entry: copy _internal/resources/org.bpstudio.bpstudio.desktop to ~/.local/share/applications
(edit its Exec= to this folder's bpstudio) and _internal/resources/icons/bpstudio.svg to
~/.local/share/icons/hicolor/scalable/apps/.
TEXT
tar -C "$work" -czf "$out/$name.tar.gz" "$name"

# --- the .deb --------------------------------------------------------------------------------------------
package=bpstudio$suffix
arch=$(dpkg --print-architecture)
stage=$work/deb
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
         "$stage/usr/share/metainfo" "$stage/usr/share/icons/hicolor/scalable/apps" "$stage/usr/share/doc/$package"
cp -a "$bundle" "$stage/opt/bpstudio"
ln -s /opt/bpstudio/bpstudio "$stage/usr/bin/bpstudio"
install -m 644 resources/org.bpstudio.bpstudio.desktop "$stage/usr/share/applications/"
install -m 644 resources/org.bpstudio.bpstudio.metainfo.xml "$stage/usr/share/metainfo/"
install -m 644 "$icons/bpstudio.svg" "$stage/usr/share/icons/hicolor/scalable/apps/bpstudio.svg"
for png in "$icons"/png/bpstudio-*.png; do
    size=$(basename "$png" .png); size=${size#bpstudio-}
    install -D -m 644 "$png" "$stage/usr/share/icons/hicolor/${size}x${size}/apps/bpstudio.png"
done
cat > "$stage/usr/share/doc/$package/copyright" <<TEXT
bpstudio $version: MIT licence. Bundled: Python (PSF licence), Qt and PySide6 (LGPL-3.0), NumPy and
OpenBLAS (BSD), pyqtgraph (MIT), DejaVu fonts (Bitstream Vera licence)${suffix:+, PyTorch (BSD)}.
TEXT
installed_kb=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<TEXT
Package: $package
Version: $version
Architecture: $arch
Maintainer: bpstudio developers <bpstudio@localhost>
Installed-Size: $installed_kb
Section: science
Priority: optional
Depends: libc6 (>= 2.31), libgl1, libegl1, libfontconfig1, libfreetype6, libglib2.0-0, libdbus-1-3,
 libxkbcommon0, libxkbcommon-x11-0, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxcb-shape0,
 fonts-dejavu-core
$( [ "$flavour" = torch ] && echo "Conflicts: bpstudio" || echo "Conflicts: bpstudio-torch" )
Description: desktop backpropagation playground
 Draw a neural network's layers, set its weights, and step through the forward
 and backward passes one layer at a time, with the values on the neurons and the
 gradients on the edges; train live and watch per-layer gradients vanish.
TEXT
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/${package}_${version}_${arch}.deb" >/dev/null

# --- what was built ----------------------------------------------------------------------------------------
echo "built in $(( $(date +%s) - started )) s:"
echo "  bundle   $(du -sh "$bundle" | cut -f1) unpacked  ($bundle)"
echo "  tarball  $(du -h "$out/$name.tar.gz" | cut -f1)  $out/$name.tar.gz"
echo "  .deb     $(du -h "$out/${package}_${version}_${arch}.deb" | cut -f1)  $out/${package}_${version}_${arch}.deb"
