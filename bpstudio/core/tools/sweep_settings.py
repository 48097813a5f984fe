"""The settings a sweep grid may name besides its main axes (width, learning rate, optimizer, schedule, dropout,
...), and reading a grid's lists and settings from text, as the command line and the sweep dialog give them.

A schedule is written as text without commas or semicolons (they separate values and settings): its name, then its
settings in :data:`~bpstudio.core.spec.SCHEDULES`' order, separated by colons, e.g. ``step:10:0.5`` (StepLR with
step_size 10, gamma 0.5), ``exponential:0.95``, ``cosine:100`` (t_max 100, eta_min 0); ``constant`` is none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bpstudio.core.errors import BpstudioError, SpecError
from bpstudio.core.limits import MAX_COUNT, quoted
from bpstudio.core.spec import INITIALISERS, OPTIMIZERS, SCHEDULES, Schedule

DEFAULT_UNITS = 8
DEFAULT_LR = 0.1
CONSTANT = "constant"  # the schedule setting's value for no schedule
NORMS = ("none", "batchnorm", "layernorm")  # the norm setting's values
FLOAT_SETTINGS = ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "alpha", "l1", "clip_norm")
SETTINGS: dict[str, str] = {
    # name -> what it sets (the extra axes a grid may name)
    "units": "units of every hidden layer (default 8)",
    "lr": f"learning rate (default {DEFAULT_LR})",
    "optimizer": f"update rule: {', '.join(OPTIMIZERS)} (default sgd)",
    "momentum": "momentum of the momentum optimizer (default 0.9)",
    "beta1": "Adam's beta1 (default 0.9)",
    "beta2": "Adam's beta2 (default 0.999)",
    "eps": "Adam's and RMSprop's epsilon (default 1e-8)",
    "weight_decay": "L2 weight decay, decoupled for adamw (default 0)",
    "alpha": "RMSprop's smoothing constant (default 0.99)",
    "l1": "L1 penalty λ on dense weights (default 0)",
    "clip_norm": "clip the gradients' total norm to this (default: no clipping)",
    "schedule": f"learning-rate schedule: {CONSTANT}, step:STEP_SIZE[:GAMMA], exponential:GAMMA or "
    f"cosine:T_MAX[:ETA_MIN] (default {CONSTANT})",
    "dropout": "a dropout layer with this p after every hidden layer (default 0: none)",
    "norm": f"a normalization layer in every hidden block, before its activation: {', '.join(NORMS)} (default none)",
    "batch_size": "samples per step (default: the whole data set)",
    "use_bias": "whether layers have biases: true or false (default true)",
    "bias_init": "initialiser of the biases (default zeros)",
}
_AXIS_FLAGS = {"depth": "depths", "activation": "activations", "init": "initialisers", "residual": "residual"}


def setting_value(name: str, value: Any) -> Any:
    """``value`` (text or a number) as the type setting ``name`` takes, or a BpstudioError saying why not."""
    text = str(value).strip()
    if name in ("units", "batch_size"):
        if isinstance(value, bool) or not (isinstance(value, int) or text.lstrip("+").isdigit()) or int(text) < 1:
            raise BpstudioError(f"sweep setting '{name}' takes whole numbers ≥ 1, got {text!r}")
        return int(text)
    if name in FLOAT_SETTINGS:
        try:
            number = float(text)
        except ValueError:
            raise BpstudioError(f"sweep setting '{name}' takes numbers, got {text!r}") from None
        if not math.isfinite(number) or number < 0:
            raise BpstudioError(f"sweep setting '{name}' takes finite numbers ≥ 0, got {text!r}")
        if name == "clip_norm" and number == 0:
            raise BpstudioError(f"sweep setting 'clip_norm' takes numbers above 0, got {text!r}")
        if name in ("beta1", "beta2") and number >= 1 or name == "alpha" and number > 1:
            bound = "at most 1" if name == "alpha" else "below 1"
            raise BpstudioError(f"sweep setting '{name}' takes numbers {bound}, got {text!r}")
        return number
    if name == "dropout":
        return _dropout_p(text)
    if name == "norm" and text not in NORMS:
        raise BpstudioError(f"sweep setting 'norm' takes one of {', '.join(NORMS)}, got {text!r}")
    if name == "schedule":
        return schedule_text(text)
    if name == "use_bias":
        if text.lower() not in ("true", "false", "on", "off", "1", "0", "yes", "no"):
            raise BpstudioError(f"sweep setting 'use_bias' takes true or false, got {text!r}")
        return text.lower() in ("true", "on", "1", "yes")
    if name == "optimizer" and text not in OPTIMIZERS:
        raise BpstudioError(f"sweep setting 'optimizer' takes one of {', '.join(OPTIMIZERS)}, got {text!r}")
    if name == "bias_init" and text not in INITIALISERS:
        raise BpstudioError(f"sweep setting 'bias_init' takes one of {', '.join(INITIALISERS)}, got {text!r}")
    return text


def _dropout_p(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise BpstudioError(f"sweep setting 'dropout' takes numbers, got {text!r}") from None
    if not 0 <= p < 1:  # (nan too)
        raise BpstudioError(f"sweep setting 'dropout' takes p from 0 (none) up to but not including 1, got {text!r}")
    return p


def schedule_text(text: str) -> str:
    """A schedule's text in its one written form (every setting given: ``step:10`` reads ``step:10:0.1``), or a
    BpstudioError naming what is wrong; :func:`schedule_of` makes it a Schedule."""
    schedule = schedule_of(text)
    if schedule is None:
        return CONSTANT
    return ":".join([schedule.name, *(str(value) for value in schedule.settings().values())])


def schedule_of(text: str) -> Schedule | None:
    """The Schedule ``text`` writes (None for ``constant``)."""
    name, *values = [part.strip() for part in text.split(":")]
    if name == CONSTANT:
        if values:
            raise BpstudioError(f"sweep setting 'schedule': {CONSTANT} takes no settings, got {text!r}")
        return None
    if name not in SCHEDULES:
        known = ", ".join((CONSTANT, *SCHEDULES))
        raise BpstudioError(f"sweep setting 'schedule': unknown schedule {name!r} (known: {known})")
    required, defaults = SCHEDULES[name]
    keys = (*required, *defaults)
    form = ":".join([name, *(k.upper() for k in required)]) + "".join(f"[:{k.upper()}]" for k in defaults)
    if not len(required) <= len(values) <= len(keys):
        raise BpstudioError(f"sweep setting 'schedule' writes a {name} schedule as {form}, got {text!r}")
    settings: dict[str, Any] = {}
    for key, value in zip(keys, values, strict=False):
        try:
            number = float(value)
            whole = key in ("step_size", "t_max") and number.is_integer() and abs(number) <= MAX_COUNT
            settings[key] = int(number) if whole else number
        except (ValueError, OverflowError):
            raise BpstudioError(f"sweep setting 'schedule': {key} of {form} takes a number, got {value!r}") from None
    try:
        return Schedule(name, **settings)
    except SpecError as exc:  # (its message without the network file's field name)
        said = str(exc).removeprefix(f"field {quoted(exc.field)}: ") if exc.field else str(exc)
        raise BpstudioError(f"sweep setting 'schedule' {text!r}: {said}") from None


def check_setting_name(name: str) -> None:
    if name in _AXIS_FLAGS:
        raise BpstudioError(f"'{name}' is a main axis of the sweep: give it as {_AXIS_FLAGS[name]}, not as a setting")
    if name not in SETTINGS:
        raise BpstudioError(f"unknown sweep setting '{name}' (known: {', '.join(SETTINGS)})")


def parse_values(text: str, what: str) -> list[str]:
    """``"a, b,c"`` as ``["a", "b", "c"]``; an empty list or an empty item is an error naming ``what``."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip() or any(not item for item in items):
        raise BpstudioError(f"{what}: give a comma-separated list without empty items, got {text!r}")
    return items


def parse_setting(text: str) -> tuple[str, tuple[Any, ...]]:
    """``"lr=0.1,0.5"`` as ``("lr", (0.1, 0.5))``: one value fixes a setting, several make it an axis."""
    name, equals, values = text.partition("=")
    name = name.strip()
    if not equals or not name:
        raise BpstudioError(f"a sweep setting is written name=value or name=v1,v2; got {text!r}")
    check_setting_name(name)
    return name, tuple(setting_value(name, v) for v in parse_values(values, f"setting '{name}'"))


def parse_ints(text: str, what: str) -> list[int]:
    """``"2, 4,8"`` as ``[2, 4, 8]``, or an error naming ``what`` and the item that is no whole number."""
    values = parse_values(text, what)
    bad = next((v for v in values if not v.lstrip("+-").isdigit()), None)
    if bad is not None:
        raise BpstudioError(f"{what}: {bad!r} is not a whole number")
    return [int(v) for v in values]


def parse_settings(pieces: Sequence[str] | str) -> dict[str, tuple[Any, ...]]:
    """Settings from ``["lr=0.1,0.5", "units=8"]`` or one text ``"lr=0.1,0.5; units=8"``; each name once."""
    if isinstance(pieces, str):
        pieces = [p for p in (piece.strip() for piece in pieces.split(";")) if p]
    settings: dict[str, tuple[Any, ...]] = {}
    for piece in pieces:
        name, values = parse_setting(piece)
        if name in settings:
            raise BpstudioError(f"setting '{name}' is given twice; list its values once, as {name}=v1,v2")
        settings[name] = values
    return settings
