"""A guided walk through Matt Mazur's 2-2-2 backpropagation example, one quantity at a time.

Mazur's text introduces the quantities in this order: net_h1 and out_h1 (and h2 the same way),
net_o1 and out_o1 (and o2), the total error; then ∂E/∂w5 as ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5
and the new w5; then ∂E/∂w1, summed over the two paths from h1 to the error (through o1 and through o2),
and the new w1.
Each :class:`WalkStep` names the session phase to run before it is shown, what to point at on the canvas,
and builds its explanation from the engine's record of the step: every formula is written out with the
actual operands, and every result is read from (or computed from) the trace, never typed in.

Mazur's names map onto the network's parameters: w1..w4 are the hidden layer's weight rows [[w1, w2],
[w3, w4]], w5..w8 the output layer's [[w5, w6], [w7, w8]], b1 and b2 the two layers' (shared) biases.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve_split
from bpstudio.core.errors import SessionError, SpecError
from bpstudio.core.optim import Optimizer
from bpstudio.core.session import PhaseKind, Session
from bpstudio.core.spec import NetworkSpec
from bpstudio.core.tools.explain import Explanation, PathTerm, explain, format_value
from bpstudio.core.trace import StepTrace

Params = Mapping[str, np.ndarray]
Highlight = tuple[Any, ...]  # ("neuron", layer, unit) | ("edge", "o.weight", (row, col)) | ("layer", id) | ("loss",)
TextFor = Callable[[StepTrace | None, Params, Params | None], str]

f = format_value
MAZUR_PRINTED_AFTER = "0.291027924"  # the error after the first update, as Mazur's post prints it


@dataclass(frozen=True)
class WalkStep:
    """One stop of the walk: ``action`` is the session phase to run before it is shown (None: none),
    ``highlight`` what to point at, ``text_for(trace, params_before, params_after)`` its explanation."""

    title: str
    action: PhaseKind | None
    highlight: Highlight
    text_for: TextFor

    def text(self, trace: StepTrace | None, params_before: Params, params_after: Params | None = None) -> str:
        """The explanation with this step's numbers: ``trace`` is the step so far (NumPy), ``params_before``
        the weights it started from, ``params_after`` the weights after its update (None before)."""
        return self.text_for(trace, params_before, params_after)


def mazur_walkthrough(spec: NetworkSpec | None = None, data: Dataset | None = None) -> list[WalkStep]:
    """The walk for ``spec`` (default: the "mazur" preset) trained on ``data`` (default: its own data).
    The network must have Mazur's shape: 2 inputs, 2 sigmoid hidden units, 2 sigmoid outputs, ½SSE."""
    if spec is None:
        from bpstudio.core.io import presets

        spec = presets.load("mazur")
    m = _Mazur(spec, data)
    h, o = m.h, m.o
    return [
        WalkStep("Mazur's network", None, ("layer", m.i), m.intro),
        WalkStep("Net input of h1", "forward", ("neuron", h, 0), m.net_h1),
        WalkStep("Output of h1", None, ("neuron", h, 0), m.out_h1),
        WalkStep("The second hidden neuron, h2", None, ("neuron", h, 1), m.h2),
        WalkStep("Net input of o1", "forward", ("neuron", o, 0), m.net_o1),
        WalkStep("Output of o1", None, ("neuron", o, 0), m.out_o1),
        WalkStep("The second output, o2", None, ("neuron", o, 1), m.o2),
        WalkStep("The total error", "loss", ("loss",), m.total_error),
        WalkStep("Backward: ∂E/∂out_o1", "backward", ("neuron", o, 0), m.de_dout_o1),
        WalkStep("Through the sigmoid: ∂out_o1/∂net_o1", None, ("neuron", o, 0), m.dout_dnet_o1),
        WalkStep("The chain rule for w5", None, ("edge", f"{o}.weight", (0, 0)), m.de_dw5),
        WalkStep("The new w5", None, ("edge", f"{o}.weight", (0, 0)), m.new_w5),
        WalkStep("∂E/∂out_h1: two paths", "backward", ("neuron", h, 0), m.de_dout_h1),
        WalkStep("The chain rule for w1", None, ("edge", f"{h}.weight", (0, 0)), m.de_dw1),
        WalkStep("The update: the new w1", "update", ("edge", f"{h}.weight", (0, 0)), m.new_w1),
        WalkStep("After the first update", None, ("loss",), m.closing),
    ]


def run_through(session: Session, steps: Sequence[WalkStep]) -> list[str]:
    """Run ``steps`` on ``session`` as the walk does (each action, then its text) from the start of a
    step; returns the texts. Raises SessionError if the session is mid-step or an action does not fit."""
    if session.mid_step:
        raise SessionError("the walkthrough starts at the beginning of a step: finish or reset the current one")
    run = {
        "forward": session.forward_layer,
        "loss": session.compute_loss,
        "backward": session.backward_layer,
        "update": session.apply_update,
    }
    before = session.params_numpy()
    texts = []
    for step in steps:
        if step.action is not None:
            run[step.action]()
        trace = None if session.trace is None else session.trace.to_numpy()
        after = None if trace is None or trace.params_after is None else dict(trace.params_after)
        texts.append(step.text(trace, before, after))
    return texts


def _factor(value: float) -> str:
    """A number as a factor in a product: negatives in parentheses."""
    return f"({f(value)})" if value < 0 else f(value)


def _plus(value: float) -> str:
    """``+ x`` or ``− x``: the next term of a sum."""
    return f"− {f(-value)}" if value < 0 else f"+ {f(value)}"


def _by_output(expl: Explanation, output: str) -> list[PathTerm]:
    """The explanation's paths ordered by the output unit they reach (explain lists the largest first)."""
    ends = {path.via[-1]: path for path in expl.paths}
    return [ends[f"{output}[{n}]"] for n in range(len(ends))]


def _sigmoid_text(net_name: str, out_name: str, net: float, out: float) -> str:
    return f"{out_name} = 1 / (1 + e^(−{net_name})) = 1 / (1 + e^(−{f(net)})) = {f(out)}"


class _Mazur:
    """The network's layer ids and data, and one text builder per step."""

    def __init__(self, spec: NetworkSpec, data: Dataset | None):
        if len(spec.order) != 3 or spec.loss != "sse_half":
            raise SpecError(
                "the Mazur walkthrough needs Mazur's 2-2-2 network (input, one hidden layer, "
                f"output) with the ½SSE loss; this one has {len(spec.order)} layers, loss {spec.loss}"
            )
        self.i, self.h, self.o = spec.order
        for lid in (self.h, self.o):
            layer = spec.layer(lid)
            if layer.type != "dense" or layer.activation != "sigmoid" or not layer.use_bias:
                raise SpecError("the Mazur walkthrough needs dense sigmoid layers with a bias", lid, "activation")
        if spec.layer(self.o).inputs != (self.h,) or spec.widths != {self.i: 2, self.h: 2, self.o: 2}:
            raise SpecError("the Mazur walkthrough needs 2 inputs → 2 hidden units → 2 outputs in a chain")
        if data is None:
            if spec.data is None:
                raise SpecError("the network names no data: give the walkthrough Mazur's sample")
            data = resolve_split(spec.data)[0]
        if np.shape(data.X)[0] != 1 or np.ndim(data.Y) != 2:
            raise SpecError(
                "the Mazur walkthrough follows one training sample with a target per output; "
                f"the data has {np.shape(data.X)[0]} samples"
            )
        self.spec, self.data = spec, data
        self.lr = spec.optimizer.lr

    # --- reading the record ------------------------------------------------------------------------

    @staticmethod
    def _need(trace: StepTrace | None, what: str, ready: bool) -> StepTrace:
        if trace is None or not ready:
            raise SessionError(f"run the walkthrough's earlier steps first: this one needs {what}")
        return trace

    def _forward(self, trace: StepTrace | None, lid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample 0's inputs, net inputs and outputs of layer ``lid``."""
        t = self._need(trace, f"the forward pass through '{lid}'", trace is not None and lid in trace.layers)
        rec = t.layers[lid]
        return (
            np.asarray(rec.inputs[0], dtype=np.float64)[0],
            np.asarray(rec.pre, dtype=np.float64)[0],
            np.asarray(rec.out, dtype=np.float64)[0],
        )

    def _net_text(self, trace: StepTrace | None, params: Params, lid: str, unit: int) -> str:
        x, pre, _ = self._forward(trace, lid)
        w, b = params[f"{lid}.weight"][unit], params[f"{lid}.bias"][unit]
        first = 1 if lid == self.h else 5
        src = ("i1", "i2") if lid == self.h else ("out_h1", "out_h2")
        name = f"net_{'h' if lid == self.h else 'o'}{unit + 1}"
        ws = [f"w{first + 2 * unit + k}" for k in range(2)]
        bias = "b1" if lid == self.h else "b2"
        return (
            f"{name} = {ws[0]}·{src[0]} + {ws[1]}·{src[1]} + {bias}\n"
            f"= {_factor(w[0])}·{_factor(x[0])} + {_factor(w[1])}·{_factor(x[1])} {_plus(b)} = {f(pre[unit])}"
        )

    def _explained(self, trace: StepTrace | None, lid: str, index: tuple[int, int]) -> tuple[StepTrace, Explanation]:
        t = self._need(
            trace,
            f"the backward pass through '{lid}'",
            trace is not None and lid in trace.layers and "weight" in trace.layers[lid].grads,
        )
        return t, explain(self.spec, t, f"{lid}.weight", index)

    def _preview(self, params: Params, key: str, grad: np.ndarray) -> np.ndarray:
        """What the optimizer's first update makes of ``params[key]`` (the update has not run yet)."""
        optimizer = Optimizer(self.spec.optimizer, np.sqrt)
        return np.asarray(optimizer.update({key: params[key]}, {key: grad})[key], dtype=np.float64)

    def _update_rule(self, name: str, old: float, grad: float, new: float) -> str:
        opt = self.spec.optimizer
        if opt.name == "sgd" and not opt.weight_decay:
            return f"{name}⁺ = {name} − η·∂E/∂{name} = {f(old)} − {f(self.lr)}·{_factor(grad)} = {f(new)}"
        return f"{name}⁺ = {f(new)}  ({opt.name}'s update from {name} = {f(old)} and ∂E/∂{name} = {f(grad)})"

    # --- the steps ----------------------------------------------------------------------------------

    def intro(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        x, y = np.asarray(self.data.X, dtype=np.float64)[0], np.asarray(self.data.Y, dtype=np.float64)[0]
        wh, wo = before[f"{self.h}.weight"], before[f"{self.o}.weight"]
        ws = ", ".join(f"w{k + 1} = {f(v)}" for k, v in enumerate(list(wh.ravel()) + list(wo.ravel())))
        return (
            "Two inputs, two hidden neurons h1, h2 and two outputs o1, o2, all with the sigmoid. "
            "We train on one sample and follow every number of one step.\n"
            f"inputs i1 = {f(x[0])}, i2 = {f(x[1])};  targets {f(y[0])} and {f(y[1])}\n"
            f"{ws}\n"
            f"biases b1 = {f(before[f'{self.h}.bias'][0])}, b2 = {f(before[f'{self.o}.bias'][0])};  "
            f"learning rate η = {f(self.lr)}"
        )

    def net_h1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        return (
            "The forward pass starts at the hidden neuron h1: it adds up its weighted inputs and its bias.\n"
            + self._net_text(trace, before, self.h, 0)
        )

    def out_h1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        _, pre, out = self._forward(trace, self.h)
        return "h1 squashes its net input with the logistic function (the sigmoid).\n" + _sigmoid_text(
            "net_h1", "out_h1", pre[0], out[0]
        )

    def h2(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        _, pre, out = self._forward(trace, self.h)
        return (
            "h2 does the same with its own weights w3 and w4.\n"
            + self._net_text(trace, before, self.h, 1)
            + "\n"
            + _sigmoid_text("net_h2", "out_h2", pre[1], out[1])
        )

    def net_o1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        return "The hidden outputs are the output layer's inputs. For o1:\n" + self._net_text(trace, before, self.o, 0)

    def out_o1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        _, pre, out = self._forward(trace, self.o)
        return "o1's output is the sigmoid of its net input.\n" + _sigmoid_text("net_o1", "out_o1", pre[0], out[0])

    def o2(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        _, pre, out = self._forward(trace, self.o)
        return (
            "o2 the same, with w7 and w8.\n"
            + self._net_text(trace, before, self.o, 1)
            + "\n"
            + _sigmoid_text("net_o2", "out_o2", pre[1], out[1])
        )

    def total_error(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t = self._need(trace, "the loss", trace is not None and trace.loss is not None)
        _, _, out = self._forward(t, self.o)
        target = np.asarray(t.targets, dtype=np.float64)[0]
        parts = [0.5 * (target[k] - out[k]) ** 2 for k in range(2)]
        lines = [
            f"E_o{k + 1} = ½·(target_o{k + 1} − out_o{k + 1})² = ½·({f(target[k])} − {f(out[k])})² = {f(parts[k])}"
            for k in range(2)
        ]
        assert t.loss is not None
        return (
            "The squared error of each output, halved, summed over the outputs:\n"
            + "\n".join(lines)
            + f"\nE_total = E_o1 + E_o2 = {f(parts[0])} + {f(parts[1])} = {f(float(t.loss))}"
        )

    def de_dout_o1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t, expl = self._explained(trace, self.o, (0, 0))
        _, _, out = self._forward(t, self.o)
        target = float(np.asarray(t.targets, dtype=np.float64)[0, 0])
        return (
            "Backward: how much does the total error change when out_o1 changes? Only E_o1 depends on it.\n"
            f"∂E_total/∂out_o1 = −(target_o1 − out_o1) = −({f(target)} − {f(out[0])}) = "
            f"{f(expl.summary[0].value)}"
        )

    def dout_dnet_o1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t, expl = self._explained(trace, self.o, (0, 0))
        _, _, out = self._forward(t, self.o)
        return (
            "How much does out_o1 change with its net input? The sigmoid's slope is out·(1 − out).\n"
            f"∂out_o1/∂net_o1 = out_o1·(1 − out_o1) = {f(out[0])}·(1 − {f(out[0])}) = "
            f"{f(expl.summary[1].value)}"
        )

    def de_dw5(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t, expl = self._explained(trace, self.o, (0, 0))
        a, b, c = (x.value for x in expl.summary)
        recorded = float(np.asarray(t.layers[self.o].grads["weight"], dtype=np.float64)[0, 0])
        return (
            "net_o1 = w5·out_h1 + …, so ∂net_o1/∂w5 = out_h1. The chain rule multiplies the three:\n"
            "∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5\n"
            f"= {_factor(a)} · {_factor(b)} · {_factor(c)} = {f(expl.sample_value)}\n"
            f"(the backward pass recorded {f(recorded)})"
        )

    def new_w5(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t, _ = self._explained(trace, self.o, (0, 0))
        key = f"{self.o}.weight"
        grad = np.asarray(t.layers[self.o].grads["weight"], dtype=np.float64)
        old, new = np.asarray(before[key], dtype=np.float64), self._preview(before, key, grad)
        others = ", ".join(f"w{5 + n}⁺ = {f(new.ravel()[n])}" for n in range(1, 4))
        return (
            "Gradient descent moves w5 against its gradient, by the learning rate η:\n"
            + self._update_rule("w5", old[0, 0], grad[0, 0], new[0, 0])
            + "\n"
            f"Likewise {others}.\n"
            "These new weights are applied only after the whole backward pass: the hidden layer's "
            "gradients still use the original w5 … w8."
        )

    def de_dout_h1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t, expl = self._explained(trace, self.h, (0, 0))
        delta = np.asarray(t.layers[self.o].grad_pre, dtype=np.float64)[0]
        w = np.asarray(before[f"{self.o}.weight"], dtype=np.float64)
        ups = [path.upstream for path in _by_output(expl, self.o)]
        lines = [
            f"∂E_o{n + 1}/∂out_h1 = ∂E_o{n + 1}/∂net_o{n + 1} · w{5 + 2 * n} = {_factor(delta[n])} · "
            f"{_factor(w[n, 0])} = {f(ups[n])}"
            for n in range(2)
        ]
        _, _, out = self._forward(t, self.h)
        return (
            f"out_h1 = {f(out[0])} feeds both outputs, so the error reaches it along two paths, through o1 "
            "and through o2; their effects add up. (∂E_o/∂net_o = ∂E/∂out_o · ∂out_o/∂net_o, as for w5.)\n"
            "∂E_total/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1\n" + "\n".join(lines) + "\n"
            f"∂E_total/∂out_h1 = {f(ups[0])} {_plus(ups[1])} = {f(expl.summary[0].value)}"
        )

    def de_dw1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t, expl = self._explained(trace, self.h, (0, 0))
        _, _, out = self._forward(t, self.h)
        a, b, c = (x.value for x in expl.summary)
        paths = _by_output(expl, self.o)
        return (
            "Then through h1's sigmoid and on to w1 (∂net_h1/∂w1 = i1):\n"
            f"∂out_h1/∂net_h1 = out_h1·(1 − out_h1) = {f(out[0])}·(1 − {f(out[0])}) = {f(b)}\n"
            "∂E_total/∂w1 = ∂E_total/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1\n"
            f"= {_factor(a)} · {_factor(b)} · {_factor(c)} = {f(expl.sample_value)}\n"
            f"(the path through o1 gives {f(paths[0].value)}, the one through o2 {f(paths[1].value)})"
        )

    def new_w1(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t = self._need(trace, "the update", trace is not None and after is not None)
        assert after is not None
        key = f"{self.h}.weight"
        grad = np.asarray(t.layers[self.h].grads["weight"], dtype=np.float64)
        old, new = np.asarray(before[key], dtype=np.float64), np.asarray(after[key], dtype=np.float64)
        hidden = ", ".join(f"w{1 + n}⁺ = {f(new.ravel()[n])}" for n in range(1, 4))
        out = ", ".join(
            f"w{5 + n}⁺ = {f(v)}" for n, v in enumerate(np.asarray(after[f"{self.o}.weight"], dtype=np.float64).ravel())
        )
        frozen = self.spec.frozen_params() >= {f"{self.h}.bias", f"{self.o}.bias"}
        return (
            "Now the update runs and every weight moves at once:\n"
            + self._update_rule("w1", old[0, 0], grad[0, 0], new[0, 0])
            + f"\n{hidden}\n{out}"
            + ("\n(the biases are frozen and stay as they are, as in Mazur's text)" if frozen else "")
        )

    def closing(self, trace: StepTrace | None, before: Params, after: Params | None) -> str:
        t = self._need(trace, "the update", trace is not None and after is not None and trace.loss is not None)
        assert after is not None and t.loss is not None
        session = Session(self.spec, self.data)
        new_params = {k: np.asarray(v, dtype=np.float64) for k, v in after.items()}
        loss = session.evaluate(self.data, new_params)
        outputs = session.predict(np.asarray(self.data.X, dtype=np.float64)[:1], new_params)[0]
        change = f", {(loss - float(t.loss)) / float(t.loss):+.2%}" if t.loss else ""
        return (
            "One step is done. With the new weights the forward pass gives\n"
            f"out_o1 = {f(outputs[0])}, out_o2 = {f(outputs[1])}\n"
            f"E_total = {f(loss)}  (it was {f(float(t.loss))}{change})\n"
            "(the canvas still shows the step just done; the next forward pass shows these)\n"
            "Mazur repeats this step 10,000 times: press Play to watch the error keep falling."
            + self._printed_figure(t, before, new_params, loss)
        )

    def _printed_figure(self, t: StepTrace, before: Params, after: dict[str, np.ndarray], loss: float) -> str:
        """Why Mazur's post prints another error after the update (0.291027924, not 0.291027774), worked out with
        the engine's numbers: rounding the new weights does not change it, but sending the output deltas back
        through the already updated w5⁺…w8⁺ (not the w5…w8 of the forward pass) gives his figure. Said only where
        that reproduces it: on his example, with his learning rate."""
        h, o = t.layers[self.h], t.layers[self.o]
        delta_o = np.asarray(o.grad_pre, dtype=np.float64)  # ∂E/∂net_o of this step
        out_h, x = np.asarray(h.out, dtype=np.float64), np.asarray(h.inputs[0], dtype=np.float64)
        delta_h = (delta_o @ after[f"{self.o}.weight"]) * out_h * (1.0 - out_h)  # through the *new* w5⁺…w8⁺
        other = dict(after)
        other[f"{self.h}.weight"] = np.asarray(before[f"{self.h}.weight"]) - self.lr * (delta_h.T @ x)
        if f"{self.h}.bias" not in self.spec.frozen_params():
            other[f"{self.h}.bias"] = np.asarray(before[f"{self.h}.bias"]) - self.lr * delta_h.sum(axis=0)
        session = Session(self.spec, self.data)
        other_loss = session.evaluate(self.data, other)
        if f(other_loss) != MAZUR_PRINTED_AFTER or f(loss) == MAZUR_PRINTED_AFTER:
            return ""
        rounded = session.evaluate(self.data, {k: np.round(v, 9) for k, v in after.items()})
        return (
            f"\n\nMazur's post prints E_total = {MAZUR_PRINTED_AFTER} here, {other_loss - loss:.8f} more. Rounding "
            f"does not explain it (the new weights rounded to 9 decimals give {f(rounded)}): his figure is what you "
            "get when w1…w4's gradients go through the new w5⁺…w8⁺ instead of the old w5…w8. The engine uses the "
            f"old ones, as his text does, in float64: {f(loss)} is exact to the digits shown."
        )
