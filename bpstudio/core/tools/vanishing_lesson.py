"""A guided lesson on vanishing gradients: the three lesson examples, one change at a time, explained with the
numbers of the runs the class just watched.

The examples (deep_sigmoid, deep_relu_he, deep_sigmoid_residual) share their data, loss, optimizer, learning
rate and batches and differ only in the network. Each :class:`LessonStop` says which example to open, how many
steps to train it and whether to keep the run before (so the plots show the earlier runs faintly); its text is
built from :class:`RunSummary` figures of the runs, never typed in.

The figures are robust to the batches' noise: gradient norms are geometric means over the run's last
:data:`TAIL` steps (norms of exactly 0 — a saturated output — left out), losses arithmetic means over its first
and last steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bpstudio.core.errors import SessionError
from bpstudio.core.record.history import TAIL as TAIL  # (re-exported: the lesson states its figures over it)
from bpstudio.core.record.history import TrainingHistory
from bpstudio.core.record.history import tail_norm as tail_norm
from bpstudio.core.spec import NetworkSpec

HEAD = 20  # steps at the start whose losses give the starting loss
STEPS = 600  # each example's run in the lesson (6 s at the app's watchable pace)
SIGMOID_SLOPE_BOUND = 0.25  # σ'(x) = σ(x)(1 − σ(x)) ≤ 1/4


@dataclass(frozen=True)
class RunSummary:
    """A run's figures: its length, its loss at the start and the end, the first and last weight layers'
    gradient norms at the end, their ratio, and the share of the gradient each layer passes on (the ratio's
    (layers − 1)-th root)."""

    steps: int
    loss_start: float
    loss_end: float
    first_layer: str
    last_layer: str
    first_norm: float
    last_norm: float

    @property
    def ratio(self) -> float:
        return self.first_norm / self.last_norm if self.last_norm > 0 else math.nan

    def per_layer(self, layers: int) -> float:
        """The factor a gradient shrinks (< 1) or grows by per layer, over ``layers`` weight layers."""
        return self.ratio ** (1.0 / (layers - 1)) if layers > 1 and self.ratio > 0 else math.nan


def summarize(history: TrainingHistory) -> RunSummary:
    """The figures of the run ``history`` recorded (raises when it has no steps or fewer than two layers)."""
    if len(history) == 0:
        raise SessionError("the run has no steps yet")
    ids = history.layer_ids
    if len(ids) < 2:
        raise SessionError("the network needs two or more layers with weights to compare their gradients")
    losses = history.losses()
    finite = losses[np.isfinite(losses)]
    return RunSummary(
        steps=len(history),
        loss_start=float(np.mean(finite[:HEAD])) if finite.size else math.nan,
        loss_end=float(np.mean(finite[-TAIL // 2 :])) if finite.size else math.nan,
        first_layer=ids[0],
        last_layer=ids[-1],
        first_norm=tail_norm(history.grad_norms(ids[0])),
        last_norm=tail_norm(history.grad_norms(ids[-1])),
    )


# --- how the figures read ------------------------------------------------------------------------------------


def times(ratio: float) -> str:
    """A ratio ≪ 1 as "1/N" in words people say: "about 1/3,000,000 (10^-6.5)"."""
    if not (ratio > 0 and math.isfinite(ratio)):
        return "not measurable (no gradient reached a layer)"
    power = math.log10(ratio)
    if ratio >= 0.5:
        return f"about {ratio:.2g} times ({'10^' + format(power, '.1f')})"
    inverse = 1 / ratio
    digits = max(0, int(math.floor(math.log10(inverse))) - 1)
    rounded = round(inverse, -digits)
    return f"about 1/{rounded:,.0f} (10^{power:.1f})"


def _loss_words(s: RunSummary) -> str:
    if not (math.isfinite(s.loss_start) and math.isfinite(s.loss_end)):
        return "The loss could not be measured."
    change = (
        "It barely moved: the net guesses about as well as a coin flip (a cross-entropy of 0.693)."
        if s.loss_end > 0.9 * s.loss_start and s.loss_end > 0.6
        else "It fell: the net learns the data."
    )
    return (
        f"The loss went from {s.loss_start:.3f} to {s.loss_end:.3f} (means over the first {HEAD} and the last "
        f"{TAIL // 2} steps: one batch's loss, as the status bar shows it, jumps around them). {change}"
    )


def _gap_words(s: RunSummary, layers: int) -> str:
    per = s.per_layer(layers)
    return (
        f"At the end of the run the gradient of the first layer ({s.first_layer}'s weights) is {s.first_norm:.2e}, "
        f"that of the last ({s.last_layer}) {s.last_norm:.2e}: the first layer gets {times(s.ratio)} of the "
        f"last one's. Spread over the {layers} weight layers, each passes on about {per:.2g} of the gradient it "
        "receives."
    )


# --- the stops ----------------------------------------------------------------------------------------------

Runs = Mapping[str, RunSummary]  # example name -> the summary of its run in this lesson
TextFor = Callable[[NetworkSpec, Runs], str]


@dataclass(frozen=True)
class LessonStop:
    """One stop: open ``example`` (None: stay), after keeping the run on the plots if ``keep_run``, train it
    ``train_steps`` steps, then show ``text_for(spec, runs)``."""

    title: str
    example: str | None
    train_steps: int
    keep_run: bool
    text_for: TextFor


def weight_layers(spec: NetworkSpec) -> int:
    return sum(1 for lid in spec.active_order() if spec.layer(lid).type == "dense")


def _settings(spec: NetworkSpec) -> str:
    batches = "the full batch" if spec.batch_size is None else f"batches of {spec.batch_size}"
    return f"{spec.optimizer.name}, learning rate {spec.optimizer.lr:g}, {batches}"


def _intro(spec: NetworkSpec, runs: Runs) -> str:
    layers = weight_layers(spec)
    bound = SIGMOID_SLOPE_BOUND ** (layers - 1)
    return (
        f"This network has {layers} layers with weights, every hidden one with the sigmoid activation. "
        "Backpropagation carries the error's gradient from the output back to the first layer; at every layer "
        "it is multiplied by the sigmoid's slope σ'(net) = σ(net)(1 − σ(net)), which is never above 0.25, and by "
        f"the layer's weights.\n\nThrough {layers - 1} layers the slopes alone can shrink it to 0.25^{layers - 1} "
        f"= {bound:.1e}.\n\nPress Next to train it for {STEPS} steps ({_settings(spec)}) and watch the plot of "
        "the gradients per layer: one curve per layer, named in its legend."
    )


def _sigmoid_run(spec: NetworkSpec, runs: Runs) -> str:
    s = runs["deep_sigmoid"]
    return (
        f"{_gap_words(s, weight_layers(spec))} That is below the sigmoid's bound of 0.25: the curves are fanned "
        f"out by depth, each layer under the next.\n\n{_loss_words(s)} The output layer still gets a usable "
        "gradient, so it learns what it can from features the first layers hardly change: the first layers "
        "learn too slowly to matter.\n\nNext: keep this run on the plots and change one thing."
    )


def _relu_run(spec: NetworkSpec, runs: Runs) -> str:
    s, before = runs["deep_relu_he"], runs["deep_sigmoid"]
    return (
        "Same data, loss, optimizer, learning rate and batches. Only the network changed: ReLU, whose slope is 1 "
        "wherever a unit is active, and He initialisation, whose weights' variance 2/fan-in keeps the signal's "
        f"size from layer to layer.\n\n{_gap_words(s, weight_layers(spec))} With the sigmoid it was "
        f"{times(before.ratio)}.\n\n{_loss_words(s)} The faint dashed curves are the sigmoid run, kept for "
        "comparison."
    )


def _residual_run(spec: NetworkSpec, runs: Runs) -> str:
    s, before = runs["deep_sigmoid_residual"], runs["deep_sigmoid"]
    return (
        "Back to the sigmoid, but now each hidden layer's output is added to its input (x + f(x)): the gradient "
        "has a path around every sigmoid, through the additions, where nothing multiplies it by 0.25.\n\n"
        f"{_gap_words(s, weight_layers(spec))} Without the connections it was {times(before.ratio)}.\n\n"
        f"{_loss_words(s)}"
    )


def _batchnorm_run(spec: NetworkSpec, runs: Runs) -> str:
    s, before = runs["deep_sigmoid_batchnorm"], runs["deep_sigmoid"]
    return (
        "The sigmoid again, with the same layers, but each layer's net input is normalized over the batch before "
        "its sigmoid (batchnorm: subtract the batch's mean, divide by its standard deviation, then scale by γ and "
        "shift by β, both learned). The sigmoids work where their slope is largest, and dividing by the batch's "
        "spread undoes the shrinking: when a layer's inputs barely vary, the division scales the gradient back up."
        f"\n\n{_gap_words(s, weight_layers(spec))} Without it it was {times(before.ratio)}.\n\n{_loss_words(s)} "
        "The loss is noisier: every sample's output depends on the rest of its batch."
    )


# what the lesson calls its runs: in its texts, and on the plots' legends where it keeps them (long titles there
# took a row each and squeezed the curves)
RUN_NAMES = {
    "deep_sigmoid": "Sigmoid",
    "deep_relu_he": "ReLU + He",
    "deep_sigmoid_residual": "Sigmoid + residual",
    "deep_sigmoid_batchnorm": "Sigmoid + batchnorm",
}


def _side_by_side(spec: NetworkSpec, runs: Runs) -> str:
    names = RUN_NAMES
    rows = [
        f"{names[name]}: first/last gradient {times(s.ratio)}; loss {s.loss_start:.3f} → {s.loss_end:.3f}"
        for name, s in runs.items()
        if name in names
    ]
    return (
        "The four runs, one change at a time:\n\n"
        + "\n".join(rows)
        + "\n\nDeep sigmoid nets stop learning because every layer shrinks the gradient on its way back. The fixes "
        "keep it near its size: a slope of 1 (ReLU) with weights scaled to match (He), or a path around the "
        "sigmoids (residual connections), or inputs to each sigmoid rescaled to where it is steep (batchnorm)."
        "\n\nTry it: turn Smooth "
        "off to see the batches' noise, or read the heatmap under the curves: one row per layer, every step."
    )


def lesson() -> list[LessonStop]:
    """The stops of the vanishing-gradients lesson, in order."""
    return [
        LessonStop("Why deep nets stop learning", "deep_sigmoid", 0, False, _intro),
        LessonStop("The deep sigmoid net trains", None, STEPS, False, _sigmoid_run),
        LessonStop("One change: ReLU and He initialisation", "deep_relu_he", STEPS, True, _relu_run),
        LessonStop("Another fix: residual connections", "deep_sigmoid_residual", STEPS, True, _residual_run),
        LessonStop("A fourth fix: batch normalization", "deep_sigmoid_batchnorm", STEPS, True, _batchnorm_run),
        LessonStop("Side by side", None, 0, False, _side_by_side),
    ]
