"""What a run killed mid-way leaves behind, and removing it once its owner is gone.

A process killed outright (``kill -9``, a power cut) runs no clean-up: its timeline's spill folder and the
temporary file of a save in progress stay on disk. Both carry the owning process's id in their name, so a
later run removes the ones whose owner no longer runs, and never one that a live process is still writing
(a reused process id keeps a leftover a while longer; that errs on the safe side).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

# leftovers named by an earlier version, without an owner: removed once untouched for this long (seconds)
UNOWNED_AGE = 24 * 3600.0


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs now (one we may not signal counts as running)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    except OSError:
        return True  # cannot tell: keep what it may own
    return True


def _windows_process_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return bool(kernel32.GetLastError() == 5)  # access denied: it exists
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def owned_name(prefix: str) -> str:
    """``prefix`` with this process's id: the start of a leftover's name that :func:`owner` reads back."""
    return f"{prefix}pid{os.getpid()}-"


def owner(name: str, prefix: str) -> int | None:
    """The process id in a name made from :func:`owned_name` (None: not such a name)."""
    match = re.match(re.escape(prefix) + r"pid(\d{1,10})-", name)
    return int(match.group(1)) if match else None


def stale(path: Path, prefix: str, unowned: re.Pattern[str] | None = None, now: float | None = None) -> bool:
    """Whether ``path`` (named from ``prefix``) is a leftover to remove: its owner is gone, or it has no owner
    in its name, matches ``unowned`` (an earlier version's naming) and was untouched for ``UNOWNED_AGE``."""
    pid = owner(path.name, prefix)
    if pid is not None:
        return not process_alive(pid)
    if unowned is None or not unowned.fullmatch(path.name):
        return False
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except OSError:
        return False
    return age > UNOWNED_AGE


def remove_stale_folders(parent: Path, prefix: str, unowned: re.Pattern[str] | None = None) -> list[Path]:
    """Remove the folders in ``parent`` named from ``prefix`` whose owner is gone; the ones removed."""

    def remove(path: Path) -> bool:
        shutil.rmtree(path, ignore_errors=True)
        return True

    return _remove_stale(parent, prefix, unowned, lambda entry: entry.is_dir(follow_symlinks=False), remove)


def remove_stale_files(parent: Path, prefix: str, suffix: str, unowned: re.Pattern[str] | None = None) -> list[Path]:
    """Remove the files in ``parent`` named ``prefix…suffix`` whose owner is gone; the ones removed."""

    def remove(path: Path) -> bool:
        try:
            path.unlink()
        except OSError:
            return False  # (another run removed it first, or it is not ours to remove)
        return True

    def wanted(entry: os.DirEntry[str]) -> bool:
        return entry.name.endswith(suffix) and entry.is_file(follow_symlinks=False)

    return _remove_stale(parent, prefix, unowned, wanted, remove)


def _remove_stale(
    parent: Path,
    prefix: str,
    unowned: re.Pattern[str] | None,
    wanted: Callable[[os.DirEntry[str]], bool],
    remove: Callable[[Path], bool],
) -> list[Path]:
    """Remove (with ``remove``) the entries of ``parent`` named from ``prefix`` that ``wanted`` takes and whose
    owner is gone; the ones removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and wanted(entry):
            path = Path(entry.path)
            if stale(path, prefix, unowned) and remove(path):
                removed.append(path)
    return removed
