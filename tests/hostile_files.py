"""Hostile and oversized files, derived from the shipped examples.

A case is a file (network, data or session) made by mutating a valid one with a seeded generator, or one of the
hand-picked files an earlier fuzz campaign found ending in a traceback or exhausting memory (issue 14).
tests/hostile_runs.py runs them; tests/test_hostile_files.py tries a modest number, bench/fuzz_files.py the
bigger campaign.
"""

from __future__ import annotations

import copy
import io
import json
import random
import struct
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpstudio.core.io import presets

HUGE_INT_TEXT = "1" + "0" * 5000  # over Python's 4,300-digit limit for int(str)

HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2.5,
    2**31,
    10**6,
    10**7,
    10**9,
    10**30,
    10**400,
    1e308,
    -1e308,
    5e-324,
    "",
    " ",
    "x",
    "a\nb",
    "\ud800",
    "a|b",
    "|",
    "nul\x00byte",
    "x" * 300,
    "y" * 70_000,
    [],
    [[]],
    [1, 2],
    [[1.0, 2.0], [3.0]],
    {},
    {"name": "x"},
    {"builtin": "xor", "n": 10**7},
]


@dataclass(frozen=True)
class Case:
    """One hostile file: ``kind`` is "network", "data" or "session"; ``name`` the file name; ``content``
    its bytes; ``note`` what was done to it (for reports)."""

    kind: str
    name: str
    content: bytes
    note: str


# --- JSON with hostile integers and deep nesting -------------------------------------------------------


class _Huge:
    """Stands for an integer literal longer than Python converts; written by :func:`dumps`."""


def dumps(value: Any) -> bytes:
    """JSON text that may hold what json.dumps cannot write: lone surrogates, huge integers."""
    text = json.dumps(value, default=lambda v: "__HUGE__" if isinstance(v, _Huge) else str(v), ensure_ascii=True)
    return text.replace('"__HUGE__"', HUGE_INT_TEXT).encode("utf-8")


def _nodes(tree: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, tree
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _nodes(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _nodes(value, path + (index,))


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return tree


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _nested_text(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def mutate_json(tree: Any, rng: random.Random) -> tuple[Any | str, str]:
    """A mutated copy of ``tree`` (or raw text for mutations JSON cannot express) and what was done."""
    tree = copy.deepcopy(tree)
    nodes = list(_nodes(tree))
    path, _ = rng.choice(nodes)
    where = "/".join(map(str, path)) or "(root)"
    choice = rng.random()
    if choice < 0.55:
        value = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        return _set(tree, path, value), f"{where} = {str(value)[:40]!r}"
    if choice < 0.65:
        return _set(tree, path, _Huge()), f"{where} = a 5001-digit integer"
    if choice < 0.72:
        depth = rng.choice([50, 900, 1100, 5000, 100_000])
        if depth > 900:  # beyond what json.dumps writes: splice the text in
            marker = "__NEST__"
            text = dumps(_set(tree, path, marker)).decode().replace(f'"{marker}"', _nested_text(depth))
            return text, f"{where} nested {depth} deep"
        return _set(tree, path, _nest(depth)), f"{where} nested {depth} deep"
    if choice < 0.80 and isinstance(_get(tree, path[:-1]), dict) and path:
        parent = _get(tree, path[:-1])
        del parent[path[-1]]
        return tree, f"{where} removed"
    if choice < 0.88 and path and isinstance(_get(tree, path[:-1]), list):
        parent = _get(tree, path[:-1])
        parent.extend(copy.deepcopy(parent[:1]) * rng.choice([1, 2]))
        return tree, f"{where}: list grown"
    text = dumps(tree).decode("utf-8")
    if rng.random() < 0.5:
        cut = rng.randrange(len(text))
        return text[:cut], f"cut at {cut}"
    at = rng.randrange(len(text))
    return text[:at] + rng.choice('{}[]",:0e-\\x\x00') + text[at + 1 :], f"character {at} changed"


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        tree = tree[step]
    return tree


# --- the cases ---------------------------------------------------------------------------------------


def _example_networks() -> list[dict[str, Any]]:
    return [json.loads(presets.path(name).read_text(encoding="utf-8")) for name in presets.names()]


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else dumps(value)


def listed_networks() -> list[Case]:
    """The network files the issue lists, one each."""
    xor = json.loads(presets.path("xor").read_text(encoding="utf-8"))
    cases = []

    def variant(note: str, change: Callable[[dict[str, Any]], Any]) -> None:
        tree = copy.deepcopy(xor)
        result = change(tree)
        cases.append(Case("network", "net.json", _as_bytes(tree if result is None else result), note))

    variant("deep nesting", lambda t: _nested_text(100_000))
    variant(
        "nesting in data",
        lambda t: dumps(_set(t, ("data",), "__N__")).decode().replace('"__N__"', "{" + _nested_text(3000)[1:-1] + "}"),
    )
    variant("units 10^6", lambda t: _set(t, ("layers", 1, "units"), 10**6))
    variant("units 10^30", lambda t: _set(t, ("layers", 1, "units"), 10**30))
    variant("input units 10^6", lambda t: _set(t, ("layers", 0, "units"), 10**6))
    variant("builtin n 10^7", lambda t: _set(t, ("data", "n"), 10**7))
    variant("builtin n 10^9", lambda t: _set(t, ("data", "n"), 10**9))
    variant("builtin noise 10^400", lambda t: _set(t, ("data", "noise"), 10**400))
    variant("huge integer seed", lambda t: _set(t, ("seed",), _Huge()))
    variant("huge integer units", lambda t: _set(t, ("layers", 1, "units"), _Huge()))
    for layer_id, note in (
        ("h\nx", "newline"),
        ("h\ud800", "lone surrogate"),
        ("h" * 70_000, "70,000 character"),
        ("h|x", "bar"),
    ):

        def rename(t: dict[str, Any], new: str = layer_id) -> None:
            t["layers"][1]["id"] = new
            t["layers"][2]["inputs"] = [new]

        variant(f"layer id: {note}", rename)
    variant("name with NUL", lambda t: _set(t, ("name",), "XOR\x00net"))
    variant("name with newline", lambda t: _set(t, ("name",), 'XOR"""\nimport os'))
    variant("data file name 300 characters", lambda t: _set(t, ("data",), {"file": "d" * 300 + ".csv"}))
    variant("cross entropy over 20,000 outputs", _wide_classes)
    variant("classes 10^6", lambda t: _set(t, ("data",), {"builtin": "spirals", "classes": 10**6, "n": 10**6}))
    return cases


def _wide_classes(t: dict[str, Any]) -> None:
    t["layers"][2]["units"] = 20_000
    t["layers"][2]["activation"] = "sigmoid"
    t["loss"] = "mse"


def listed_data(bomb: int = 3 * 2**30) -> list[Case]:
    """The data files the issue lists; the zip bomb inflates to ``bomb`` bytes."""
    cases = [
        Case("data", "label.csv", b"x1,x2,label\n0.1,0.2,1e20\n0.3,0.4,0\n", "CSV class label 1e20"),
        Case("data", "d" * 300 + ".csv", b"x1,x2,label\n0.1,0.2,1\n", "a 300-character file name"),
        Case("data", "empty.npz", _npz(X=np.zeros((0, 2)), Y=np.zeros(0, dtype=np.int64)), "an NPZ with zero rows"),
        Case("data", "rows.npz", _npz_claiming(10**9), "an NPZ header claiming 10^9 rows"),
        Case("data", "bomb.npz", _zip_bomb(bomb), f"a zip-bombed NPZ ({bomb >> 20} MiB inflated)"),
    ]
    return cases


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def _npz_claiming(rows: int) -> bytes:
    """An NPZ whose X header claims ``rows`` rows but holds a few bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("X.npy", _npy_header((rows, 2)) + b"\0" * 64)
        z.writestr("Y.npy", _npy_header((rows,), "<i8") + b"\0" * 64)
    return buffer.getvalue()


def _zip_bomb(inflated: int = 3 * 2**30) -> bytes:
    """A deflated NPZ whose X holds ``inflated`` bytes of zeros (a few MB on disk)."""
    buffer = io.BytesIO()
    rows = inflated // 16
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("X.npy", "w", force_zip64=True) as f:
            f.write(_npy_header((rows, 2)))
            block = b"\0" * 2**24
            for _ in range(inflated // len(block)):
                f.write(block)
        z.writestr("Y.npy", _npy_header((rows,), "<i8"))
    return buffer.getvalue()


def mutate_csv(rng: random.Random) -> tuple[bytes, str]:
    rows = [["x1", "x2", "label"]] + [
        [f"{rng.uniform(-1, 1):.3f}", f"{rng.uniform(-1, 1):.3f}", str(rng.randrange(2))] for _ in range(8)
    ]
    r, c = rng.randrange(len(rows)), rng.randrange(3)
    value = rng.choice(
        [
            "1e20",
            "-1",
            "1.5",
            "nan",
            "inf",
            "",
            "x",
            "1e400",
            HUGE_INT_TEXT,
            "9" * 30,
            "y1",
            "label",
            "\x00",
            "a\nb",
            "0x10",
        ]
    )
    rows[r][c] = value
    if rng.random() < 0.2:
        rows[r].append("1")
    text = "\n".join(",".join(row) for row in rows) + "\n"
    return text.encode("utf-8"), f"row {r} column {c} = {value[:20]!r}"


def mutate_npz(rng: random.Random) -> tuple[bytes, str]:
    choice = rng.randrange(6)
    n = rng.choice([0, 1, 5])
    if choice == 0:
        shape = rng.choice([(n,), (n, 2, 2), (), (n, 3)])
        return _npz(X=np.zeros(shape), Y=np.zeros(n, dtype=np.int64)), f"X of shape {shape}"
    if choice == 1:
        labels = np.array([rng.choice([0, -1, 2**62, 10**9, 20_000])] * max(n, 1))
        return _npz(X=np.zeros((len(labels), 2)), Y=labels), f"labels {labels[0]}"
    if choice == 2:
        return _npz_claiming(rng.choice([10**9, 2**40, 10**6])), "header claiming many rows"
    if choice == 3:
        dtype = rng.choice(["U4", "c16", "b1", "f2", "O"])
        X = np.zeros((3, 2), dtype=dtype) if dtype != "O" else np.array([[1, 2], [3, 4], [5, 6]], dtype=object)
        try:
            return _npz(X=X, Y=np.zeros(3, dtype=np.int64)), f"X of dtype {dtype}"
        except ValueError:
            return b"PK\x03\x04", "damaged"
    if choice == 4:
        content = _npz(X=np.zeros((4, 2)), Y=np.zeros(4, dtype=np.int64))
        cut = rng.randrange(len(content))
        return content[:cut], f"cut at {cut}"
    return _npz(X=np.full((3, 2), np.nan), Y=np.zeros(3)), "NaN inputs"


def make_cases(seed: int, networks: int, data: int, sessions: int, bomb: int = 3 * 2**30) -> list[Case]:
    """The listed cases, then ``networks``/``data``/``sessions`` mutated files drawn with ``seed``."""
    rng = random.Random(seed)
    examples = _example_networks()
    cases = listed_networks() + listed_data(bomb) + listed_sessions()
    for i in range(networks):
        mutated, note = mutate_json(rng.choice(examples), rng)
        cases.append(Case("network", f"net{i}.json", _as_bytes(mutated), note))
    for i in range(data):
        if rng.random() < 0.5:
            content, note = mutate_csv(rng)
            cases.append(Case("data", f"data{i}.csv", content, note))
        else:
            content, note = mutate_npz(rng)
            cases.append(Case("data", f"data{i}.npz", content, note))
    session = _session_tree()
    for i in range(sessions):
        mutated, note = mutate_json(session, rng)
        cases.append(Case("session", f"session{i}.json", _as_bytes(mutated), note))
    return cases


def _session_tree() -> dict[str, Any]:
    """A saved session of the XOR example after a few Adam steps (optimizer buffers and history filled)."""
    from bpstudio.core.datasets import resolve
    from bpstudio.core.io import session_io
    from bpstudio.core.record.history import TrainingHistory
    from bpstudio.core.session import Session
    from bpstudio.core.spec import OptimizerSpec

    spec = presets.load("xor")
    spec = type(spec)(
        **{
            **{f: getattr(spec, f) for f in ("layers", "output", "loss", "seed", "name", "data")},
            "optimizer": OptimizerSpec("adam", 0.01),
        }
    )
    session = Session(spec, resolve(dict(spec.data)))
    history = TrainingHistory.for_network(spec, capacity=8)
    for _ in range(3):
        session.step()
    tree: dict[str, Any] = json.loads(session_io.dumps(session_io.capture(session, history)))
    return tree


def listed_sessions() -> list[Case]:
    tree = _session_tree()
    cases = []

    def variant(note: str, path: tuple[Any, ...], value: Any) -> None:
        cases.append(Case("session", "session.json", dumps(_set(copy.deepcopy(tree), path, value)), note))

    variant("training.backend a list", ("training", "backend"), ["numpy"])
    variant("huge integer step", ("training", "step"), _Huge())
    variant("history capacity 10^9", ("history", "capacity"), 10**9)
    variant("network version 10^400", ("network", "version"), 10**400)
    variant("optimizer steps 10^30", ("optimizer_state", "steps"), 10**30)
    variant("stop plateau window 10^30", ("training", "stop"), {"plateau_steps": 10**30})
    variant("stop conditions a list", ("training", "stop"), [1])
    cases.append(Case("session", "session.json", _nested_text(50_000).encode(), "deep nesting"))
    return cases
