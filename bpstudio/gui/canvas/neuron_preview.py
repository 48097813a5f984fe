"""The enlarged picture of the neuron under the mouse: its output over the input plane, with the axes, the
colour scale its layer shares (and how core chose it), and where the first sample lies. It floats over the
canvas's viewport beside the neuron, in screen pixels whatever the zoom, and follows the hover."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QGraphicsView, QWidget

from bpstudio.core.tools.neuron_maps import LayerMaps
from bpstudio.gui.canvas import style
from bpstudio.gui.canvas.neuron_pictures import pictures
from bpstudio.gui.canvas.scene import CanvasScene, Hit
from bpstudio.gui.qt_utils import format_number

SIDE = 176  # the picture's side in screen pixels
PAD = 10
BAR_H = 10
GAP = 14  # between the neuron and the preview
TITLE_H, AXIS_H, SCALE_H = 22, 16, 16
LEFT = PAD + AXIS_H  # the picture's left edge: the x2 axis's words stand in the strip before it
WIDTH = LEFT + SIDE + PAD
MARKER = QColor(20, 20, 20)
NOTE_FLAGS = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap


@dataclass(frozen=True, eq=False)
class PreviewContent:
    """What the preview shows, read off the canvas for one neuron."""

    layer: str
    unit: int
    activation: str
    picture: QImage  # one pixel per grid point (the canvas's picture of the neuron)
    maps: LayerMaps
    xs: tuple[float, float]  # the plane's extent along x1 and x2
    ys: tuple[float, float]
    sample: tuple[float, float] | None = None  # the first sample's inputs, when a step has run
    mode: str = ""  # core's note that the pictures are in evaluation mode, where that differs from training


def preview_content(scene: CanvasScene, layer: str, unit: int) -> PreviewContent | None:
    """What the preview shows for neuron ``unit`` of ``layer`` (None: it has no picture)."""
    overlay, maps, net = scene.overlays.get(layer), scene.neuron_maps, scene.net
    if overlay is None or not overlay.has_pictures or overlay.maps is None or maps is None or net is None:
        return None
    state = net.layers[layer]
    source = next((s for s in net.layers.values() if s.type == "input"), None)
    sample = source.out if source is not None else None
    return PreviewContent(
        layer,
        unit,
        "input" if state.type == "input" else state.activation,
        overlay.pictures[unit],
        overlay.maps,
        (float(maps.xs[0]), float(maps.xs[-1])),
        (float(maps.ys[0]), float(maps.ys[-1])),
        (float(sample[0]), float(sample[1])) if sample is not None and len(sample) == 2 else None,
        maps.mode,
    )


class NeuronPreview(QWidget):
    """Floats over the canvas beside the hovered neuron; mouse events pass through it."""

    def __init__(self, view: QGraphicsView, scene: CanvasScene):
        super().__init__(view.viewport())
        self._view, self._scene = view, scene
        self.setObjectName("neuron_preview")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.content: PreviewContent | None = None
        self._image = QImage()
        self._bar = QImage()
        self.picture_rect = QRect(LEFT, PAD + TITLE_H, SIDE, SIDE)
        self._bar_rect = QRect(LEFT, self.picture_rect.bottom() + 1 + AXIS_H + 4, SIDE, BAR_H)
        self._note_top = self._bar_rect.bottom() + 1 + SCALE_H + 2
        self._note = QRectF()
        self.resize(WIDTH, self._note_top + PAD)
        self.hide()

    @property
    def shown_for(self) -> tuple[str, int] | None:
        """(layer, unit) of the neuron shown, while shown."""
        return (self.content.layer, self.content.unit) if self.content is not None and self.isVisible() else None

    def hover(self, hit: Hit | None) -> None:
        """Show the enlarged picture of the neuron under the mouse (if it has one), else none."""
        content = preview_content(self._scene, hit.layer, hit.index[0]) if hit and hit.kind == "neuron" else None
        if content is None:
            self.hide_preview()
            return
        circle = self._scene.neuron_circle(content.layer, content.unit)
        self.show_for(content, self._view.mapFromScene(circle).boundingRect())

    def refresh(self) -> None:
        """After a redraw or new maps: show the same neuron's new picture (or go, if it has none now)."""
        shown = self.shown_for
        if shown is not None:
            self.hover(Hit("neuron", shown[0], (shown[1],)))

    def show_for(self, content: PreviewContent, anchor: QRect) -> None:
        """Show ``content`` beside ``anchor`` (the neuron's circle, in the parent's pixels)."""
        old = self.content
        self.content = content
        if old is None or content.picture is not old.picture:
            self._image = content.picture.scaled(
                SIDE, SIDE, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            m = content.maps
            ramp = LayerMaps(np.linspace(m.low, m.high, SIDE)[None, None, :], m.low, m.high, m.scale)
            self._bar = pictures(ramp)[0]
            self.setToolTip(html.escape(m.scale))
        self._fit_note()
        self._place(anchor)
        self.show()
        self.raise_()
        self.update()

    def hide_preview(self) -> None:
        self.content = None
        self.hide()

    def scale_labels(self) -> tuple[str, str, str]:
        """The colour bar's labels: its low end, middle and high end."""
        assert self.content is not None
        m = self.content.maps
        return format_number(m.low, 3), format_number(m.middle, 3), format_number(m.high, 3)

    def _place(self, anchor: QRect) -> None:
        parent = self.parentWidget()
        room = parent.rect() if parent is not None else QRect(0, 0, 10_000, 10_000)
        x = anchor.left() - GAP - self.width()
        if x < room.left() + 4:
            x = anchor.right() + GAP
        y = anchor.center().y() - self.height() // 2
        y = max(room.top() + 4, min(y, room.bottom() - self.height() - 4))
        self.move(x, y)

    def paintEvent(self, event: QPaintEvent) -> None:
        content = self.content
        if content is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        f = style.fonts()
        p.setPen(QPen(style.FAINT, 1.0))
        p.setBrush(QColor(255, 255, 255, 245))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        p.setPen(style.INK)
        p.setFont(f.subtitle)
        what = "" if content.activation == "input" else f" · {content.activation}"
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        p.drawText(QRectF(PAD, PAD, WIDTH - 2 * PAD, TITLE_H - 4), left, f"{content.layer}[{content.unit}]{what}")
        pic = self.picture_rect
        p.drawImage(pic, self._image)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(style.FAINT, 1.0))
        p.drawRect(QRectF(pic).adjusted(-0.5, -0.5, 0.5, 0.5))
        if content.sample is not None:
            self._draw_sample(p, content)
        p.setFont(f.caption)
        p.setPen(style.MUTED)
        (lo_x, hi_x), (lo_y, hi_y) = content.xs, content.ys
        axis = QRectF(LEFT, pic.bottom() + 1, SIDE, AXIS_H)
        p.drawText(axis, Qt.AlignmentFlag.AlignCenter, f"x1 → {format_number(lo_x, 3)} … {format_number(hi_x, 3)}")
        p.save()
        p.translate(PAD, pic.bottom() + 1)
        p.rotate(-90)  # the strip left of the picture, read bottom to top
        vertical = f"x2 → {format_number(lo_y, 3)} … {format_number(hi_y, 3)}"
        p.drawText(QRectF(0, 0, SIDE, AXIS_H), Qt.AlignmentFlag.AlignCenter, vertical)
        p.restore()
        p.drawImage(self._bar_rect, self._bar)
        low, middle, high = self.scale_labels()
        labels = QRectF(LEFT, self._bar_rect.bottom() + 1, SIDE, SCALE_H)
        p.setPen(style.INK)
        p.drawText(labels, left, low)
        p.drawText(labels, Qt.AlignmentFlag.AlignCenter, middle)
        p.drawText(labels, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, high)
        p.setPen(style.MUTED)
        p.drawText(self._note, NOTE_FLAGS, self.note())
        p.end()

    def _fit_note(self) -> None:
        """Grow or shrink to the note's lines."""
        room = QRectF(PAD, self._note_top, WIDTH - 2 * PAD, 1000)
        self._note = style.fonts().caption_metrics.boundingRect(room, NOTE_FLAGS, self.note())
        self.resize(WIDTH, round(self._note.bottom()) + PAD)

    def note(self) -> str:
        """The words under the colour bar: how the scale was chosen, and the sample's marker."""
        assert self.content is not None
        mode = self.content.mode
        lines = [
            "its output over the input plane" + (f" ({mode})" if mode else ""),
            f"colours: {self.content.maps.scale}",
        ]
        if self.content.sample is not None:
            in_training = ", in training mode" if mode else ""
            lines.append(f"○ sample 1 (the circle shows its value from this step's forward pass{in_training})")
        return "\n".join(lines)

    def _draw_sample(self, p: QPainter, content: PreviewContent) -> None:
        """A ring where the first sample lies (its value is the one written in the neuron)."""
        assert content.sample is not None
        (lo_x, hi_x), (lo_y, hi_y), pic = content.xs, content.ys, self.picture_rect
        x, y = content.sample
        if not (lo_x <= x <= hi_x and lo_y <= y <= hi_y) or hi_x <= lo_x or hi_y <= lo_y:
            return
        at = QPointF(
            pic.left() + (x - lo_x) / (hi_x - lo_x) * pic.width(),
            pic.bottom() - (y - lo_y) / (hi_y - lo_y) * pic.height(),
        )
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor(255, 255, 255), 3.0))
        p.drawEllipse(at, 5, 5)
        p.setPen(QPen(MARKER, 1.5))
        p.drawEllipse(at, 5, 5)
