"""The frozen app's entry point (PyInstaller runs this): the same `bpstudio` command as a pip install."""

import multiprocessing
import sys

from bpstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # (worker processes of a frozen app start through this same file)
    sys.exit(main())
