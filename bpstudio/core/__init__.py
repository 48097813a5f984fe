"""The Qt-free engine: network spec, layers, backends, stepping session, data, gradient check.

Nothing here imports Qt or pyqtgraph (a test enforces it), and torch is imported only when the torch
backend is chosen.
"""
