"""Write screenshots of the app's main states to a folder (default: docs/images).

    python docs/make_screenshots.py [OUT_DIR]            # offscreen
    xvfb-run -a python docs/make_screenshots.py [OUT_DIR] # under a virtual X display

States: the default window; the Mazur example mid-step (after the backward pass, explaining w1);
the deep sigmoid network's per-layer gradients after training (vanishing gradients); the three lesson examples'
gradients on one plot (two kept runs behind the live one); the spiral
example's decision boundary after training, also as the first screen at 1920×1080 and 1366×768; XOR in
presentation mode on a 1024×768 projector; the vanishing-gradients walkthrough at its last stop. Each is
saved as a whole-window PNG.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication


def settle(app: QApplication, ms: int = 300) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
    app.processEvents()


def train(app: QApplication, window, steps: int) -> None:
    window.training.set_speed(None)  # (as fast as it goes: the pace a class watches is not needed here)
    window.training.start(max_steps=steps)
    while window.training.running:
        settle(app, 100)
        if window.training.worker is not None and window.training.worker.isFinished():
            window.training.stop()
    settle(app)


def shoot(window, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    window.grab().save(str(path))
    print(f"wrote {path}")
    return path


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "images")
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from bpstudio.gui.main_window import MainWindow

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "shots.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1600, 1000)
    window.show()
    settle(app)
    shoot(window, out, "default_window")

    window.files.open_example("mazur")
    doc = window.document
    for kind in ("forward", "forward", "forward", "backward", "backward"):
        doc.advance(kind)
    window.canvas.param_picked.emit("h.weight", (0, 0))
    window.docks["explanation"].raise_()
    window._on_layer_selected("h")
    window.docks["explanation"].raise_()
    settle(app)
    window.canvas.fit_all()
    settle(app)
    shoot(window, out, "mazur_mid_step")

    doc.forget_changes()  # no "save changes?" prompt between examples
    window.files.open_example("deep_sigmoid")  # (with the settings its file carries: nothing set by hand)
    train(app, window, 400)
    window.docks["gradients"].raise_()
    settle(app)
    shoot(window, out, "deep_sigmoid_gradients")
    window.gradient_plot.grab().save(str(out / "deep_sigmoid_gradient_plot.png"))

    window.keep_run()  # the three lesson examples on one plot: sigmoid kept, ReLU + He kept, residual live
    for name in ("deep_relu_he", "deep_sigmoid_residual"):
        doc.forget_changes()
        window.files.open_example(name)
        train(app, window, 400)
        if name == "deep_relu_he":
            window.keep_run()
    settle(app)
    window.gradient_plot.grab().save(str(out / "comparing_runs_gradient_plot.png"))
    window.kept_runs.clear()

    doc.forget_changes()
    window.files.open_example("spiral")
    train(app, window, 3000)
    window.docks["data"].raise_()
    settle(app)
    shoot(window, out, "spiral_decision_boundary")
    window.data_plot.grab().save(str(out / "spiral_data_panel.png"))
    for size in ((1920, 1080), (1366, 768)):  # the first screen: canvas, surface, loss, gradients, controls
        window.resize(*size)
        settle(app, 500)
        shoot(window, out, f"first_screen_{size[0]}x{size[1]}")

    doc.forget_changes()
    window.files.open_example("xor")
    train(app, window, 400)
    window.resize(1024, 768)
    window.window_actions.presentation.trigger()  # a projector
    settle(app, 500)
    shoot(window, out, "presentation_1024x768")
    window.window_actions.presentation.trigger()
    settle(app)

    from bpstudio.gui.tools.lesson_panel import open_lesson

    doc.forget_changes()
    window.resize(1600, 1000)
    lesson = open_lesson(window)
    window.window_actions.speed.setCurrentText("max")
    while lesson.next_button.isEnabled():
        lesson.next()
        while lesson.training_for is not None:
            settle(app, 100)
    settle(app, 500)
    shoot(window, out, "vanishing_walkthrough")
    doc.forget_changes()
    window.close()


if __name__ == "__main__":
    main()
