"""Atomic file writing, shared by every save in bpstudio."""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from bpstudio.core.io import leftovers

# as tempfile.mkstemp opens its files, but with mode 0o666 so that the umask decides, as for a plain open()
_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def write_atomic(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Write ``content`` so that a crash leaves either the old file or the new one, never half of one.

    The file ends up with the mode a plain write would leave: an overwritten file keeps its own, a new
    one gets what the umask allows of 0o666 (tempfile.mkstemp's 0o600 would hide it from the group).
    """
    target = Path(path)
    remove_stale_temps(target)
    handle, temp = _create_beside(target)
    try:
        with os.fdopen(handle, "wb") as stream:
            try:
                os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
            except FileNotFoundError:
                pass  # a new file: the umask gave it its mode
            stream.write(content.encode("utf-8") if isinstance(content, str) else content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


def remove_stale_temps(target: Path) -> list[Path]:
    """Remove the temp files beside ``target`` that saves of it killed mid-way left (their process is gone; an
    earlier version's, unnamed by process, once a day old). A save running now in any process keeps its own."""
    prefix = _temp_prefix(target)
    unowned = re.compile(re.escape(prefix) + r"[0-9a-f]{8}\.tmp")
    return leftovers.remove_stale_files(target.parent, prefix, ".tmp", unowned)


def _create_beside(target: Path) -> tuple[int, Path]:
    """A new, empty, hidden temp file in ``target``'s folder (so the rename stays on one file system), named
    with this process's id (so a later save can tell a leftover of a killed one from one in progress)."""
    for _ in range(100):
        temp = target.with_name(f"{leftovers.owned_name(_temp_prefix(target))}{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temp, _FLAGS, 0o666), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside '{target}'")
