#!/usr/bin/env bash
# Build bpstudio's wheel into dist/ (pure Python: one wheel for every platform).
# Installers (PyInstaller bundles, .deb, Windows/macOS recipes) are built by the scripts added beside this one.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip wheel --no-deps --wheel-dir dist .
ls -l dist/*.whl
