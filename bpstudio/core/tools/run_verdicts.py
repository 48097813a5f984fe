"""A verdict per layer of a watched PyTorch run, with the numbers behind it, in the words and by the thresholds
bpstudio uses for its own networks:

- the gradient of a layer against the last layer's, as for the first/last ratio of the gradient plot:
  :func:`~bpstudio.core.record.history.gradient_health` names it (vanishing below 1e-3, shrinking, healthy,
  growing, exploding above 1e3; stalled when the last layer's own gradient is below 1e-6); each norm is the
  lesson's robust one, :func:`~bpstudio.core.tools.vanishing_lesson.tail_norm` (a geometric mean over the last
  steps);
- dead units (ReLU modules) and saturated entries (sigmoid and tanh modules), flagged when at least
  :data:`HALF` of them are, averaged over the same last steps: half a layer that no longer learns, steadily,
  is a diagnosis (the step-health readout, which flags a single step, waits for nearly all: one batch can make
  many units look dead for a step);
- a gradient that is exactly 0 at every one of those steps ("zero gradients"), or that stopped being a number
  ("not finite"), as step health says it;
- a layer with parameters none of which ever had a gradient reads "no gradient" (frozen, or not in use: no
  verdict on how it learns), and a module without parameters and without dead or saturated units to count
  (a pooling layer) reads "—": there is nothing to judge.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from bpstudio.core.record.history import EXPLODING, STALLED, VANISHING, gradient_health
from bpstudio.core.record.watched_run import WatchedRun
from bpstudio.core.tools.vanishing_lesson import TAIL, tail_norm

HALF = 0.5  # the share of dead units or saturated entries, over the last steps, that names a layer's problem
PROBLEMS = ("not finite", "zero gradients", "dead units", "saturated", "vanishing", "exploding", "stalled")
NO_GRADIENT, NOTHING_TO_JUDGE = "no gradient", "—"


@dataclass(frozen=True)
class LayerVerdict:
    """One watched module: its verdict (one of :data:`PROBLEMS`; or shrinking, growing, healthy; or
    :data:`NO_GRADIENT`, :data:`NOTHING_TO_JUDGE`) and the evidence
    in words; the figures over the last :data:`~bpstudio.core.tools.vanishing_lesson.TAIL` recorded steps (NaN
    where not measured): gradient norm, its ratio to the last layer's, update ratio (of the weight, or the largest
    of the module's parameters), and the output's mean, std and zero, dead and saturated fractions."""

    layer: str
    module_type: str
    verdict: str
    evidence: str
    grad_norm: float = math.nan
    ratio: float = math.nan
    update_ratio: float = math.nan
    mean: float = math.nan
    std: float = math.nan
    zero_fraction: float = math.nan
    dead_fraction: float = math.nan
    saturated_fraction: float = math.nan

    @property
    def problem(self) -> bool:
        return self.verdict in PROBLEMS


def layer_verdicts(run: WatchedRun) -> list[LayerVerdict]:
    """A verdict for every watched module and every module holding parameters that had a gradient, first to
    last."""
    layers = [layer for layer in run.layers if not _never(run, layer)]
    norms = {layer: tail_norm(run.layer_grad_norms(layer)) for layer in layers}
    last = next((norms[layer] for layer in reversed(layers) if math.isfinite(norms[layer])), math.nan)
    types = {m.name: m.type for m in run.modules}
    names = [m.name for m in run.modules] + [layer for layer in layers if layer not in types]
    verdicts = []
    for name in dict.fromkeys(names):
        figures = _activation_figures(run, name) if name in types else {}
        gradient = _gradient_figures(run, name, norms[name], last) if name in norms else {}
        verdict, evidence = _judge(run, name, figures, gradient)
        if name in run.layers and name not in norms and verdict == NOTHING_TO_JUDGE:
            verdict, evidence = NO_GRADIENT, "no gradient recorded (frozen, or not in use)"
        verdicts.append(LayerVerdict(name, types.get(name, "?"), verdict, evidence, **gradient, **figures))
    return _blocked_by(verdicts)


def _blocked_by(verdicts: list[LayerVerdict]) -> list[LayerVerdict]:
    """Layers with zero gradients before a layer of dead units (first to last) are told it: a ReLU that is 0 for
    every sample passes no gradient back, so the layers before it get none; the cause is the dead layer, not
    each of them (a practitioner otherwise starts "fixing" the first layer)."""
    out = []
    for i, v in enumerate(verdicts):
        dead = next((later.layer for later in verdicts[i + 1 :] if later.verdict == "dead units"), None)
        if v.verdict == "zero gradients" and dead is not None:
            v = dataclasses.replace(v, evidence=f"{v.evidence}; '{dead}' after it has dead units, which pass none back")
        out.append(v)
    return out


def _never(run: WatchedRun, layer: str) -> bool:
    """True when none of the layer's parameters ever had a gradient (frozen, or not in use)."""
    return bool(np.all(np.isnan(run.layer_grad_norms(layer))))


def _tail_mean(values: np.ndarray) -> float:
    tail = values[-TAIL:]
    tail = tail[np.isfinite(tail)]
    return float(np.mean(tail)) if tail.size else math.nan


def _activation_figures(run: WatchedRun, module: str) -> dict[str, float]:
    return {
        stat: _tail_mean(run.activation(module, stat))
        for stat in ("mean", "std", "zero_fraction", "dead_fraction", "saturated_fraction")
    }


def _gradient_figures(run: WatchedRun, layer: str, norm: float, last: float) -> dict[str, float]:
    names = run.layer_parameters(layer)
    weight = f"{layer}.weight" if layer else "weight"
    ratios = [_tail_mean(run.update_ratios(n)) for n in ([weight] if weight in names else names)]
    known = [r for r in ratios if math.isfinite(r)]
    ratio = norm / last if last > 0 and math.isfinite(norm) else math.nan
    return {"grad_norm": norm, "ratio": ratio, "update_ratio": max(known) if known else math.nan}


def _judge(run: WatchedRun, name: str, figures: dict[str, float], gradient: dict[str, float]) -> tuple[str, str]:
    if gradient:
        broken = _not_finite(run, name)
        if broken:
            return "not finite", broken
        if math.isnan(gradient["grad_norm"]):
            return "zero gradients", _zero_words(run, name)
    dead, saturated = figures.get("dead_fraction", math.nan), figures.get("saturated_fraction", math.nan)
    if dead >= HALF:
        return "dead units", f"{dead:.0%} of its units are 0 for every sample of a batch (≥ {HALF:.0%})"
    if saturated >= HALF:
        return "saturated", f"{saturated:.0%} of its outputs are saturated (≥ {HALF:.0%})"
    if not gradient:
        words = _activation_words(figures)
        return ("healthy", words) if words else (NOTHING_TO_JUDGE, "")
    ratio, norm = gradient["ratio"], gradient["grad_norm"]
    last = norm / ratio if ratio > 0 else math.nan
    if not math.isfinite(ratio):  # (no last layer's gradient to set it against)
        return NOTHING_TO_JUDGE, ""
    word = gradient_health(ratio, last)
    if word == "stalled":
        return word, f"the last layer's gradient is {last:.1e}, below {STALLED:.0e}: no layer learns"
    bound = {"vanishing": f" (below {VANISHING:.0e})", "exploding": f" (above {EXPLODING:.0e})"}.get(word, "")
    return word, f"its gradient is {ratio:.1e} × the last layer's{bound}"


def _zero_words(run: WatchedRun, layer: str) -> str:
    """The evidence of a layer's zero gradients: which of its parameters' gradients (the layer's gradient is its
    weight's, when it has one) were 0 at every one of the last steps, and that the others were not."""
    steps = min(TAIL, len(run))
    names = run.layer_parameters(layer)
    weight = f"{layer}.weight" if layer else "weight"
    whose = "its weight's gradient" if weight in names and len(names) > 1 else "its gradient"
    others = [n for n in names if n != weight and weight in names]
    moving = [n.rpartition(".")[2] for n in others if np.nanmax(np.abs(run.grad_norms(n)[-TAIL:]), initial=0) > 0]
    but = f" (its {', '.join(moving)}'s {'is' if len(moving) == 1 else 'are'} not)" if moving else ""
    return f"{whose} is exactly 0 at every one of the last {steps} recorded steps{but}"


def _activation_words(figures: dict[str, float]) -> str:
    dead, saturated = figures.get("dead_fraction", math.nan), figures.get("saturated_fraction", math.nan)
    if math.isfinite(dead):
        return f"{dead:.0%} of its units dead"
    if math.isfinite(saturated):
        return f"{saturated:.0%} of its outputs saturated"
    return ""


def _not_finite(run: WatchedRun, layer: str) -> str:
    """Words for the first recorded step at which one of the layer's gradient norms was inf or nan; ""."""
    broken = [(run.broken[name], name) for name in run.layer_parameters(layer) if name in run.broken]
    if not broken:
        return ""
    (step, value), name = min(broken)
    return f"the gradient norm of {name} became {value} at step {step}"
