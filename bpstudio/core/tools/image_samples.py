"""What the data view shows for inputs that are square images (the 8×8 digits): a few samples as pictures,
each with the class the network reads in it and how sure it is. The decision surface needs 2-D inputs; for
images the samples themselves, read right or wrong, are the picture of what the network learned."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.session import Session
from bpstudio.core.tools.boundary import class_probabilities

SHOWN = 24  # samples in the view
LEAST_SIDE = 4  # a square of fewer pixels a side is not taken for an image


def image_side(width: int) -> int | None:
    """The side of the square image ``width`` inputs make (64 → 8), or None when they make none."""
    side = math.isqrt(width)
    return side if side * side == width and side >= LEAST_SIDE else None


def shows_images(data: Dataset | None) -> bool:
    """Whether ``data`` is class-labelled square images (what the samples view is for)."""
    return data is not None and data.is_classification and image_side(data.n_inputs) is not None


@dataclass(frozen=True, eq=False)
class SampleReadings:
    """The network's reading of the first ``len(predicted)`` samples of a set: the class it picks and the
    probability it gives that class. ``held_out``: the samples are the test set's."""

    predicted: np.ndarray  # (K,) int
    confidence: np.ndarray  # (K,) float in [0, 1]
    held_out: bool


def shown_samples(train: Dataset, test: Dataset | None) -> tuple[Dataset, bool]:
    """The set whose first samples the view shows: the test set when there is one (digits the network never
    trained on), else the training set; and whether it is the test set."""
    return (test, True) if test is not None and len(test) > 0 else (train, False)


def sample_readings(
    session: Session, train: Dataset, test: Dataset | None, count: int = SHOWN
) -> SampleReadings | None:
    """How the network reads the first ``count`` samples shown (None unless the data are labelled images and
    the network has an output per class)."""
    if not shows_images(train):
        return None
    data, held_out = shown_samples(train, test)
    outputs = np.asarray(session.predict(data.X[:count]), dtype=np.float64)
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        return None
    probabilities = class_probabilities(outputs, session.spec)
    predicted = probabilities.argmax(axis=1)
    return SampleReadings(predicted, probabilities[np.arange(len(predicted)), predicted], held_out)
