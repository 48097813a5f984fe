"""The errors core raises for bad input. Each message names what is wrong, in one line."""

from __future__ import annotations

from bpstudio.core.limits import one_line, quoted


class BpstudioError(ValueError):
    """Base class: input a user gave (a file, a field, a command) that cannot be used. The message is kept to one
    line: a control character quoted from a file (a newline in a name) is written as an escape."""

    def __init__(self, message: object = "", *args: object):
        super().__init__(one_line(str(message)), *args)


class SpecError(BpstudioError):
    """A network spec that is malformed; the message names the layer and the field."""

    def __init__(self, message: str, layer: str | None = None, field: str | None = None):
        where = []
        if layer is not None:
            where.append(f"layer {quoted(layer)}")
        if field is not None:
            where.append(f"field {quoted(field)}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.message = message  # what is wrong, without where (a form that shows the field says that itself)
        self.layer = layer
        self.field = field


class DataError(BpstudioError):
    """A data set that cannot be used (missing columns, text in numbers, NaN, wrong widths)."""


class SessionError(BpstudioError):
    """A stepping request that does not fit the session's current phase or settings."""


class BackendError(BpstudioError):
    """A backend or device that is not available here."""


class DivergedError(SessionError):
    """A step whose values stopped being numbers (inf or nan): its update was not applied, so the weights and the
    optimizer state are still those after the step before. ``step`` is the step's number counting from 1 (the
    ``step_count`` it would have made), ``layer`` the first layer where a value went wrong in the order the step
    computes them (None: the loss), ``quantity`` what went wrong there ("weighted sums", "loss", "weight
    gradients", …) and ``problem`` all of that in one clause, without the advice :func:`str` adds."""

    def __init__(self, message: str, step: int, layer: str | None, quantity: str, problem: str):
        super().__init__(message)
        self.step = step
        self.layer = layer
        self.quantity = quantity
        self.problem = problem


class ModelError(BpstudioError):
    """A model from another framework (an ONNX file) that cannot be read, or holds what a bpstudio network cannot
    represent; the message names the op, node or tensor."""
