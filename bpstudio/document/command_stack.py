"""Undo and redo: a stack of plain commands.

A :class:`Command` is pushed after it has been carried out (the edit was tried first, so a refused edit
never enters the history); undo and redo move along the stack. Pushing after an undo drops what could have
been redone. A command may absorb the next one (:meth:`Command.merge_with`: consecutive training steps
become one "Train N steps" entry). The stack remembers a *clean* index, the state last saved.
"""

from __future__ import annotations

from bpstudio.document.events import Event


class Command:
    """One undoable edit: ``text`` names it in the history; :meth:`undo` takes it back, :meth:`redo` does it
    again after an undo."""

    def __init__(self, text: str) -> None:
        self.text = text

    def undo(self) -> None:
        raise NotImplementedError

    def redo(self) -> None:
        raise NotImplementedError

    def merge_with(self, other: Command) -> bool:
        """Absorb ``other``, pushed right after this one (True), or leave both as they are (False)."""
        return False


class CommandStack:
    """Commands ``0 … count()-1``; the first ``index()`` of them are done. Raises ``index_changed(index)``,
    ``clean_changed(clean)`` and ``changed()`` (any change: a push, a merge, undo, redo, clear)."""

    def __init__(self) -> None:
        self._commands: list[Command] = []
        self._index = 0
        self._clean: int | None = 0  # None: the saved state cannot be reached any more
        self.index_changed = Event("index_changed")
        self.clean_changed = Event("clean_changed")
        self.changed = Event("changed")

    # --- reading --------------------------------------------------------------------------------------

    def count(self) -> int:
        return len(self._commands)

    def index(self) -> int:
        return self._index

    def command(self, i: int) -> Command:
        return self._commands[i]

    def text(self, i: int) -> str:
        return self._commands[i].text

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._commands)

    def undo_text(self) -> str:
        return self._commands[self._index - 1].text if self.can_undo() else ""

    def redo_text(self) -> str:
        return self._commands[self._index].text if self.can_redo() else ""

    def is_clean(self) -> bool:
        return self._clean == self._index

    # --- changing ---------------------------------------------------------------------------------------

    def push(self, command: Command) -> None:
        """Record ``command``, already carried out: merged into the last one where it can be."""
        was_clean = self.is_clean()
        del self._commands[self._index :]
        if self._clean is not None and self._clean > self._index:
            self._clean = None
        last = self._commands[-1] if self._commands else None
        if last is not None and self._clean != self._index and last.merge_with(command):
            self._notify(was_clean, index_moved=False)
            return
        self._commands.append(command)
        self._index += 1
        self._notify(was_clean)

    def undo(self) -> None:
        if self.can_undo():
            was_clean = self.is_clean()
            self._commands[self._index - 1].undo()
            self._index -= 1
            self._notify(was_clean)

    def redo(self) -> None:
        if self.can_redo():
            was_clean = self.is_clean()
            self._commands[self._index].redo()
            self._index += 1
            self._notify(was_clean)

    def set_index(self, index: int) -> None:
        """Undo or redo until ``index`` commands are done."""
        index = max(0, min(index, len(self._commands)))
        while self._index > index:
            self.undo()
        while self._index < index:
            self.redo()

    def set_clean(self) -> None:
        """The state now is the saved one."""
        was_clean = self.is_clean()
        self._clean = self._index
        self._notify(was_clean, index_moved=False)

    def clear(self) -> None:
        """Forget every command (a new file was opened); the state now counts as saved."""
        was_clean = self.is_clean()
        self._commands, self._index, self._clean = [], 0, 0
        self._notify(was_clean)

    def _notify(self, was_clean: bool, index_moved: bool = True) -> None:
        if index_moved:
            self.index_changed.emit(self._index)
        if self.is_clean() != was_clean:
            self.clean_changed.emit(self.is_clean())
        self.changed.emit()
