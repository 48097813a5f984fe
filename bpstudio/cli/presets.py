"""``bpstudio presets``: the example networks shipped with bpstudio, by name and title."""

from __future__ import annotations

import argparse

from bpstudio.core import presets

NAME = "presets"
HELP = "list the example networks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    for name in presets.names():
        spec = presets.load(name)
        print(f"{name:<24} {spec.name or ''}")
    return 0
