"""Small pieces of the messages' English."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless ``count`` is 1: "1 step", "3 steps", "2 running statistics"
    (``plural`` where adding an s is not it)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
