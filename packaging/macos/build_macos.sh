#!/usr/bin/env bash
# Build bpstudio for macOS: a PyInstaller bundle (dist/bpstudio.app), smoke-run it, and wrap it in a .dmg.
#
#     bash packaging/macos/build_macos.sh [--flavour numpy|torch] [--python PYTHON] [--fresh] [--no-dmg]
#
#   1. a virtual environment build/venv-macos-<flavour> (reused when it exists; --fresh makes a new one),
#   2. pip install of the project (with PyTorch 2.13.0 for --flavour torch) and PyInstaller 6.22,
#   3. pyinstaller --noconfirm --clean packaging/bpstudio.spec with BPSTUDIO_FLAVOUR=<flavour>,
#   4. an ad-hoc code signature (codesign --force --deep -s -),
#   5. a smoke run: dist/bpstudio.app/Contents/MacOS/bpstudio gui --smoke, QT_QPA_PLATFORM=offscreen,
#   6. dist/bpstudio-<version>-macos-<arch>[-torch].dmg (bpstudio.app plus an /Applications link).
# <arch> is this machine's (uname -m: arm64 or x86_64): the bundle holds this machine's Python and wheels.
# PyTorch publishes no macOS x86_64 wheels after 2.2, so --flavour torch needs an arm64 Mac.
#
# Signing: the ad-hoc signature lets the app run on the machine that built it, and on Apple Silicon at all.
# A downloaded copy is still quarantined by Gatekeeper ("cannot be opened": right-click > Open, or
# `xattr -dr com.apple.quarantine /Applications/bpstudio.app`). For distribution, sign with a
# "Developer ID Application" certificate and the hardened runtime instead of "-":
#     codesign --force --deep --options runtime --timestamp -s "Developer ID Application: NAME (TEAMID)" \
#         dist/bpstudio.app
# then sign the .dmg the same way, notarise it and staple the ticket:
#     xcrun notarytool submit dist/NAME.dmg --keychain-profile PROFILE --wait
#     xcrun stapler staple dist/NAME.dmg
set -euo pipefail

FLAVOUR=numpy
PYTHON=${PYTHON:-python3}
FRESH=0
MAKE_DMG=1
SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-180}  # seconds

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --flavour) FLAVOUR=${2:?--flavour needs numpy or torch}; shift 2 ;;
        --flavour=*) FLAVOUR=${1#*=}; shift ;;
        --python) PYTHON=${2:?--python needs an interpreter}; shift 2 ;;
        --python=*) PYTHON=${1#*=}; shift ;;
        --fresh) FRESH=1; shift ;;
        --no-dmg) MAKE_DMG=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build_macos.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done
case "$FLAVOUR" in
    numpy|torch) ;;
    *) echo "build_macos.sh: --flavour must be numpy or torch, got '$FLAVOUR'" >&2; exit 2 ;;
esac
if [ "$(uname -s)" != Darwin ]; then
    echo "build_macos.sh: this builds a macOS app and needs macOS (codesign, hdiutil)" >&2
    exit 2
fi

cd "$(dirname "$0")/../.."
ROOT=$(pwd)

# --- version and names -----------------------------------------------------------------------------------
VERSION=$(sed -n 's/^__version__[[:space:]]*=[[:space:]]*["'\'']\([^"'\'']*\)["'\''].*/\1/p' bpstudio/__init__.py)
if [ -z "$VERSION" ]; then
    echo "build_macos.sh: no __version__ = \"...\" line in bpstudio/__init__.py" >&2
    exit 1
fi
ARCH=$(uname -m)
SUFFIX=""
if [ "$FLAVOUR" = torch ]; then SUFFIX="-torch"; fi
DMG="$ROOT/dist/bpstudio-$VERSION-macos-$ARCH$SUFFIX.dmg"
APP="$ROOT/dist/bpstudio.app"
echo "bpstudio $VERSION, flavour $FLAVOUR, $ARCH -> ${DMG#"$ROOT"/}"

# --- virtual environment ---------------------------------------------------------------------------------
VENV="$ROOT/build/venv-macos-$FLAVOUR"
if [ "$FRESH" = 1 ]; then rm -rf "$VENV"; fi
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "bpstudio needs Python 3.11+: " + sys.version'
    "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install --upgrade pip
"$VPY" -m pip install "pyinstaller==6.22.*"
if [ "$FLAVOUR" = torch ]; then
    # pinned: an unpinned torch may resolve to a release the project has not tested
    "$VPY" -m pip install -e ".[torch]" "torch==2.13.0"
else
    "$VPY" -m pip install -e .
fi

# --- PyInstaller -----------------------------------------------------------------------------------------
BPSTUDIO_FLAVOUR=$FLAVOUR "$VPY" -m PyInstaller --noconfirm --clean packaging/bpstudio.spec
EXE="$APP/Contents/MacOS/bpstudio"
if [ ! -x "$EXE" ]; then
    echo "build_macos.sh: PyInstaller made no $EXE" >&2
    exit 1
fi
# the flavour must show in the bundle: torch's package folder present with torch, absent without
# (PyInstaller 6 splits a package between Contents/Frameworks and Contents/Resources, linking one to the other)
HAS_TORCH=0
if [ -n "$(find "$APP/Contents" -maxdepth 3 \( -type d -o -type l \) -name torch)" ]; then HAS_TORCH=1; fi
if [ "$FLAVOUR" = torch ] && [ "$HAS_TORCH" = 0 ]; then
    echo "build_macos.sh: torch flavour, but no torch package in the bundle" >&2; exit 1
fi
if [ "$FLAVOUR" = numpy ] && [ "$HAS_TORCH" = 1 ]; then
    echo "build_macos.sh: numpy flavour, but the bundle contains torch" >&2; exit 1
fi

# --- ad-hoc signature (see the comment at the top for real signing and notarisation) ----------------------
codesign --force --deep -s - "$APP"

# --- smoke run, killed if it hangs -----------------------------------------------------------------------
echo "+ QT_QPA_PLATFORM=offscreen ${EXE#"$ROOT"/} gui --smoke"
QT_QPA_PLATFORM=offscreen "$EXE" gui --smoke &
SMOKE_PID=$!
waited=0
while kill -0 "$SMOKE_PID" 2>/dev/null && [ "$waited" -lt "$SMOKE_TIMEOUT" ]; do
    sleep 1
    waited=$((waited + 1))
done
if kill -0 "$SMOKE_PID" 2>/dev/null; then
    kill -9 "$SMOKE_PID" 2>/dev/null || true
    wait "$SMOKE_PID" 2>/dev/null || true
    echo "build_macos.sh: smoke run did not finish within $SMOKE_TIMEOUT s" >&2
    exit 1
fi
smoke_rc=0
wait "$SMOKE_PID" || smoke_rc=$?
if [ "$smoke_rc" -ne 0 ]; then
    echo "build_macos.sh: smoke run exited with $smoke_rc" >&2
    exit 1
fi
echo "smoke run: exit 0"
codesign --verify --deep --verbose=1 "$APP"  # still intact after running

# --- disk image ------------------------------------------------------------------------------------------
if [ "$MAKE_DMG" = 0 ]; then
    echo "skipping the disk image (--no-dmg)"
    exit 0
fi
STAGING="$ROOT/build/dmg-staging"
rm -rf "$STAGING"
mkdir -p "$STAGING"
ditto "$APP" "$STAGING/bpstudio.app"  # ditto keeps symlinks, extended attributes and the signature intact
ln -s /Applications "$STAGING/Applications"
rm -f "$DMG"
# hdiutil now and then fails on CI machines with "Resource busy": try again a few times
for attempt in 1 2 3; do
    if hdiutil create -volname "bpstudio $VERSION" -srcfolder "$STAGING" -fs HFS+ -format UDZO -ov "$DMG"; then
        break
    fi
    if [ "$attempt" = 3 ]; then
        echo "build_macos.sh: hdiutil create failed 3 times" >&2
        exit 1
    fi
    echo "hdiutil create failed (attempt $attempt); retrying in 10 s" >&2
    sleep 10
done
hdiutil verify "$DMG"
rm -rf "$STAGING"
ls -lh "$DMG"
