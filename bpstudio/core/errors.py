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
        self.layer = layer
        self.field = field


class DataError(BpstudioError):
    """A data set that cannot be used (missing columns, text in numbers, NaN, wrong widths)."""


class SessionError(BpstudioError):
    """A stepping request that does not fit the session's current phase or settings."""


class BackendError(BpstudioError):
    """A backend or device that is not available here."""
