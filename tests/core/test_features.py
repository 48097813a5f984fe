"""The features layer: its terms against PyTorch autograd (float64) and the complex step, its validation, its file
form (version 2) and switching terms on and off with the weights the person trained kept."""

import json

import numpy as np
import pytest

from bpstudio.core import features
from bpstudio.core.data import Dataset
from bpstudio.core.edit.terms import set_terms, toggle_term
from bpstudio.core.errors import SpecError
from bpstudio.core.init import initial_params
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from bpstudio.core.tools.gradcheck import gradient_check
from tests.helpers import needs_torch, network, optional_torch

torch = optional_torch()
EVERY_TERM = [
    "x1",
    "x3",
    *(f"x2^{k}" for k in range(2, 10)),
    "x1*x2",
    "x3*x3",
    "sin(x1)",
    "cos(x2)",
    "sin(x3)",
    "cos(x3)",
]


def features_net(terms, width=3, loss="mse"):
    """x(width) → h(width, tanh) → f(terms) → out(2): the features layer sits mid-network, so gradients flow
    through it into h."""
    rng = np.random.default_rng(4)
    layers = [
        {"id": "x", "type": "input", "units": width},
        {
            "id": "h",
            "type": "dense",
            "inputs": ["x"],
            "units": width,
            "activation": "tanh",
            "weight": (rng.normal(size=(width, width)) * 0.7).tolist(),
            "bias": (rng.normal(size=width) * 0.3).tolist(),
        },
        {"id": "f", "type": "features", "inputs": ["h"], "terms": list(terms)},
        {
            "id": "out",
            "type": "dense",
            "inputs": ["f"],
            "units": 2,
            "weight": (rng.normal(size=(2, len(terms))) * 0.5).tolist(),
            "bias": [0.1, -0.2],
        },
    ]
    X = rng.normal(size=(6, width))
    return network(layers, "out", loss, seed=3), Dataset(X, rng.normal(size=(6, 2)), "random")


def reference_columns(term, x):
    """The term's column written out by hand in NumPy, independent of the engine's parser."""
    table = {
        "x1": x[:, 0],
        "x3": x[:, 2],
        "x1*x2": x[:, 0] * x[:, 1],
        "x3*x3": x[:, 2] ** 2,
        "sin(x1)": np.sin(x[:, 0]),
        "cos(x2)": np.cos(x[:, 1]),
        "sin(x3)": np.sin(x[:, 2]),
        "cos(x3)": np.cos(x[:, 2]),
    }
    table.update({f"x2^{k}": x[:, 1] ** k for k in range(2, 10)})
    return table[term]


def test_each_term_computes_its_column_and_the_width_is_the_number_of_terms():
    spec, data = features_net(EVERY_TERM)
    assert spec.widths["f"] == len(EVERY_TERM) and spec.param_shapes()["out.weight"] == (2, len(EVERY_TERM))
    trace = Session(spec, data).forward_backward()
    h = trace.layers["h"].out
    for c, term in enumerate(EVERY_TERM):
        np.testing.assert_allclose(trace.layers["f"].out[:, c], reference_columns(term, h), rtol=1e-15, err_msg=term)


@needs_torch
def test_every_term_and_power_matches_torch_autograd_in_float64():
    spec, data = features_net(EVERY_TERM)
    ours = Session(spec, data, backend="numpy").forward_backward()
    theirs = Session(spec, data, backend="torch").forward_backward()
    np.testing.assert_allclose(ours.layers["f"].out, theirs.numpy(theirs.layers["f"].out), rtol=1e-9)
    dh = ours.layers["f"].grad_inputs[0]
    np.testing.assert_allclose(dh, theirs.numpy(theirs.layers["f"].grad_inputs[0]), rtol=1e-9, atol=1e-12)
    for key in ours.grads:
        np.testing.assert_allclose(ours.grads[key], theirs.numpy(theirs.grads[key]), rtol=1e-9, atol=1e-12)
    # and against torch's autograd of the terms written out here, not through the engine's parser
    h = torch.tensor(ours.layers["h"].out, requires_grad=True)
    written = {"x1": h[:, 0], "x3": h[:, 2], "x1*x2": h[:, 0] * h[:, 1], "x3*x3": h[:, 2] * h[:, 2]}
    written.update({"sin(x1)": torch.sin(h[:, 0]), "cos(x2)": torch.cos(h[:, 1])})
    written.update({"sin(x3)": torch.sin(h[:, 2]), "cos(x3)": torch.cos(h[:, 2])})
    written.update({f"x2^{k}": h[:, 1] ** k for k in range(2, 10)})
    f = torch.stack([written[t] for t in EVERY_TERM], dim=1)
    (dh_torch,) = torch.autograd.grad(f, h, torch.tensor(ours.layers["f"].grad_out))
    np.testing.assert_allclose(f.detach().numpy(), ours.layers["f"].out, rtol=1e-9)
    np.testing.assert_allclose(dh, dh_torch.numpy(), rtol=1e-9, atol=1e-12)


def test_backprop_through_every_term_matches_the_complex_step():
    spec, data = features_net(EVERY_TERM)
    checks = gradient_check(spec, data)
    assert {c.key for c in checks} == {"h.weight", "h.bias", "out.weight", "out.bias"}
    for check in checks:
        assert check.complex_step and check.passed, check


def test_the_hand_written_backward_matches_central_differences_term_by_term():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3))
    g = rng.normal(size=(4, len(EVERY_TERM)))
    terms = features.parse_terms(EVERY_TERM)
    dx = features.backward(terms, x, g)
    h = 1e-6
    for i in range(3):
        bump = np.zeros_like(x)
        bump[:, i] = h
        numeric = ((features.forward(terms, x + bump) - features.forward(terms, x - bump)) * g).sum(axis=1) / (2 * h)
        np.testing.assert_allclose(dx[:, i], numeric, rtol=1e-6, atol=1e-8)
    assert not np.shares_memory(dx, g)


@pytest.mark.parametrize(
    ("terms", "words"),
    [
        (["x4"], "names column x4, but the input 'h' has 3 columns"),
        (["x1*x9"], "names column x9"),
        (["x0"], "columns count from x1"),
        (["x1^10"], "power 10; a power goes from 2 to 9"),
        (["x1^1"], "power 1"),
        (["x1**2"], "is not one of xi, xi^k"),
        (["tan(x1)"], "is not one of"),
        (["x01"], "is not one of"),
        ([" x1"], "is not one of"),
        ([], "non-empty list of terms"),
        ([1], "a term is text"),
    ],
)
def test_a_bad_term_is_refused_naming_the_layer_and_the_field(terms, words):
    raw = spec_io.to_dict(features_net(["x1"])[0])
    raw["layers"][2]["terms"] = terms
    raw["layers"][3].pop("weight")
    with pytest.raises(SpecError) as info:
        spec_io.from_dict(raw)
    assert (info.value.layer, info.value.field) == ("f", "terms")
    assert words in str(info.value) and str(info.value).count("layer 'f'") == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [({"terms": "x1"}, "terms"), ({"activation": "relu"}, "activation"), ({"inputs": ["x", "h"]}, "inputs")],
)
def test_a_features_layer_takes_a_list_one_input_and_no_activation(change, field):
    raw = spec_io.to_dict(features_net(["x1"])[0])
    raw["layers"][2].update(change)
    with pytest.raises(SpecError) as info:
        spec_io.from_dict(raw)
    assert (info.value.layer, info.value.field) == ("f", field)


def test_terms_are_written_to_a_version_2_file_and_read_back():
    spec, _ = features_net(EVERY_TERM)
    saved = json.loads(spec_io.dumps(spec))
    assert saved["version"] == 2
    assert saved["layers"][2] == {"id": "f", "type": "features", "inputs": ["h"], "terms": EVERY_TERM}
    assert spec_io.loads(spec_io.dumps(spec)).layer("f").terms == tuple(EVERY_TERM)


def test_switching_a_term_on_keeps_the_trained_columns_and_draws_the_new_one():
    spec, _ = features_net(["x1", "x2", "sin(x1)"], width=2)
    trained = spec.layer("out").weight
    on = toggle_term(spec, "f", "x1^2", True)
    assert on.layer("f").terms == ("x1", "x2", "x1^2", "sin(x1)")  # in the toggles' order: after x2
    weight = on.layer("out").weight
    np.testing.assert_array_equal(weight[:, [0, 1, 3]], trained)
    drawn = initial_params(on.replace_layer("out", weight=None))["out.weight"]
    np.testing.assert_array_equal(weight[:, 2], drawn[:, 2])
    np.testing.assert_array_equal(on.layer("out").bias, spec.layer("out").bias)
    off = toggle_term(on, "f", "x1^2", False)
    assert off.layer("f").terms == spec.layer("f").terms
    np.testing.assert_array_equal(off.layer("out").weight, trained)


def test_switching_terms_refuses_the_last_term_and_a_term_the_input_lacks():
    spec, _ = features_net(["x1"], width=2)
    with pytest.raises(SpecError, match="last term of 'f'"):
        toggle_term(spec, "f", "x1", False)
    with pytest.raises(SpecError, match="names column x3"):
        set_terms(spec, "f", ["x1", "x3"])
    with pytest.raises(SpecError, match="it is a dense layer"):
        set_terms(spec, "h", ["x1"])


def test_offered_terms_follow_tf_playgrounds_feature_column():
    assert features.offered_terms(2) == ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)")
    labels = [features.parse_term(t).label for t in features.offered_terms(2)]
    assert labels == ["x1", "x2", "x1²", "x2²", "x1·x2", "sin x1", "sin x2"]


def test_the_chain_rule_through_a_features_layer_names_each_terms_derivative_with_its_numbers():
    from bpstudio.core.tools.explain import explain, to_text

    spec, data = features_net(["x1", "x1^3", "x1*x2", "cos(x1)", "sin(x3)"])
    trace = Session(spec, data).forward_backward().to_numpy()
    expl = explain(spec, trace, "h.weight", (0, 1))
    assert expl.matches and expl.batch_value == pytest.approx(float(trace.grads["h.weight"][0, 1]), rel=1e-9)
    assert expl.n_paths == 8  # h[0] feeds x1, x1³, x1·x2, cos x1 (not sin x3): 4 terms × 2 output units
    meanings = {f.meaning: f.value for p in expl.paths for f in p.factors if f.symbol.startswith("∂net_f[")}
    h0 = trace.layers["h"].out[0]
    assert meanings["f's term x1³ by x1 = out_h[0]: 3·x1²"] == pytest.approx(3 * h0[0] ** 2, rel=1e-12)
    assert meanings["f's term x1·x2 by x1 = out_h[0]: x2"] == pytest.approx(h0[1], rel=1e-12)
    assert meanings["f's term cos x1 by x1 = out_h[0]: −sin x1"] == pytest.approx(-np.sin(h0[0]), rel=1e-12)
    assert "∂net_f[1]/∂out_h[0]" in to_text(expl)  # the panel's path through the term x1³
