"""The optimizer part of an exported PyTorch script (see :mod:`bpstudio.core.io.export_torch`):
``make_optimizer``, ``make_scheduler`` and ``adjust_gradients`` (bpstudio's L1 term and clipping), each with a
docstring saying how ``torch.optim`` relates to bpstudio's formulas."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from bpstudio.core.spec import OptimizerSpec, Schedule

DECAY_NOTE = "g = grad + weight_decay·p (L2 decay added to the gradient)"
ADAM_NOTES = (
    "    torch.optim.{kind} uses these formulas; it differs in two details: it counts t per parameter,\n"
    "    bpstudio per optimizer (the same here: every trainable parameter is updated on every step);\n"
    "    and it forms m with lerp, which for beta1 < 0.5 rounds differently in the last bit."
)


def _rule(opt: OptimizerSpec) -> tuple[str, str]:
    """(what the docstring says, the expression making the optimizer)."""
    decay = f"weight_decay={opt.weight_decay!r}"
    if opt.name == "sgd":
        return f"sgd: p ← p − lr·g, {DECAY_NOTE}.", f"torch.optim.SGD(trainable, lr={opt.lr!r}, {decay})"
    if opt.name == "momentum":
        doc = (
            f"momentum: b ← momentum·b + g (the first b = g), p ← p − lr·b, {DECAY_NOTE}.\n"
            "    torch.optim.SGD with dampening 0 and no Nesterov term computes exactly this."
        )
        return doc, f"torch.optim.SGD(trainable, lr={opt.lr!r}, momentum={opt.momentum!r}, dampening=0.0, {decay})"
    if opt.name == "rmsprop":
        doc = (
            f"rmsprop: v ← alpha·v + (1 − alpha)·g², p ← p − lr · g / (√v + eps), {DECAY_NOTE}.\n"
            "    torch.optim.RMSprop without momentum and not centered computes exactly this."
        )
        make = (
            f"torch.optim.RMSprop(trainable, lr={opt.lr!r}, alpha={opt.alpha!r}, eps={opt.eps!r}, {decay}, "
            "momentum=0.0, centered=False)"
        )
        return doc, make
    betas = f"betas=({opt.beta1!r}, {opt.beta2!r}), eps={opt.eps!r}, {decay}"
    adam = "m ← β₁·m + (1 − β₁)·g, v ← β₂·v + (1 − β₂)·g²,\n    p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)"
    if opt.name == "adamw":
        doc = f"adamw: p ← p·(1 − lr·weight_decay) (decoupled decay), then\n    {adam}.\n" + ADAM_NOTES.format(
            kind="AdamW"
        )
        return doc, f"torch.optim.AdamW(trainable, lr={opt.lr!r}, {betas})"
    doc = f"adam: {adam}, {DECAY_NOTE}, not AdamW.\n" + ADAM_NOTES.format(kind="Adam")
    return doc, f"torch.optim.Adam(trainable, lr={opt.lr!r}, {betas})"


def _scheduler(schedule: Schedule | None) -> tuple[str, str]:
    if schedule is None:
        return "none: the learning rate stays as it is.", "None"
    if schedule.name == "step":
        doc = "step: lr·gamma^⌊t / step_size⌋ for update t (from 0)."
        make = f"torch.optim.lr_scheduler.StepLR(optimizer, step_size={schedule.step_size!r}, gamma={schedule.gamma!r})"
    elif schedule.name == "exponential":
        doc = "exponential: lr·gamma^t for update t (from 0)."
        make = f"torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma={schedule.gamma!r})"
    else:
        doc = "cosine: eta_min + (lr − eta_min)·(1 + cos(π·t / t_max)) / 2 for update t (from 0)."
        make = (
            f"torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max={schedule.t_max!r}, "
            f"eta_min={schedule.eta_min!r})"
        )
    return doc + "\n    Stepped once after every optimizer step, as bpstudio does.", make


def _adjustments(opt: OptimizerSpec, l1_keys: Sequence[str]) -> tuple[str, list[str]]:
    doc, lines = [], []
    if opt.l1:
        doc.append(f"the L1 term: {opt.l1!r}·sign(w) added to the gradient of every dense weight matrix")
        lines += [
            "    for key in L1_WEIGHTS:",
            "        p = model.get_parameter(key)",
            "        if p.grad is not None:  # (None: the layer is not on the path to the output)",
            f"            p.grad += {opt.l1!r} * torch.sign(p.detach())",
        ]
    if opt.clip_norm is not None:
        doc.append(f"clipping: the trainable gradients' total L2 norm scaled down to at most {opt.clip_norm!r}")
        lines += [
            "    trainable = [p for key, p in model.named_parameters() if key not in FROZEN]",
            f"    torch.nn.utils.clip_grad_norm_(trainable, {opt.clip_norm!r})",
        ]
    text = "; then ".join(doc) if doc else "nothing (no L1 term, no clipping)"
    wrapped = textwrap.fill(f"{text}. The loss printed is the data loss alone.", 106, subsequent_indent="    ")
    return wrapped, lines or ["    return"]


def optimizer_code(opt: OptimizerSpec, l1_keys: Sequence[str]) -> str:
    """``make_optimizer(model)``, ``make_scheduler(optimizer)`` and ``adjust_gradients(model)``: the torch.optim
    optimizer, the learning-rate scheduler and the gradient changes doing bpstudio's update. ``l1_keys``: the
    state_dict keys of the dense weight matrices the L1 term applies to."""
    doc, make = _rule(opt)
    schedule_doc, schedule_make = _scheduler(opt.schedule)
    adjust_doc, adjust_lines = _adjustments(opt, l1_keys)
    l1_line = f"L1_WEIGHTS = {list(l1_keys)!r}  # the dense weight matrices (not biases) the L1 term applies to\n"
    adjust_body = "\n".join(adjust_lines)
    return f'''{l1_line if opt.l1 else ""}
def make_optimizer(model):
    """bpstudio's optimizer, {doc}"""
    trainable = [p for key, p in model.named_parameters() if key not in FROZEN]
    if not trainable:
        return None  # everything is frozen
    return {make}


def make_scheduler(optimizer):
    """bpstudio's learning-rate schedule:
    {schedule_doc}"""
    return {schedule_make}


def adjust_gradients(model):
    """What bpstudio does to the gradients between backward() and the optimizer's step:
    {adjust_doc}"""
{adjust_body}
'''
