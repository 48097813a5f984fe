"""The main window's dockable panels: which there are, where they start, and their first arrangement."""

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
    "training": ("Training", "training_panel", LEFT),
    "data": ("Data", "data_panel", LEFT),
    "loss": ("Loss", "loss_plot", BOTTOM),
    "gradients": ("Gradients per layer", "gradient_plot", BOTTOM),
    "history": ("Edit history", "undo_view", RIGHT),
    "timeline": ("Timeline", "timeline_panel", RIGHT),
}


def build(window: QMainWindow, view_menu: QMenu) -> dict[str, QDockWidget]:
    """A dock for each panel, in its area, with its show/hide entry in the View menu. The right column takes
    the window's full height (the plots under the canvas stop at it): the layer inspector and the chain rule
    need height more than the plots need width."""
    window.setCorner(Qt.Corner.BottomRightCorner, RIGHT)
    made = {}
    for key, (title, attribute, area) in PANELS.items():
        dock = QDockWidget(title, window)
        dock.setObjectName(f"{key}_dock")  # (the name QSettings stores the layout under)
        dock.setWidget(getattr(window, attribute))
        window.addDockWidget(area, dock)
        view_menu.addAction(dock.toggleViewAction())
        made[key] = dock
    return made


def arrange_default(window: QMainWindow, d: dict[str, QDockWidget], default_size: tuple[int, int]) -> None:
    """Tabs and sizes on a first start, scaled to the window (call once it is shown)."""
    window.tabifyDockWidget(d["inspector"], d["history"])
    window.tabifyDockWidget(d["inspector"], d["timeline"])
    window.tabifyDockWidget(d["training"], d["data"])
    d["inspector"].raise_()
    d["training"].raise_()
    fx, fy = window.width() / default_size[0], window.height() / default_size[1]
    window.resizeDocks([d["training"], d["inspector"]], [int(380 * fx), int(400 * fx)], Qt.Orientation.Horizontal)
    window.resizeDocks(
        [d["loss"], d["inspector"], d["explanation"]],
        [int(280 * fy), int(400 * fy), int(340 * fy)],
        Qt.Orientation.Vertical,
    )
