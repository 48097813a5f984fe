"""Feature terms: the columns a ``features`` layer computes from its input, forward and backward side by side.

A term names one column: ``xi`` (the input's column i, counted from 1), ``xi^k`` (k = 2…9), ``xi*xj``,
``sin(xi)`` or ``cos(xi)``. A features layer has no parameters; its width is its number of terms. Like
TF Playground's feature column, it lets a tiny network separate a circle with x1² + x2² that it could not
draw with lines.

``forward`` and ``backward`` work on any NumPy array type the engine uses (float32, float64 and the gradient
check's complex numbers); ``backward`` returns a new array and never writes into the incoming gradient.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_POWER, MAX_POWER = 2, 9
PAIRED_WIDTH = 4
GRAMMAR = "xi, xi^k (k from 2 to 9), xi*xj, sin(xi) or cos(xi)"
_COLUMN = r"x(\d+)"
_PATTERNS = (
    ("x", re.compile(rf"{_COLUMN}")),
    ("pow", re.compile(rf"{_COLUMN}\^(\d+)")),
    ("mul", re.compile(rf"{_COLUMN}\*{_COLUMN}")),
    ("sin", re.compile(rf"sin\({_COLUMN}\)")),
    ("cos", re.compile(rf"cos\({_COLUMN}\)")),
)
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


class TermError(ValueError):
    """A term that is not one of the grammar's forms, or that names a column the input does not have."""


@dataclass(frozen=True)
class Term:
    """One parsed term: ``kind`` is x, pow, mul, sin or cos; ``i`` and ``j`` are 0-based columns."""

    text: str
    kind: str
    i: int
    j: int = -1
    power: int = 1

    @property
    def columns(self) -> tuple[int, ...]:
        return (self.i, self.j) if self.kind == "mul" else (self.i,)

    @property
    def label(self) -> str:
        """How the app writes the term: x1, x1², x1·x2, sin x1."""
        a, b = f"x{self.i + 1}", f"x{self.j + 1}"
        if self.kind == "pow":
            return a + str(self.power).translate(_SUPERSCRIPTS)
        if self.kind == "mul":
            return f"{a}·{b}"
        if self.kind in ("sin", "cos"):
            return f"{self.kind} {a}"
        return a


def parse_term(text: object, width: int | None = None, source: str = "") -> Term:
    """``text`` as a :class:`Term`, its columns checked against the input's ``width`` when given.

    Raises :class:`TermError` saying what is wrong with the one term."""
    if not isinstance(text, str):
        raise TermError(f"a term is text such as 'x1^2', got {text!r}")
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        numbers = [int(g) for g in match.groups()]
        if any(g != str(int(g)) for g in match.groups()):  # x01, x1^02: not the way a term is written
            break
        columns = numbers[:2] if kind == "mul" else numbers[:1]
        if kind == "pow" and not MIN_POWER <= numbers[1] <= MAX_POWER:
            raise TermError(f"term '{text}' has power {numbers[1]}; a power goes from {MIN_POWER} to {MAX_POWER}")
        for c in columns:
            if c < 1:
                raise TermError(f"term '{text}' names column x{c}; columns count from x1")
            if width is not None and c > width:
                named = f" '{source}'" if source else ""
                plural = "s" if width != 1 else ""
                raise TermError(f"term '{text}' names column x{c}, but the input{named} has {width} column{plural}")
        return Term(
            text, kind, columns[0] - 1, columns[1] - 1 if kind == "mul" else -1, numbers[1] if kind == "pow" else 1
        )
    raise TermError(f"term {text!r} is not one of {GRAMMAR}")


def parse_terms(terms: Sequence[object], width: int | None = None, source: str = "") -> tuple[Term, ...]:
    return tuple(parse_term(t, width, source) for t in terms)


def offered_terms(width: int) -> tuple[str, ...]:
    """The terms the app offers as toggles for an input of ``width`` columns, in the order it shows them:
    for two, x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2) (TF Playground's feature column); products of two
    columns only up to ``PAIRED_WIDTH`` columns (a 64-column input would offer 2016)."""
    n = range(1, width + 1)
    return (
        *(f"x{i}" for i in n),
        *(f"x{i}^2" for i in n),
        *(f"x{i}*x{j}" for i in n for j in n if i < j and width <= PAIRED_WIDTH),
        *(f"sin(x{i})" for i in n),
    )


def with_term(terms: Sequence[str], term: str, on: bool, width: int) -> tuple[str, ...]:
    """``terms`` with ``term`` switched on or off. A term switched on goes after the terms that come before
    it in :func:`offered_terms`' order (at the start if none do); the others keep their places."""
    if not on:
        return tuple(t for t in terms if t != term)
    if term in terms:
        return tuple(terms)
    rank = {t: k for k, t in enumerate(offered_terms(width))}
    mine = rank.get(term, len(rank))
    before = [k for k, t in enumerate(terms) if rank.get(t, len(rank)) < mine]
    at = before[-1] + 1 if before else 0
    return (*terms[:at], term, *terms[at:])


# --- the arithmetic --------------------------------------------------------------------------------


def columns(terms: Sequence[Term], x: Any, sin: Callable[[Any], Any], cos: Callable[[Any], Any]) -> list[Any]:
    """Each term's column of x (N, width), with the array library's own ``sin`` and ``cos`` (NumPy here, torch
    in the torch backend, whose autograd gives its backward)."""
    out = []
    for t in terms:
        xi = x[:, t.i]
        if t.kind == "x":
            out.append(xi)
        elif t.kind == "pow":
            out.append(xi**t.power)
        elif t.kind == "mul":
            out.append(xi * x[:, t.j])
        else:
            out.append(sin(xi) if t.kind == "sin" else cos(xi))
    return out


def forward(terms: Sequence[Term], x: np.ndarray) -> np.ndarray:
    """(N, len(terms)): each term's column computed from x (N, width)."""
    return np.stack(columns(terms, x, np.sin, np.cos), axis=1)


def backward(terms: Sequence[Term], x: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dx from dL/d(features): each term sends its column's gradient to the columns it reads.

    d xi = 1, d xiᵏ = k·xiᵏ⁻¹, d(xi·xj) = xj (to i) and xi (to j), d sin xi = cos xi, d cos xi = −sin xi."""
    dx = np.zeros_like(x, dtype=np.result_type(x, grad))
    for c, t in enumerate(terms):
        g = grad[:, c]
        xi = x[:, t.i]
        if t.kind == "x":
            dx[:, t.i] += g
        elif t.kind == "pow":
            dx[:, t.i] += g * (t.power * xi ** (t.power - 1))
        elif t.kind == "mul":
            dx[:, t.i] += g * x[:, t.j]
            dx[:, t.j] += g * xi
        elif t.kind == "sin":
            dx[:, t.i] += g * np.cos(xi)
        else:
            dx[:, t.i] -= g * np.sin(xi)
    return dx


def local_derivative(term: Term, column: int, x: np.ndarray) -> np.ndarray:
    """d(term)/d(x[:, column]) per sample (0 where the term does not read that column)."""
    xi = x[:, term.i]
    if column not in term.columns:
        return np.zeros_like(xi)
    if term.kind == "x":
        return np.ones_like(xi)
    if term.kind == "pow":
        return term.power * xi ** (term.power - 1)
    if term.kind == "mul":
        other = x[:, term.j] if column == term.i else xi
        return other * (2 if term.i == term.j else 1)
    return np.cos(xi) if term.kind == "sin" else -np.sin(xi)


def jacobian(terms: Sequence[Term], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """∂term_m/∂x[n] per sample, (N, terms, width), and which entries a term reads at all, (terms, width)."""
    jac = np.zeros((x.shape[0], len(terms), x.shape[1]), dtype=np.result_type(x, np.float64))
    reads = np.zeros((len(terms), x.shape[1]), dtype=bool)
    for m, term in enumerate(terms):
        for n in term.columns:
            reads[m, n] = True
            jac[:, m, n] = local_derivative(term, n, x)
    return jac, reads


def derivative_formula(term: Term, column: int) -> str:
    """The derivative of ``term`` by input column ``column`` in words, e.g. '2·x1' for x1^2."""
    a, b = f"x{term.i + 1}", f"x{term.j + 1}"
    if column not in term.columns:
        return "0"
    if term.kind == "x":
        return "1"
    if term.kind == "pow":
        return f"{term.power}·{a}" + (str(term.power - 1).translate(_SUPERSCRIPTS) if term.power > 2 else "")
    if term.kind == "mul":
        return f"2·{a}" if term.i == term.j else (b if column == term.i else a)
    return f"cos {a}" if term.kind == "sin" else f"−sin {a}"
