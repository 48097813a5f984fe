"""``bpstudio presets``: the example networks shipped with bpstudio, by name and title; ``bpstudio presets
NAME --save NET.json`` writes one of them as a network file to edit, train or open in the app.

An existing file is never overwritten: the file a preset is saved to is usually one a person goes on to
edit, and running the same line again must not undo that.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bpstudio.cli.common import check_outputs, write_output
from bpstudio.core.errors import BpstudioError
from bpstudio.core.io import presets

NAME = "presets"
HELP = "list the example networks, or save one as a network file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="a preset to save (with --save)")
    parser.add_argument("--save", metavar="NET.json", help="write preset NAME to this new network file")


def run(args: argparse.Namespace) -> int:
    if args.name is None and args.save is None:
        for name in presets.names():
            spec = presets.load(name)
            print(f"{name:<24} {spec.name or ''}")
        return 0
    if args.name is None:
        raise BpstudioError("--save needs the preset's name: bpstudio presets NAME --save NET.json")
    if args.name not in presets.names():
        raise BpstudioError(f"unknown preset '{args.name}' (presets: {', '.join(presets.names())})")
    if args.save is None:
        raise BpstudioError(f"say where to write preset '{args.name}': bpstudio presets {args.name} --save NET.json")
    check_outputs(args.save)
    if Path(args.save).exists():
        raise BpstudioError(f"'{args.save}' already exists; bpstudio presets --save does not overwrite files")
    write_output(args.save, presets.path(args.name).read_bytes())
    print(f"wrote {args.save}: the {args.name} preset ({presets.load(args.name).name})")
    return 0
