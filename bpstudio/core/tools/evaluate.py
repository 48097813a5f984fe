"""What the app shows beside training, computed from a session and its data: the accuracy on the training
data, the test loss and accuracy, and the surface drawn under the data points. The training worker calls these
from its thread and the document from the GUI thread; neither does the math itself."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.modes import eval_tag
from bpstudio.core.session import Session
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools.boundary import Surface, accuracy, output_curve, output_surface
from bpstudio.core.tools.image_samples import SampleReadings, sample_readings, shows_images

TestRecord = tuple[int, float, float | None]  # step, test loss, test accuracy

SURFACE_RESOLUTION = 60  # grid points a side of the decision surface ...
SURFACE_WORK = 10**9  # ... or fewer, so that computing it takes at most about this many multiply-adds
LEAST_RESOLUTION = 32  # (but never fewer than this)
UNIT_COST = 100  # a unit's activation (tanh: ~60 ns an element) costs about as much as this many multiply-adds


def train_accuracy(session: Session, train: Dataset) -> float | None:
    """Accuracy on the training data with the current weights (None for regression)."""
    return accuracy(session.predict(train.X), train, session.spec.loss)


def held_out_record(session: Session, test: Dataset | None) -> TestRecord | None:
    """The test loss and accuracy with the weights after the last step (None without a test set)."""
    if test is None:
        return None
    test_acc = accuracy(session.predict(test.X), test, session.spec.loss)
    return session.step_count, float(session.evaluate(test)), test_acc


def data_surface(
    session: Session, train: Dataset, test: Dataset | None = None
) -> Surface | tuple[np.ndarray, np.ndarray] | SampleReadings | None:
    """What the data plot draws under the points, in evaluation mode: the output over the input plane for 2-D
    inputs (its label names the mode where the network has layers that differ in training), the output curve (a
    tuple xs, ys) for 1-D inputs, how the network reads the first samples when the inputs are labelled square
    images (the digits), else None."""
    if session.spec.widths[session.spec.input_id] == 1:
        return output_curve(session.predict, session.spec, train)
    if shows_images(train):
        return sample_readings(session, train, test)
    surface = output_surface(session.predict, session.spec, train, resolution=surface_resolution(session.spec))
    tag = eval_tag(session.spec)  # (computed in evaluation mode: with dropout, the label says so)
    return dataclasses.replace(surface, label=f"{surface.label} · {tag}") if tag and surface is not None else surface


def surface_resolution(spec: NetworkSpec) -> int:
    """Grid points a side of ``spec``'s decision surface: ``SURFACE_RESOLUTION``, or fewer for a network whose
    forward pass over that grid would take more than ``SURFACE_WORK`` multiply-adds (a 2-1000-1000-1 net's
    60×60 grid took 3.6·10⁹, seconds on the GUI thread at every Pause and Step: it gets 32×32). A unit's
    activation counts as ``UNIT_COST`` multiply-adds: a 2-10000-1 net's 10⁴ tanh units took 10 s to open."""
    per_point = sum(math.prod(shape) for key, shape in spec.param_shapes().items() if key.endswith(".weight"))
    per_point += UNIT_COST * sum(spec.widths[i] for i in spec.active_order() if spec.layer(i).type != "input")
    fitting = math.isqrt(SURFACE_WORK // max(per_point, 1))
    return max(LEAST_RESOLUTION, min(SURFACE_RESOLUTION, fitting))
