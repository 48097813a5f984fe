"""The main window's dockable panels: which there are, where they start, and their first arrangement.

The first screen shows what a run is about without switching tabs: the canvas, the data with the decision
surface beside it (the training settings are a tab behind it), the loss and the per-layer gradients under
them, and the run controls in the toolbar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

LEFT, RIGHT, BOTTOM = (
    Qt.DockWidgetArea.LeftDockWidgetArea,
    Qt.DockWidgetArea.RightDockWidgetArea,
    Qt.DockWidgetArea.BottomDockWidgetArea,
)
# key: (title, the window's attribute holding the panel, area); the order is the View menu's
PANELS = {
    "inspector": ("Layer", "inspector", RIGHT),
    "explanation": ("Chain rule", "explanation", RIGHT),
    "data": ("Data", "data_plot", LEFT),  # the points over the decision surface
    "training": ("Training", "training_panel", LEFT),
    "dataset": ("Data set", "data_panel", LEFT),  # which data, how many samples, the test split
    "loss": ("Loss", "loss_plot", BOTTOM),
    "gradients": ("Gradients per layer", "gradient_plot", BOTTOM),
    "history": ("Edit history", "undo_view", RIGHT),
    "timeline": ("Timeline", "timeline_panel", RIGHT),
}


def build(window: QMainWindow, view_menu: QMenu) -> dict[str, QDockWidget]:
    """A dock for each panel, in its area, with its show/hide entry in the View menu (see :func:`fit_corner`
    for the bottom-right corner)."""
    made = {}
    for key, (title, attribute, area) in PANELS.items():
        dock = QDockWidget(title, window)
        dock.setObjectName(f"{key}_dock")  # (the name QSettings stores the layout under)
        dock.setWidget(getattr(window, attribute))
        window.addDockWidget(area, dock)
        view_menu.addAction(dock.toggleViewAction())
        made[key] = dock
    # the left column's panels share it as tabs from the start: stacked, their heights would add up and make
    # the window taller than a 768-pixel screen before it is first shown
    window.tabifyDockWidget(made["data"], made["training"])
    window.tabifyDockWidget(made["data"], made["dataset"])
    return made


TALL = 900  # a window this tall or taller gives the right column its whole height


def fit_corner(window: QMainWindow, text_column: bool = False) -> None:
    """Who gets the bottom-right corner. On a tall window the right column takes the full height (the layer
    inspector and the chain rule need height more than the plots need width); on a short one (1366×768) the
    plots under the canvas run the full width, or the gradient plot has no room left for its curves — unless the
    right column holds a text to read (``text_column``: a lesson), which needs the height more."""
    area = RIGHT if window.height() >= TALL or text_column else BOTTOM
    if window.corner(Qt.Corner.BottomRightCorner) != area:
        window.setCorner(Qt.Corner.BottomRightCorner, area)


def arrange_default(window: QMainWindow, d: dict[str, QDockWidget], default_size: tuple[int, int]) -> None:
    """Tabs and sizes on a first start, scaled to the window (call once it is shown)."""
    window.tabifyDockWidget(d["inspector"], d["history"])
    window.tabifyDockWidget(d["inspector"], d["timeline"])
    d["inspector"].raise_()
    d["data"].raise_()  # the data and the decision surface beside the canvas on the first screen
    fx, fy = window.width() / default_size[0], window.height() / default_size[1]
    window.resizeDocks([d["training"], d["inspector"]], [int(380 * fx), int(400 * fx)], Qt.Orientation.Horizontal)
    window.resizeDocks(
        [d["loss"], d["inspector"], d["explanation"]],
        [int(280 * fy), int(400 * fy), int(340 * fy)],
        Qt.Orientation.Vertical,
    )
