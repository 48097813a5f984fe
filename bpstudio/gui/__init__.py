"""The desktop app (PySide6 + pyqtgraph). It shows what :mod:`bpstudio.core` computes; it does no math."""
