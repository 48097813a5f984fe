"""The topology canvas: a network drawn as blocks and neurons, edited by mouse gestures."""

from bpstudio.gui.canvas.palette import LayerPalette
from bpstudio.gui.canvas.view import TopologyView

__all__ = ["LayerPalette", "TopologyView"]
