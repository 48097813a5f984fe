"""bpstudio: a desktop backpropagation playground.

The math lives in :mod:`bpstudio.core` (Qt-free); the desktop app in :mod:`bpstudio.gui`;
headless commands in :mod:`bpstudio.cli`.
"""

__version__ = "0.1.0"
