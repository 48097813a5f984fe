"""The errors core raises for bad input. Each message names what is wrong, in one line."""

from __future__ import annotations


class BpstudioError(ValueError):
    """Base class: input a user gave (a file, a field, a command) that cannot be used."""


class SpecError(BpstudioError):
    """A network spec that is malformed; the message names the layer and the field."""

    def __init__(self, message: str, layer: str | None = None, field: str | None = None):
        where = []
        if layer is not None:
            where.append(f"layer '{layer}'")
        if field is not None:
            where.append(f"field '{field}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.layer = layer
        self.field = field


class DataError(BpstudioError):
    """A data set that cannot be used (missing columns, text in numbers, NaN, wrong widths)."""


class SessionError(BpstudioError):
    """A stepping request that does not fit the session's current phase or settings."""


class BackendError(BpstudioError):
    """A backend or device that is not available here."""
