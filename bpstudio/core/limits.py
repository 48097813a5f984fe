"""How big a file may make things, checked before anything is allocated (documented in docs/file-format.md).

A file is read by people's tools and by people: one that asks for a layer of 10³⁰ units, a billion samples or a
history of a billion points is refused with one line naming the field, instead of exhausting memory later.
The limits are far above what a network one can watch learn needs (the largest shipped benchmark is
2-1000-1000-1, about a million parameters) and far below what would take a laptop's memory.
"""

from __future__ import annotations

import reprlib
import unicodedata
from typing import Any

MAX_FILE_BYTES = 256 * 2**20  # a network or session file (JSON text)
MAX_DEPTH = 64  # levels of nested lists and objects in such a file
MAX_LAYERS = 1000
MAX_UNITS = 100_000  # per layer; also the most classes a data set's labels may name (one output unit each)
MAX_PARAMETERS = 20_000_000  # weights and biases over the whole network (160 MB as float64)
MAX_ID_LENGTH = 100  # characters in a layer id
MAX_NAME_LENGTH = 1000  # characters in a network's name
MAX_SAMPLES = 1_000_000  # rows of a data set (built-in `n`, rows of a file)
MAX_DATA_VALUES = 50_000_000  # numbers in a data set's X or Y (400 MB as float64)
MAX_DATA_FILE_BYTES = 512 * 2**20  # one array inside an .npz, once inflated
MAX_CSV_BYTES = 64 * 2**20  # a .csv file (each cell is a Python string while it is read)
MAX_HISTORY_CAPACITY = 1_000_000  # points a session's plot history may keep per series
MAX_COUNT = 2**62  # a step, epoch or count in a session file (they are kept as 64-bit integers)

SHOWN = 100  # characters of a bad value quoted in a message

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = SHOWN
_repr.maxother = SHOWN
_repr.maxlist = _repr.maxtuple = _repr.maxdict = 8
_repr.maxlong = 40


def brief(value: Any) -> str:
    """``repr(value)`` cut to about :data:`SHOWN` characters, safe for any JSON value: deep nesting is elided,
    an integer with thousands of digits is described, not converted, and the result is one line."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = _repr.repr(value)
    except (ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= SHOWN + 5 else text[:SHOWN] + "…"


def quoted(text: str) -> str:
    """A name from a file as a message quotes it: ``'name'``, or a cut ``repr`` when it is long or holds a
    control character (a message stays one line and short)."""
    if isinstance(text, str) and len(text) <= SHOWN and text.isprintable():
        return f"'{text}'"
    return brief(text)


def text_problem(text: str, limit: int) -> str | None:
    """What makes ``text`` unusable as a layer id or a name, or None: too long, or holding a control character
    (a newline, a NUL byte) or a lone surrogate, which break one-line messages and files that need UTF-8."""
    if len(text) > limit:
        return f"is {len(text)} characters long; the most is {limit}"
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cs"):
            what = "a lone surrogate" if unicodedata.category(ch) == "Cs" else f"the control character {ch!r}"
            return f"holds {what}"
    return None


def one_line(message: str) -> str:
    """``message`` with control characters and lone surrogates written as escapes, so it prints as one line
    on any terminal (a file name may hold a newline)."""
    if message.isprintable():
        return message
    return "".join(ascii(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in message)
