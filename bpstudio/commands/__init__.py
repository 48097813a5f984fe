"""More `bpstudio` subcommands, one module each (found by :func:`bpstudio.cli.build_parser`).

A command module defines ``NAME`` (the subcommand), ``HELP`` (one line for ``bpstudio --help``),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). Bad input raises a
:class:`~bpstudio.core.errors.BpstudioError`, which the command line turns into one line on stderr and
exit status 2. Shared helpers (loading a network or data, engine options, writing files) are in
:mod:`bpstudio.cli`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def command_modules() -> list[ModuleType]:
    """Every command module of this package, in name order."""
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]
