"""What a double-click on the canvas edits in place: a weight line's weight, a neuron's bias, a norm layer's scale
γ (on the line into a unit) or shift β (on the unit); or, where there is nothing to edit, why not, in a sentence
for the canvas's banner."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF

from bpstudio.gui.canvas.scene import CanvasScene, Hit


@dataclass(frozen=True)
class ValueTarget:
    """A weight or bias to edit in place: ``key[index]`` holding ``value``, the editor anchored at ``at``."""

    key: str  # "o.weight" or "h.bias"
    index: tuple[int, ...]
    value: float
    at: QPointF  # scene point the editor opens over
    said: str = ""  # what a person calls it, when not its key's "weight" or "bias" (a norm layer's γ and β)

    @property
    def kind(self) -> str:
        return self.said or self.key.rsplit(".", 1)[1]

    @property
    def name(self) -> str:
        return f"{self.key}[{', '.join(map(str, self.index))}]"


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def value_target(scene: CanvasScene, hit: Hit | None, at: QPointF | None = None) -> ValueTarget | str | None:
    """The weight or bias a double-click on ``hit`` edits in place (anchored at ``at``, else at the line's
    middle or the neuron), or why there is none to edit there (None: not a line or a neuron)."""
    if hit is None or scene.net is None or hit.kind not in ("edge", "neuron"):
        return None
    state = scene.net.layers.get(hit.layer)
    if state is None:
        return None
    if hit.kind == "edge":
        edges = hit.edges
        assert edges is not None
        if edges.kind == "features":
            return (
                f"this line feeds {edges.source}[{hit.index[1]}] into a term of '{edges.target}': "
                "a features layer has no weights to edit (switch its terms in its inspector)"
            )
        if edges.kind == "dropout":
            return (
                f"this line passes {edges.source}[{hit.index[1]}] into '{edges.target}', which drops it or scales "
                "it by 1/(1−p) in training: a dropout layer has no weights to edit (set p in its inspector)"
            )
        if edges.kind == "norm":
            if state.gamma is None:
                return (
                    f"'{edges.target}' normalizes {edges.source}[{hit.index[1]}] with no scale γ to edit "
                    "(tick Affine in its inspector to give it one)"
                )
            anchor = at if at is not None else edges.lines[hit.edge].center()
            unit = hit.index[0]
            return ValueTarget(f"{hit.layer}.weight", (unit,), float(state.gamma[unit]), anchor, "scale γ")
        if edges.kind != "weight":
            rule = "adds" if edges.kind == "add" else "copies"
            return (
                f"this line {rule} {edges.source}[{hit.index[1]}] into '{edges.target}' unchanged: "
                f"{_a(edges.kind)} layer has no weights to edit"
            )
        if state.weight is None:
            return f"the weights of '{hit.layer}' are not known yet"
        anchor = at if at is not None else edges.lines[hit.edge].center()
        return ValueTarget(f"{hit.layer}.weight", hit.index, float(state.weight[hit.index]), anchor)
    unit = hit.index[0]
    if state.type == "input":
        return (
            f"'{hit.layer}' is the input layer: its neurons hold the data's features and have no bias to "
            "edit (double-click a line out of it to edit a weight)"
        )
    if state.type == "features":
        return f"'{hit.layer}' is a features layer: it computes its terms and has no bias to edit"
    if state.type == "dropout":
        return f"'{hit.layer}' is a dropout layer: it drops units in training and has no bias to edit"
    if state.norm and state.bias is None:
        return f"'{hit.layer}' has no shift β to edit: tick Affine in its inspector to give it γ and β"
    if state.type not in ("dense", "batchnorm", "layernorm"):
        what = "sums" if state.type == "add" else "joins"
        return f"'{hit.layer}' is {_a(state.type)} layer: it {what} its inputs and has no bias to edit"
    if state.bias is None:
        return f"'{hit.layer}' has no bias: tick 'Bias' in its inspector to give it one"
    if at is None:
        block = scene.blocks[hit.layer]
        assert block.geometry is not None
        at = block.pos() + (block.geometry.neuron_center(unit) if state.small else QPointF())
    return ValueTarget(f"{hit.layer}.bias", (unit,), float(state.bias[unit]), at, "shift β" if state.norm else "")
