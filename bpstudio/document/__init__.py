"""The app's model, Qt-free: the open document (network, session, data, plot history, timeline), its
commands with undo/redo/merge and the plain events it raises. The GUI adapts the events to Qt signals
(``bpstudio.gui.document_signals``) and mirrors the command stack for its Edit history view."""

from bpstudio.document.command_stack import Command, CommandStack
from bpstudio.document.document import DEFAULT_PRESET, Document
from bpstudio.document.events import Event

__all__ = ["DEFAULT_PRESET", "Command", "CommandStack", "Document", "Event"]
