"""Render resources/icons/bpstudio.svg (the single source) to the icons that installers and the app use.

    python packaging/make_icons.py

writes, next to the SVG:
    png/bpstudio-{16,24,32,48,64,128,256,512}.png   (Linux icon themes, PyInstaller, the About dialog)
    bpstudio.ico                                    (Windows: 16–256)
    bpstudio.icns                                   (macOS: 16–512 and their @2x)

The outputs are kept in the source tree, so building a package never needs Qt to make icons: run this again
only after editing the SVG.

Every size is rendered from the SVG itself (not scaled down from a big bitmap), so small sizes stay sharp.
The two containers are assembled here because Qt's writers fall short: its "ico" writer stores one image per
file, and its "icns" writer writes a table of contents that Qt's own reader reports as corrupted. Both formats
are simple: a header, a directory, and the images (ICO: BMP for the small sizes, PNG from 64 px — close to the layout
Windows' own tools produce; ICNS: PNG for every size, as Apple's iconutil writes).
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SOURCE = ICONS / "bpstudio.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# ICNS entry types and the pixel size each holds (the @2x types are for Retina screens)
ICNS_TYPES = (
    ("icp4", 16),
    ("icp5", 32),
    ("icp6", 64),
    ("ic07", 128),
    ("ic08", 256),
    ("ic09", 512),
    ("ic11", 32),
    ("ic12", 64),
    ("ic13", 256),
    ("ic14", 512),
    ("ic10", 1024),
)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    """The SVG drawn into a transparent ``size`` × ``size`` image."""
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def encode(image: QImage, fmt: str) -> bytes:
    """``image`` encoded by Qt's writer for ``fmt`` ("png" or "ico"), as bytes."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buffer, fmt.encode())
    if not writer.write(image):
        raise RuntimeError(f"Qt could not encode a {image.width()} px image as {fmt}: {writer.errorString()}")
    buffer.close()
    return bytes(data.data())


def ico_bmp_entry(image: QImage) -> bytes:
    """The BMP image data (header, colour rows, AND mask) that Qt writes for ``image`` in a one-image ICO."""
    single = encode(image, "ico")
    reserved, kind, count = struct.unpack_from("<HHH", single, 0)
    if (reserved, kind, count) != (0, 1, 1):
        raise RuntimeError(f"unexpected ICO header from Qt: {(reserved, kind, count)}")
    size, offset = struct.unpack_from("<II", single, 6 + 8)
    return single[offset : offset + size]


def ico(images: dict[int, QImage]) -> bytes:
    """An ICO holding every image of ``images`` (size -> image): BMP below 64 px, PNG from 64."""
    blobs = [(size, encode(img, "png") if size >= 64 else ico_bmp_entry(img)) for size, img in images.items()]
    header = struct.pack("<HHH", 0, 1, len(blobs))
    offset = len(header) + 16 * len(blobs)
    directory, body = b"", b""
    for size, blob in blobs:
        side = 0 if size >= 256 else size  # 0 means 256 in an ICO directory
        directory += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset + len(body))
        body += blob
    return header + directory + body


def icns(pngs: dict[int, bytes]) -> bytes:
    """An ICNS holding a PNG entry for each type of ICNS_TYPES (``pngs``: size -> PNG bytes)."""
    entries = b"".join(
        kind.encode("ascii") + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(entries)) + entries


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (QPainter wants one)
    renderer = QSvgRenderer(str(SOURCE))
    if not renderer.isValid():
        print(f"make_icons: cannot read {SOURCE}", file=sys.stderr)
        return 1
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES})
    images = {size: render(renderer, size) for size in sizes}
    pngs = {size: encode(image, "png") for size, image in images.items()}
    (ICONS / "png").mkdir(exist_ok=True)
    for size in PNG_SIZES:
        (ICONS / "png" / f"bpstudio-{size}.png").write_bytes(pngs[size])
    (ICONS / "bpstudio.ico").write_bytes(ico({size: images[size] for size in ICO_SIZES}))
    (ICONS / "bpstudio.icns").write_bytes(icns(pngs))
    print(f"make_icons: wrote {len(PNG_SIZES)} PNGs, bpstudio.ico and bpstudio.icns under {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
