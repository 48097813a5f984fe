"""The fixed parts of an exported PyTorch script (see :mod:`bpstudio.core.io.export_torch`): number literals,
the data note, the optimizer (with how ``torch.optim`` relates to bpstudio's formulas) and ``main()``."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Mapping
from typing import Any

import numpy as np

from bpstudio import __version__
from bpstudio.core import activations, features
from bpstudio.core.data import Dataset
from bpstudio.core.spec import NetworkSpec

LINE = 110  # longest line a literal list is wrapped to


def _number(v: Any) -> str:
    return repr(int(v)) if isinstance(v, (int, np.integer)) else repr(float(v))


def _wrapped(items: list[str], indent: int) -> str:
    """``[a, b, ...]`` on one line, or broken into lines of at most :data:`LINE` characters."""
    flat = f"[{', '.join(items)}]"
    if indent + len(flat) <= LINE:
        return flat
    lines, line = [], ""
    for item in items:
        if line and indent + 4 + len(line) + len(item) + 2 > LINE:
            lines.append(line.rstrip())
            line = ""
        line += f"{item}, "
    lines.append(line.rstrip())
    pad = " " * (indent + 4)
    return "[\n" + "".join(f"{pad}{text}\n" for text in lines) + " " * indent + "]"


def literal(value: Any, indent: int = 0) -> str:
    """Python source for an array (nested lists, one matrix row per line) or a str → str mapping; every
    float is written with ``repr``, which reads back as the same float64."""
    if isinstance(value, Mapping):
        pad = " " * (indent + 4)
        return "{\n" + "".join(f"{pad}{k!r}: {v!r},\n" for k, v in value.items()) + " " * indent + "}"
    a = np.asarray(value)
    if a.ndim == 0:
        return _number(a.item())
    if a.ndim == 1:
        return _wrapped([_number(v) for v in a.tolist()], indent)
    pad = " " * (indent + 4)
    rows = "".join(f"{pad}{literal(row, indent + 4)},\n" for row in a)
    return "[\n" + rows + " " * indent + "]"


def data_description(source: Any, train: Dataset, held_out: int, labels: bool) -> str:
    """Comment lines saying where the embedded data came from and what X and T hold."""
    if isinstance(source, Mapping) and "builtin" in source:
        options = ", ".join(
            f"{k}={v}" for k, v in source.items() if k not in ("builtin", "test_fraction", "split_seed")
        )
        what = f"bpstudio's built-in set '{source['builtin']}'" + (f" ({options})" if options else "")
    elif isinstance(source, Mapping) and "file" in source:
        what = f"the file {source['file']!r}"
    elif isinstance(source, Mapping):
        what = "the samples written in the network file"
    elif isinstance(source, str):
        what = f"{source!r}"
    else:
        what = f"the data set '{train.name}'"
    if held_out:
        what += f", the {len(train)} training samples ({held_out} held out for testing, as bpstudio splits them)"
    targets = "class labels" if labels else "one row of targets per sample"
    text = (
        f"The training data: {what}. X: one row of inputs per sample; "
        f"T: the targets as the loss takes them ({targets})."
    )
    return "\n".join(textwrap.wrap(text, LINE, initial_indent="# ", subsequent_indent="# "))


# each activation as the script writes it, with the engine's settings spelled out
ACTIVATION_CODE = {
    "identity": "{}",
    "sigmoid": "torch.sigmoid({})",
    "tanh": "torch.tanh({})",
    "relu": "torch.relu({})",
    "leaky_relu": f"F.leaky_relu({{}}, negative_slope={activations.LEAKY_SLOPE!r})",
    "elu": "F.elu({}, alpha=1.0)",
    "gelu": 'F.gelu({}, approximate="none")',  # the exact erf form
    "softplus": f"F.softplus({{}}, beta=1.0, threshold={activations.SOFTPLUS_THRESHOLD!r})",
    "softmax": "torch.softmax({}, dim=1)",
    "silu": "F.silu({})",
    "mish": "F.mish({})",
    "sin": "torch.sin({})",
}
assert tuple(ACTIVATION_CODE) == activations.NAMES

LOSS_CODE = {
    "sse_half": (
        '"""sse_half: ½·Σ_k (output_k − target_k)² per sample, averaged over the samples."""',
        "0.5 * ((output - target) ** 2).sum() / output.shape[0]",
    ),
    "mse": ('"""mse: the mean of (output − target)² over every entry."""', "F.mse_loss(output, target)"),
    "bce": (
        '"""bce: binary cross-entropy of outputs in (0, 1), mean over every entry (logs clamped at −100)."""',
        "F.binary_cross_entropy(output, target)",
    ),
    "cross_entropy": (
        '"""cross_entropy: softmax cross-entropy, the output layer\'s values taken as logits;\n'
        '    targets are class labels or probability rows."""',
        "F.cross_entropy(output, target)",
    ),
}


def describe(spec: NetworkSpec, layer_id: str) -> str:
    layer = spec.layer(layer_id)
    if layer.type == "input":
        return f"input, {layer.units} units"
    what = {
        "dense": f"dense {layer.units}{'' if layer.use_bias else ' (no bias)'}",
        "add": f"add of {', '.join(layer.inputs)}",
        "concat": f"concat of {', '.join(layer.inputs)}",
        "features": f"features {', '.join(layer.terms)} of {''.join(layer.inputs)}",
        "dropout": f"dropout p={layer.p!r} of {''.join(layer.inputs)}",
        "batchnorm": f"batchnorm of {''.join(layer.inputs)}",
        "layernorm": f"layernorm of {''.join(layer.inputs)}",
    }[layer.type]
    if layer.type == "dense":
        what += f" from {layer.inputs[0]}"
    return what + ("" if layer.activation == "identity" else f", {layer.activation}")


def text(words: str) -> str:
    """User text (a name, a layer id) made safe inside the script's docstrings and comments."""
    words = " ".join(words.replace("\\", "/").replace('"""', "'''").split())
    # what is left that Python source cannot hold (a NUL byte) or UTF-8 cannot write (a lone surrogate)
    return "".join("\ufffd" if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in words)


def header(spec: NetworkSpec, steps: int, script: str, side_file: str | None) -> str:
    width = max(len(text(i)) for i in spec.order)
    table = "\n".join(f"    {text(i):<{width}}  {text(describe(spec, i))}" for i in spec.order)
    inactive = [text(i) for i in spec.order if i not in spec.active_order()]
    notes = [f"Not on the path to the output (kept for their weights, never run): {', '.join(inactive)}."] * bool(
        inactive
    )
    notes += [f"Some arrays are in {side_file}, which must stay beside this script."] * bool(side_file)
    imports = "import argparse\nimport zlib\n" + ("from pathlib import Path\n" if side_file else "")
    side = (
        ""
        if side_file is None
        else f'''

def side_arrays():
    """The arrays stored in {side_file}, beside this script."""
    with np.load(Path(__file__).resolve().with_name({side_file!r})) as stored:
        return dict(stored.items())
'''
    )
    return f'''#!/usr/bin/env python3
"""{text(spec.name or "A network")}

A bpstudio network as a PyTorch module, exported by bpstudio {__version__}.

Layers, in the order they are computed (output: {text(spec.output)}; loss: {spec.loss}):
{table}
{"".join(f"{n}{chr(10)}" for n in notes)}
Everything is float64, as bpstudio computes.

Usage:
    python {script} [--steps N] [--save-state trained.pt]
        train (default {steps} steps) on the data below, printing the loss; optionally save the weights
    python {script} --check [OUT.npz] [--inputs IN.npz]
        one forward and backward pass with the exported weights on all the data (or on the arrays X and T
        of IN.npz); writes "output", "loss" and "grad/<parameter>" (bpstudio's names, e.g. "grad/h.weight")
"""

{imports}
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
{side}'''


def module_code(spec: NetworkSpec, names: Mapping[str, str]) -> str:
    active = spec.active_order()
    lines = [
        "",
        "class Network(nn.Module):",
        '    """One nn.Linear per dense layer; add and concat layers are + and torch.cat; a features layer stacks its'
        " terms;\n"
        "    a dropout layer is nn.Dropout, or, given bpstudio's masks for a step (masks_for), x·mask/(1−p);\n"
        "    batchnorm and layernorm layers are nn.BatchNorm1d and nn.LayerNorm (batch statistics in train(), the\n"
        '    running ones in eval(), as bpstudio)."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    for layer_id in spec.order:
        layer = spec.layer(layer_id)
        if layer.type == "dense":
            bias = "" if layer.use_bias else ", bias=False"
            note = "" if layer_id in active else "  # not on the path to the output: never run"
            if names[layer_id] != layer_id:
                note += f"  # layer '{text(layer_id)}'"
            lines.append(
                f"        self.{names[layer_id]} = nn.Linear({spec.fan_in(layer_id)}, {layer.units}{bias}){note}"
            )
        elif layer.type == "dropout" and layer_id in active:
            lines.append(f"        self.{names[layer_id]} = nn.Dropout({layer.p!r})")
        elif layer.type == "batchnorm":
            lines.append(
                f"        self.{names[layer_id]} = nn.BatchNorm1d({spec.widths[layer_id]}, eps={layer.eps!r}, "
                f"momentum={layer.momentum!r}, affine={layer.affine!r})"
            )
        elif layer.type == "layernorm":
            lines.append(
                f"        self.{names[layer_id]} = nn.LayerNorm({spec.widths[layer_id]}, eps={layer.eps!r}, "
                f"elementwise_affine={layer.affine!r})"
            )
    masks = any(spec.layer(i).type == "dropout" for i in active)
    lines += ["", f"    def forward(self, {names[spec.input_id]}{', masks=None' if masks else ''}):"]
    for layer_id in active:
        layer = spec.layer(layer_id)
        if layer.type == "input":
            continue
        sources = [names[i] for i in layer.inputs]
        if layer.type in ("dense", "batchnorm", "layernorm"):
            pre = f"self.{names[layer_id]}({sources[0]})"
        elif layer.type == "features":
            columns = ", ".join(term_code(t, sources[0]) for t in features.parse_terms(layer.terms))
            pre = f"torch.stack([{columns}], dim=1)  # {', '.join(layer.terms)}"
        elif layer.type == "dropout":
            scaled = f"{sources[0]} * (masks[{layer_id!r}] * (1 / (1 - {layer.p!r})))"
            pre = f"self.{names[layer_id]}({sources[0]}) if masks is None else {scaled}"
        elif len(sources) == 1:
            pre = sources[0]
        elif layer.type == "add":
            pre = " + ".join(sources)
        else:
            pre = f"torch.cat([{', '.join(sources)}], dim=1)"
        lines.append(f"        {names[layer_id]} = {ACTIVATION_CODE[layer.activation].format(pre)}")
    lines.append(f"        return {names[spec.output]}\n")
    return "\n".join(lines)


def term_code(term: features.Term, source: str) -> str:
    """One feature term as a torch expression on the columns of ``source``."""
    xi = f"{source}[:, {term.i}]"
    if term.kind == "pow":
        return f"{xi} ** {term.power}"
    if term.kind == "mul":
        return f"{xi} * {source}[:, {term.j}]"
    if term.kind in ("sin", "cos"):
        return f"torch.{term.kind}({xi})"
    return xi


def dropout_code(spec: NetworkSpec, seed: int) -> str:
    """bpstudio's dropout masks, drawn as the app draws them, so the script trains on the same numbers."""
    layers = {i: (spec.layer(i).p, spec.widths[i]) for i in spec.active_order() if spec.layer(i).type == "dropout"}
    return f'''
# --- dropout, as bpstudio drops units ---------------------------------------------------------------
DROPOUT = {literal(layers)}  # dropout layer -> (p, width)
DROPOUT_SEED = {seed}  # bpstudio draws the mask of step k from (this seed, CRC-32 of the layer's id, k)


def masks_for(step, n):
    """bpstudio's masks for training step ``step`` (from 1) on n samples, as keyword arguments of the forward
    pass (none without dropout layers). model(x) alone uses nn.Dropout: its own masks in train(), none in eval()."""
    if not DROPOUT:
        return {{}}
    masks = {{}}
    for layer, (p, width) in DROPOUT.items():
        u = np.random.default_rng([DROPOUT_SEED, zlib.crc32(layer.encode("utf-8")), step]).random((n, width))
        masks[layer] = torch.as_tensor((u >= p).astype(np.float64))
    return {{"masks": masks}}
'''


def loss_code(loss: str) -> str:
    doc, expression = LOSS_CODE[loss]
    return f"\ndef loss_fn(output, target):\n    {doc}\n    return {expression}\n"


def targets_literal(targets: np.ndarray) -> str:
    if targets.ndim == 2 and targets.shape[1] == 1:  # one column: written as a flat list, read back as a column
        return f"np.reshape({literal(targets[:, 0])}, (-1, 1))"
    return literal(targets)


def weights_code(weights: Mapping[str, np.ndarray]) -> str:
    body = "".join(f"    {k!r}: {literal(v, 4)},\n" for k, v in weights.items())
    return (
        "# the weights (and running statistics) at export, as state_dict entries (repr() of a float64 reads back "
        "exactly)\n"
        f"WEIGHTS = {{\n{body}}}\n"
    )


def side_weights_code(side_file: str, count: int) -> str:
    return (
        f"# the weights at export ({count} numbers: stored in {side_file} beside this script)\n"
        'WEIGHTS = {key[len("weights/"):]: value for key, value in side_arrays().items() '
        'if key.startswith("weights/")}\n'
    )


MAIN = '''
def batches(n):
    """Each step's sample indices, as bpstudio picks them: pass k over the n samples visits them in the
    order np.random.default_rng([SHUFFLE_SEED, k]).permutation(n), BATCH_SIZE at a time."""
    epoch = 0
    while True:
        if BATCH_SIZE is None or BATCH_SIZE >= n:
            yield slice(None)
            continue
        order = np.random.default_rng([SHUFFLE_SEED, epoch]).permutation(n)
        for start in range(0, n, BATCH_SIZE):
            yield torch.as_tensor(order[start:start + BATCH_SIZE])
        epoch += 1


def training_data(inputs=None):
    """X and T as tensors: the data above, or the arrays "X" and "T" of the .npz file ``inputs``."""
    x, t = X, T
    if inputs is not None:
        with np.load(inputs) as given:
            x, t = given["X"], given["T"]
    if x is None:
        raise SystemExit("no data: pass --inputs IN.npz with arrays X (samples × inputs) and T (targets)")
    t = np.asarray(t)
    t = t.astype(np.int64) if t.ndim == 1 else t.astype(np.float64)  # 1-D: class labels, as in bpstudio
    return torch.as_tensor(np.asarray(x, dtype=np.float64)), torch.as_tensor(t)


def check(model, x, t, path):
    """One forward and backward pass; writes the output, the loss and every parameter's gradient."""
    model.zero_grad()
    output = model(x, **masks_for(1, len(x)))
    loss = loss_fn(output, t)
    loss.backward()
    arrays = {"output": output.detach().numpy(), "loss": np.float64(loss.item())}
    for name, key in PARAMETERS.items():
        p = model.get_parameter(key)
        arrays[f"grad/{name}"] = np.zeros(tuple(p.shape)) if p.grad is None else p.grad.numpy()
    np.savez(path, **arrays)
    print(f"loss {loss.item():.12g}; output and gradients written to {path}")


def train(model, x, t, steps):
    """``steps`` optimizer steps; prints the loss (of each step's batch, before its update) now and then."""
    optimizer = make_optimizer(model)
    scheduler = None if optimizer is None else make_scheduler(optimizer)
    picks = batches(len(x))
    every = max(1, steps // 10)
    for step in range(1, steps + 1):
        batch = next(picks)
        model.zero_grad()
        loss = loss_fn(model(x[batch], **masks_for(step, len(x[batch]))), t[batch])
        loss.backward()
        if optimizer is not None:
            adjust_gradients(model)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        if step % every == 0 or step == steps:
            print(f"step {step}: loss {loss.item():.9g}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS, help=f"optimizer steps (default {STEPS})")
    parser.add_argument("--inputs", metavar="IN.npz",
                        help="use this file's arrays as the data: X (samples × inputs) and T (class labels for "
                             "cross_entropy, else samples × outputs)")
    parser.add_argument("--check", metavar="OUT.npz", nargs="?", const="check.npz",
                        help="one forward and backward pass instead of training; results to OUT.npz")
    parser.add_argument("--save-state", metavar="W.pt", help="save the trained weights (a state_dict)")
    args = parser.parse_args(argv)
    model = Network()
    model.load_state_dict({key: torch.as_tensor(np.asarray(w, dtype=np.float64)) for key, w in WEIGHTS.items()})
    x, t = training_data(args.inputs)
    if args.check:
        check(model, x, t, args.check)
        return
    train(model, x, t, args.steps)
    if args.save_state:
        torch.save(model.state_dict(), args.save_state)


if __name__ == "__main__":
    main()
'''


def main_code() -> str:
    return MAIN
