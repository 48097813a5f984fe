"""Reading a JSON file that may be hostile: too big, not UTF-8, nested thousands deep, or holding an integer
literal longer than Python converts. Each becomes one line saying what is wrong, never a traceback."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bpstudio.core.errors import BpstudioError
from bpstudio.core.limits import MAX_DEPTH, MAX_FILE_BYTES

Fail = Callable[[str], BpstudioError]


def read_text(path: str | os.PathLike[str], error: type[BpstudioError], what: str) -> str:
    """The text of ``what`` (e.g. "network file") at ``path``, refusing a file over :data:`MAX_FILE_BYTES`
    before reading it; a problem is an ``error`` naming the file."""
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            raise error(
                f"{what} '{os.fspath(path)}' is {size / 2**20:,.0f} MiB; the most bpstudio reads is "
                f"{MAX_FILE_BYTES // 2**20} MiB"
            )
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"cannot read {what} '{os.fspath(path)}': {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} '{os.fspath(path)}' is not UTF-8 text (byte {exc.start} is not)") from None


def parse(text: str, fail: Fail) -> Any:
    """The JSON value ``text`` holds, nested at most :data:`MAX_DEPTH` levels."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise fail(f"not usable JSON: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # an integer literal longer than Python converts (4,300 digits)
        reason = "an integer literal with thousands of digits" if "digits" in str(exc) else str(exc)[:100]
        raise fail(f"not usable JSON: {reason}") from None
    if too_deep(value, MAX_DEPTH):
        raise fail(f"not usable JSON: nested more than {MAX_DEPTH} levels deep")
    return value


def too_deep(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels in ``value`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        for child in item.values() if isinstance(item, dict) else item if isinstance(item, list) else ():
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False
