"""Training mode and evaluation mode: which layers act differently in the two, and the words that say so.

A training step runs in training mode (a dropout layer drops units, a batchnorm layer normalizes by its batch's
statistics). Everything else runs in evaluation mode: the test loss, the accuracies, the decision surface, the
neuron pictures, predictions (a dropout layer passes every unit on, a batchnorm layer uses its running statistics).
So with such a layer the training loss and the test loss are not computed the same way, and views that show both say
which is which; a network without one computes the same in both modes and they say nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpstudio.core.spec import NetworkSpec


@dataclass(frozen=True)
class ModeBehaviour:
    """What a layer type does in each mode, in words."""

    training: str  # e.g. "dropout drops units"
    evaluation: str  # e.g. "dropout passes every unit on"
    short: str  # the evaluation behaviour in a label, e.g. "dropout off"


# layer type -> how it differs between the modes (layernorm computes the same in both: it is not here)
MODE_LAYERS: dict[str, ModeBehaviour] = {
    "dropout": ModeBehaviour("dropout drops units", "dropout passes every unit on", "dropout off"),
    "batchnorm": ModeBehaviour(
        "batchnorm normalizes by the batch's mean and variance",
        "batchnorm normalizes by its running statistics",
        "batchnorm running stats",
    ),
}
EVAL_MODE = "eval mode"


def mode_layers(spec: NetworkSpec) -> tuple[str, ...]:
    """The active layers whose output differs between training and evaluation mode, in order."""
    return tuple(lid for lid in spec.active_order() if spec.layer(lid).type in MODE_LAYERS)


def _behaviours(spec: NetworkSpec) -> list[ModeBehaviour]:
    types = dict.fromkeys(spec.layer(lid).type for lid in mode_layers(spec))  # (each type once, in order)
    return [MODE_LAYERS[t] for t in types]


def eval_tag(spec: NetworkSpec) -> str:
    """A label's note for what is computed in evaluation mode, e.g. ``"eval mode: dropout off"``; ``""`` when the
    network computes the same in both modes."""
    behaviours = _behaviours(spec)
    return f"{EVAL_MODE}: {', '.join(b.short for b in behaviours)}" if behaviours else ""


def loss_modes(spec: NetworkSpec) -> str:
    """Why the training and the test loss differ in how they are computed, in a sentence; ``""`` when they do not."""
    behaviours = _behaviours(spec)
    if not behaviours:
        return ""
    training = ", ".join(b.training for b in behaviours)
    evaluation = ", ".join(b.evaluation for b in behaviours)
    return (
        f"train: each step's loss on its batch, in training mode ({training}). "
        f"test: the loss over the test set, and both accuracies, in evaluation mode ({evaluation}). "
        "So the two differ even where the network does not overfit."
    )
