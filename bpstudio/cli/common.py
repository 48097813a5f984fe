"""What the subcommands share: the argument parser, loading a network or data, checking and writing outputs.

Bad input raises a :class:`~bpstudio.core.errors.BpstudioError`; :func:`bpstudio.cli.main` turns it into one
line on stderr and exit status :data:`EXIT_USAGE`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpstudio.core.backends import BACKENDS, DEVICES, DTYPES
from bpstudio.core.data import Dataset
from bpstudio.core.errors import BpstudioError, DataError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.io.fileio import write_atomic
from bpstudio.core.limits import brief
from bpstudio.core.spec import NetworkSpec

if TYPE_CHECKING:
    from bpstudio.core.session import Session

EXIT_USAGE = 2
NETWORK_HELP = "network file (or a preset name, see 'bpstudio presets')"
DATA_HELP = "a .csv/.npz file or a built-in set, e.g. 'spirals:classes=3,n=300' (default: the network file's own data)"


class Parser(argparse.ArgumentParser):
    """argparse with bpstudio's usage errors: one line, exit status 2, and where to read the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        command = self.prog.split()[-1]
        where = f" (bpstudio {command} --help for usage)" if command != "bpstudio" else ""
        self.exit(EXIT_USAGE, f"bpstudio: error: {message}{where}\n")


def add_network_arguments(parser: argparse.ArgumentParser, data_help: str = DATA_HELP) -> None:
    """The network positional and ``--data``."""
    parser.add_argument("network", metavar="NET.json", help=NETWORK_HELP)
    parser.add_argument("--data", metavar="DATA", help=data_help)


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--device`` and ``--dtype``."""
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="numpy")
    parser.add_argument("--device", choices=DEVICES, default="cpu")
    parser.add_argument("--dtype", choices=DTYPES, default="float64")


def engine_session(args: argparse.Namespace, spec: NetworkSpec, data: Dataset, **settings: Any) -> Session:
    """A session of ``spec`` on ``data`` with the engine the options of :func:`add_engine_options` chose."""
    from bpstudio.core.session import Session

    return Session(spec, data, backend=args.backend, device=args.device, dtype=args.dtype, **settings)


def load_network(source: str) -> tuple[NetworkSpec, Path | None]:
    """A network file's spec and folder; a name that is no file but is a preset loads the preset."""
    path = Path(source)
    try:
        exists = path.exists()
    except OSError as exc:  # e.g. a name longer than the file system takes
        raise BpstudioError(f"cannot open network file {brief(source)}: {exc.strerror or exc}") from None
    if not exists and source in presets.names():
        path = presets.path(source)
    elif not exists:
        raise BpstudioError(f"network file '{source}' not found (presets: {', '.join(presets.names())})")
    return spec_io.load(path), path.parent


def load_data(
    spec: NetworkSpec, source: str | None, base: Path | None, all_of_it: bool = False, network: str | None = None
) -> Dataset:
    """The data named on the command line, else the network file's own ``data`` entry: its training
    part after any ``test_fraction`` split, or every sample with ``all_of_it``. A problem with the network
    file's own data names the file (``network``) and its field 'data'."""
    from bpstudio.core.datasets import resolve, resolve_split

    if source is not None:
        data = resolve(source) if all_of_it else resolve_split(source)[0]
    elif spec.data is not None:
        with naming_the_data_of(network):
            data = resolve(dict(spec.data), base_dir=base) if all_of_it else resolve_split(dict(spec.data), base)[0]
    else:
        raise DataError(
            "no data: pass --data (a .csv/.npz file or a built-in set such as 'xor') "
            'or add a "data" entry to the network file'
        )
    data.check_inputs(spec.widths[spec.input_id])
    return data


@contextlib.contextmanager
def naming_the_data_of(network: str | None) -> Iterator[None]:
    """A DataError raised inside names the network file whose ``data`` entry it is about."""
    try:
        yield
    except DataError as exc:
        if network is None:
            raise
        raise DataError(f"{network}: field 'data': {exc}") from None


def check_outputs(*paths: str | None) -> None:
    """Refuse output paths that could not be written, before any work is done (and before any file is
    written): a missing folder, a folder where the file should be, a folder that takes no new files (found
    by creating and removing an empty file there, as permissions alone do not tell it for root or on
    read-only mounts) and a read-only file."""
    for path in paths:
        if path is None:
            continue
        target, folder = Path(path), Path(path).parent
        if target.is_dir():
            raise BpstudioError(f"cannot write '{path}': it is a folder, not a file")
        if not folder.is_dir():
            raise BpstudioError(f"cannot write '{path}': folder '{folder}' does not exist")
        if target.exists() and not os.access(target, os.W_OK):
            raise BpstudioError(f"cannot write '{path}': the file is read-only")
        try:
            handle, probe = tempfile.mkstemp(prefix=".bpstudio-probe-", dir=folder)
        except OSError as exc:
            raise BpstudioError(
                f"cannot write '{path}': cannot create files in folder '{folder}' ({exc.strerror or exc})"
            ) from None
        os.close(handle)
        os.unlink(probe)


def write_output(path: str, content: str | bytes) -> None:
    """Write an output file atomically; a bad path becomes a clear error, not a traceback."""
    check_outputs(path)
    try:
        write_atomic(path, content)
    except OSError as exc:
        raise BpstudioError(f"cannot write '{path}': {exc.strerror or exc}") from None
