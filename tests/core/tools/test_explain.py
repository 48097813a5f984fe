"""The chain rule written out per path: Mazur's printed numbers, and exact totals on random networks.

References: the figures Mazur publishes for w5 and w1; the gradients recorded by the backward pass of
both backends (torch autograd is independent of the explanation's activation code); and a brute-force
enumeration of every path for the "largest paths" listing.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from bpstudio.core import datasets
from bpstudio.core.data import Dataset
from bpstudio.core.errors import SessionError, SpecError
from bpstudio.core.io import presets, spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.explain import explain, format_value, to_text
from tests.core.random_nets import nets
from tests.helpers import needs_torch, network, wide_net_file


def mazur_trace():
    spec = presets.load("mazur")
    return spec, Session(spec, datasets.resolve_split(spec.data)[0]).forward_backward().to_numpy()


def values(factors):
    return [f.value for f in factors]


def test_w5_is_one_path_with_mazurs_three_factors():
    spec, trace = mazur_trace()
    e = explain(spec, trace, "o.weight", (0, 0))
    assert e.n_paths == 1 and len(e.paths) == 1 and e.other_paths == 0
    (path,) = e.paths
    assert [f.symbol for f in path.factors] == ["∂E/∂out_o[0]", "∂out_o[0]/∂net_o[0]", "∂net_o[0]/∂w_o[0,0]"]
    assert values(path.factors) == pytest.approx([0.74136507, 0.186815602, 0.593269992], abs=1e-9)
    assert "sigmoid'" in path.factors[1].meaning and "h[0]" in path.factors[2].meaning
    assert path.value == pytest.approx(0.082167041, abs=1e-9)
    assert e.sample_value == e.batch_value == pytest.approx(0.082167041, abs=1e-9)
    assert e.recorded == pytest.approx(0.082167041, abs=1e-9) and e.matches
    assert e.symbol == "w_o[0,0]" and path.via == ("o[0]",)


def test_w1_sums_the_paths_through_o1_and_o2_as_mazur_does():
    spec, trace = mazur_trace()
    e = explain(spec, trace, "h.weight", (0, 0))
    assert e.n_paths == 2 and [p.via for p in e.paths] == [("h[0]", "o[0]"), ("h[0]", "o[1]")]
    via_o1, via_o2 = e.paths
    # ∂E_o1/∂out_h1 and ∂E_o2/∂out_h1, as printed by Mazur (who rounds intermediate results)
    assert via_o1.upstream == pytest.approx(0.055399425, abs=1e-9)
    assert via_o2.upstream == pytest.approx(-0.019049119, abs=2e-9)
    assert values(via_o1.factors) == pytest.approx([0.74136507, 0.186815602, 0.40, 0.241300709, 0.05], abs=1e-9)
    assert values(via_o2.factors)[2:] == pytest.approx([0.50, 0.241300709, 0.05], abs=1e-9)
    assert via_o1.value + via_o2.value == pytest.approx(0.000438568, abs=1e-9)
    assert e.sample_value == pytest.approx(0.000438568, abs=1e-9) and e.recorded == pytest.approx(0.000438568, abs=1e-9)
    # Mazur's collapsed form: ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1
    assert values(e.summary) == pytest.approx([0.036350306, 0.241300709, 0.05], abs=1e-9)
    for path in e.paths:
        assert math.prod(values(path.factors)) == pytest.approx(path.value, rel=1e-15)


def test_with_one_path_listed_the_other_is_the_rest_of_the_sum():
    spec, trace = mazur_trace()
    e = explain(spec, trace, "h.weight", (0, 0), max_paths=1)
    assert [p.via for p in e.paths] == [("h[0]", "o[0]")] and e.n_paths == 2  # |0.000668| > |-0.000230|
    assert e.other_paths == pytest.approx(-0.000229828, abs=1e-9)
    assert "other 1 path together = -0.000229828" in to_text(e)


def test_a_bias_ends_its_paths_with_one_and_says_it_is_frozen():
    spec, trace = mazur_trace()
    e = explain(spec, trace, "o.bias", (1,))
    assert e.paths[0].factors[-1].value == 1.0 and e.symbol == "b_o[1]"
    assert e.sample_value == pytest.approx(trace.layers["o"].grads["bias"][1], abs=1e-15)
    assert "frozen" in e.note and e.frozen
    assert not explain(spec, trace, "o.weight", (1, 0)).frozen  # (Mazur's file freezes the biases only)


def test_text_shows_the_equation_the_numbers_and_the_check():
    spec, trace = mazur_trace()
    text = to_text(explain(spec, trace, "h.weight", (0, 0)))
    assert "= 0.036350306 × 0.241300709 × 0.05 = 0.000438568" in text
    assert "0.74136507 × 0.186815602 × 0.4 × 0.241300709 × 0.05" in text
    assert "along this path = 0.055399425" in text and "(matches)" in text


@pytest.mark.parametrize(
    "value, text",
    [
        (0.08216704056, "0.082167041"),
        (0.000438567726, "0.000438568"),
        (-0.4, "-0.4"),
        (1.5e-12, "1.5e-12"),
        (0.0, "0"),
        (2.5e7, "2.5e+07"),
    ],
)
def test_numbers_print_as_the_tutorial_prints_them(value, text):
    assert format_value(value) == text


def check_every_parameter(spec, trace, max_paths=32):
    recorded = {k: np.asarray(g, dtype=np.float64) for k, g in trace.grads.items()}
    batch = trace.x.shape[0]
    for key, shape in spec.param_shapes().items():
        for index in itertools.product(*map(range, shape)):
            parts = [explain(spec, trace, key, index, s, max_paths) for s in range(batch)]
            want = recorded[key][index] if key in recorded else 0.0
            total = sum(p.sample_value for p in parts)
            assert abs(total - want) <= 1e-10 * max(1.0, abs(want)), (key, index)
            assert all(p.batch_value == pytest.approx(total, rel=1e-12, abs=1e-15) for p in parts)
            for p in parts:
                listed = math.fsum(t.value for t in p.paths) + p.other_paths
                assert abs(listed - p.sample_value) <= 1e-12 * max(1.0, abs(p.sample_value)), (key, index)
                assert len(p.paths) == min(p.n_paths, max_paths)


@needs_torch
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets(max_layers=4))
def test_paths_add_up_to_the_recorded_gradient_on_random_networks(case):
    spec, data = case
    check_every_parameter(spec, Session(spec, data, backend="torch").forward_backward().to_numpy(), 4)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nets(max_layers=3))
def test_paths_add_up_on_the_numpy_backend_too(case):
    spec, data = case
    check_every_parameter(spec, Session(spec, data).forward_backward().to_numpy())


def dag_with_softmax_add_and_concat():
    layers = [
        {"id": "x", "type": "input", "units": 2},
        {
            "id": "h",
            "type": "dense",
            "inputs": ["x"],
            "units": 3,
            "activation": "softmax",
            "weight": [[0.3, -0.6], [0.9, 0.2], [-0.4, 0.7]],
            "bias": [0.1, -0.2, 0.05],
        },
        {
            "id": "g",
            "type": "dense",
            "inputs": ["h"],
            "units": 3,
            "activation": "tanh",
            "weight": [[0.5, -0.3, 0.8], [0.2, 0.6, -0.7], [-0.9, 0.4, 0.1]],
            "use_bias": False,
        },
        {"id": "r", "type": "add", "inputs": ["g", "h"], "activation": "elu"},
        {"id": "c", "type": "concat", "inputs": ["r", "x"]},
        {"id": "side", "type": "dense", "inputs": ["x"], "units": 2},
        {
            "id": "y",
            "type": "dense",
            "inputs": ["c"],
            "units": 2,
            "activation": "sigmoid",
            "weight": [[0.4, -0.5, 0.6, 0.3, -0.2], [-0.7, 0.1, 0.2, -0.4, 0.9]],
            "bias": [0.0, 0.1],
        },
    ]
    spec = network(layers, "y", "bce")
    data = Dataset(
        np.array([[0.5, -1.0], [1.5, 0.25], [-0.3, 0.8]]), np.array([[0.0, 1.0], [1.0, 0.0], [0.3, 0.6]]), "three"
    )
    return spec, Session(spec, data).forward_backward().to_numpy()


def test_softmax_couples_units_and_add_concat_route_paths():
    spec, trace = dag_with_softmax_add_and_concat()
    e = explain(spec, trace, "h.weight", (0, 1), sample=1)
    # from net_h[0]: softmax to any of 3 outs; each goes to r directly (1) or through g (3) to r; 2 outputs
    assert e.n_paths == 3 * (1 + 3) * 2
    assert any(v.startswith("h[0→") for p in e.paths for v in p.via[:1])
    crossing = next(p for p in e.paths if p.via[0] == "h[0→2]")
    softmax = next(f for f in crossing.factors if f.symbol == "∂out_h[2]/∂net_h[0]")
    s = trace.layers["h"].out[1]
    assert softmax.value == pytest.approx(-s[2] * s[0], rel=1e-12) and "−s_2·s_0" in softmax.meaning
    assert any(f.meaning.startswith("1 (c puts") for f in crossing.factors)
    check_every_parameter(spec, trace)


def test_a_layer_the_output_ignores_has_gradient_zero_and_says_why():
    spec, trace = dag_with_softmax_add_and_concat()
    e = explain(spec, trace, "side.weight", (1, 0))
    assert e.paths == () and e.n_paths == 0 and e.sample_value == e.batch_value == e.recorded == 0.0
    assert "does not lead to the output 'y'" in e.note and "= 0" in to_text(e)


def all_paths(spec, trace, key, index, sample):
    return explain(spec, trace, key, index, sample, max_paths=10**6)


def test_only_the_largest_paths_are_listed_and_the_rest_is_one_exact_sum():
    spec = presets.load("deep_sigmoid_residual")
    data = datasets.resolve_split(spec.data)[0]
    trace = Session(spec, data, batch_size=8).forward_backward().to_numpy()
    e = explain(spec, trace, "h7.weight", (2, 5), sample=3, max_paths=5)
    full = all_paths(spec, trace, "h7.weight", (2, 5), 3)
    # h7 → (h8 or skip) → r8 → (h9 or skip) → r9 → (h10 or skip) → r10 → out: 9 choices per residual block
    assert e.n_paths == full.n_paths == len(full.paths) == 9**3
    biggest = sorted((abs(p.value) for p in full.paths), reverse=True)[:5]
    assert [abs(p.value) for p in e.paths] == pytest.approx(biggest, rel=1e-12)
    rest = math.fsum(p.value for p in full.paths) - math.fsum(p.value for p in e.paths)
    assert e.other_paths == pytest.approx(rest, rel=1e-9, abs=1e-18)
    assert e.other_paths + math.fsum(p.value for p in e.paths) == pytest.approx(e.sample_value, rel=1e-12)
    assert "the 5 largest of the 729 paths to E are listed" in e.note and "sample 3 of a batch of 8" in e.note


def test_a_deep_network_is_explained_without_enumerating_its_paths():
    spec = presets.load("deep_sigmoid")
    trace = Session(spec, datasets.resolve_split(spec.data)[0], batch_size=4).forward_backward().to_numpy()
    e = explain(spec, trace, "h1.weight", (0, 0))
    assert e.n_paths == 8**9 and len(e.paths) == 32
    assert sum(explain(spec, trace, "h1.weight", (0, 0), s).sample_value for s in range(4)) == pytest.approx(
        trace.layers["h1"].grads["weight"][0, 0], rel=1e-10, abs=1e-20
    )


def test_before_the_backward_pass_reaches_the_layer_it_says_what_to_run():
    spec = presets.load("mazur")
    session = Session(spec, datasets.resolve_split(spec.data)[0])
    session.advance()  # forward h
    with pytest.raises(SessionError, match="run the backward pass through layer 'h' first"):
        explain(spec, session.trace.to_numpy(), "h.weight", (0, 0))
    session.advance(), session.advance(), session.advance()  # forward o, loss, backward o
    trace = session.trace.to_numpy()
    assert explain(spec, trace, "o.weight", (1, 1)).matches
    with pytest.raises(SessionError, match="through layer 'h' first"):
        explain(spec, trace, "h.bias", (0,))


@pytest.mark.parametrize(
    "key, index, words",
    [
        ("z.weight", (0, 0), "no parameter 'z.weight'"),
        ("h.weight", (2, 0), "shape 2×2"),
        ("h.weight", (0,), "give (row, column)"),
        ("h.bias", (0, 0), "give (unit,)"),
        ("h.weight", (0, -1), "2×2"),
    ],
)
def test_an_unknown_parameter_or_index_is_a_spec_error(key, index, words):
    spec, trace = mazur_trace()
    with pytest.raises(SpecError, match=__import__("re").escape(words)):
        explain(spec, trace, key, index)


def test_a_sample_outside_the_batch_is_refused():
    spec, trace = mazur_trace()
    with pytest.raises(SessionError, match="not in this batch of 1"):
        explain(spec, trace, "h.weight", (0, 0), sample=1)


def test_a_trace_from_before_the_network_was_edited_is_refused_in_words():
    spec, trace = mazur_trace()
    wider = spec.replace_layer("o", weight=None).replace_layer("h", units=3, weight=None, bias=None)
    with pytest.raises(SessionError, match="does not fit the network"):
        explain(wider, trace, "o.weight", (0, 0))


def test_a_wide_layer_is_explained_path_by_path_from_its_one_unit(tmp_path):
    """2-300-300-1: the 300 paths from w_h1[4,1] run through each unit of h2; the largest are listed (the
    explanation follows only the paths the parameter's unit starts, not the whole 300×300 layer's)."""
    spec = spec_io.load(wide_net_file(tmp_path))
    trace = Session(spec, datasets.resolve_split(spec.data)[0], batch_size=8).forward_backward().to_numpy()
    s, p, layers = 2, trace.params_before, trace.layers
    slope = {lid: 1 - layers[lid].out[s] ** 2 for lid in ("h1", "h2")}  # tanh'
    out = layers["y"].out[s, 0]
    upstream = trace.output_grad[s, 0] * out * (1 - out) * p["y.weight"][0]  # ∂E/∂out_h2[m], path by path
    paths = upstream * slope["h2"] * p["h2.weight"][:, 4] * slope["h1"][4] * layers["h1"].inputs[0][s, 1]
    e = explain(spec, trace, "h1.weight", (4, 1), sample=s, max_paths=5)
    assert e.n_paths == 300 and e.sample_value == pytest.approx(math.fsum(paths), rel=1e-9)
    biggest = sorted(paths, key=abs, reverse=True)[:5]
    assert [q.value for q in e.paths] == pytest.approx(biggest, rel=1e-12)
    assert [int(q.via[1].split("[")[1].rstrip("]")) for q in e.paths] == [
        int(m) for m in np.argsort(-np.abs(paths), kind="stable")[:5]
    ]
    total = sum(explain(spec, trace, "h1.weight", (4, 1), b).sample_value for b in range(8))
    assert total == pytest.approx(trace.layers["h1"].grads["weight"][4, 1], rel=1e-9, abs=1e-15)


def test_the_deep_sigmoid_batchnorm_example_is_explained_through_its_norm_layers():
    """(It raised KeyError once: every weight before a batchnorm layer has paths through one.)"""
    spec = presets.load("deep_sigmoid_batchnorm")
    data = datasets.resolve_split(dict(spec.data), presets.path("deep_sigmoid_batchnorm").parent)[0]
    trace = Session(spec, data, batch_size=32).step()
    for key in ("h1.weight", f"{spec.output}.weight"):
        assert explain(spec, trace, key, (0, 0)).matches, key
