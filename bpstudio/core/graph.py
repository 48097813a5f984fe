"""Graph algorithms on a layer DAG given as ``{layer id: its input ids}``, in file order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bpstudio.core.errors import SpecError
from bpstudio.core.limits import quoted


def topological_order(inputs: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Every id after all of its inputs (Kahn's algorithm; ties keep file order). A cycle is a SpecError."""
    indegree = {node: len(sources) for node, sources in inputs.items()}
    consumers: dict[str, list[str]] = {node: [] for node in inputs}
    for node, sources in inputs.items():
        for source in sources:
            consumers[source].append(node)
    ready = [node for node, degree in indegree.items() if degree == 0]
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for consumer in consumers[current]:
            indegree[consumer] -= 1
            if indegree[consumer] == 0:
                ready.append(consumer)
    if len(order) < len(inputs):
        raise SpecError(f"the layers form a cycle: {describe_cycle(inputs, set(order))}", field="inputs")
    return tuple(order)


def describe_cycle(inputs: Mapping[str, Sequence[str]], acyclic: set[str]) -> str:
    """One cycle among the ids not in ``acyclic``, written in data-flow order: 'a' -> 'b' -> 'a'."""
    path = [next(node for node in inputs if node not in acyclic)]
    while True:  # walk backwards along inputs that are still on a cycle until a layer repeats
        nxt = next(i for i in inputs[path[-1]] if i not in acyclic)
        if nxt in path:
            cycle = path[path.index(nxt) :] + [nxt]
            return " -> ".join(f"{quoted(i)}" for i in reversed(cycle))
        path.append(nxt)
