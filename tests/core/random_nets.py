"""Hypothesis strategies for random network DAGs covering every layer type, activation and loss."""
# (features layers draw powers up to 4 here: x^9 of a normal draw is a float32 test's rounding, not its check;
# every power is checked against torch and the complex step in tests/core/test_features.py)

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from bpstudio.core import activations, losses
from bpstudio.core.data import Dataset
from bpstudio.core.spec import NetworkSpec
from tests.helpers import network


def term(width: int) -> st.SearchStrategy[str]:
    """One feature term over ``width`` columns: xi, xi^k, xi*xj, sin(xi) or cos(xi)."""
    column = st.integers(1, width)
    return st.one_of(
        column.map(lambda i: f"x{i}"),
        st.tuples(column, st.integers(2, 4)).map(lambda ik: f"x{ik[0]}^{ik[1]}"),
        st.tuples(column, column).map(lambda ij: f"x{ij[0]}*x{ij[1]}"),
        st.tuples(st.sampled_from(("sin", "cos")), column).map(lambda fi: f"{fi[0]}(x{fi[1]})"),
    )


@st.composite
def nets(draw, max_layers: int = 5, dropout: bool = False, norm: bool = False) -> tuple[NetworkSpec, Dataset]:
    """A random DAG (dense, add, concat, features, with ``dropout`` dropout layers too and with ``norm`` batchnorm
    and layernorm layers; any activation) with explicit weights and matching data (at least 2 samples when there
    are norm layers: batchnorm refuses to train on one)."""
    loss = draw(st.sampled_from(losses.NAMES))
    n_in = draw(st.integers(1, 3))
    layers = [{"id": "x", "type": "input", "units": n_in}]
    widths = {"x": n_in}
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for k in range(draw(st.integers(1, max_layers))):
        lid = f"l{k}"
        kind = draw(
            st.sampled_from(
                (
                    "dense",
                    "dense",
                    "add",
                    "concat",
                    "features",
                    *(("dropout",) if dropout else ()),
                    *(("batchnorm", "layernorm", "batchnorm") if norm else ()),
                )
            )
        )
        act = draw(st.sampled_from(activations.NAMES))
        computed = [i for i in widths if i != "x"]
        if kind == "add":
            same = [i for i in computed if any(widths[j] == widths[i] for j in widths if j != i)]
            if not same:
                kind = "dense"
            else:
                first = draw(st.sampled_from(same))
                partners = [j for j in widths if j != first and widths[j] == widths[first]]
                inputs = [first, draw(st.sampled_from(partners))]
                layers.append({"id": lid, "type": "add", "inputs": inputs, "activation": act})
                widths[lid] = widths[first]
                continue
        if kind == "concat" and len(widths) >= 2:
            inputs = draw(st.lists(st.sampled_from(list(widths)), min_size=2, max_size=3, unique=True))
            layers.append({"id": lid, "type": "concat", "inputs": inputs, "activation": act})
            widths[lid] = sum(widths[i] for i in inputs)
            continue
        source = draw(st.sampled_from(list(widths)))
        if kind == "dropout":
            p = draw(st.sampled_from((0.0, 0.25, 0.5)))
            layers.append({"id": lid, "type": "dropout", "inputs": [source], "p": p})
            widths[lid] = widths[source]
            continue
        if kind in ("batchnorm", "layernorm"):
            width = widths[source]
            layer = {"id": lid, "type": kind, "inputs": [source], "activation": act}
            layer["eps"] = draw(st.sampled_from((1e-5, 1e-3, 0.1)))
            layer["affine"] = draw(st.booleans())
            if layer["affine"]:
                layer["weight"] = (1 + rng.normal(size=width) * 0.5).tolist()
                layer["bias"] = (rng.normal(size=width) * 0.3).tolist()
            if kind == "batchnorm":
                layer["momentum"] = draw(st.sampled_from((0.0, 0.1, 0.5, 1.0)))
                layer["running_mean"] = rng.normal(size=width).tolist()
                layer["running_var"] = rng.uniform(0.2, 2.0, size=width).tolist()
            layers.append(layer)
            widths[lid] = width
            continue
        if kind == "features":
            terms = draw(st.lists(term(widths[source]), min_size=1, max_size=4))
            layers.append({"id": lid, "type": "features", "inputs": [source], "terms": terms})
            widths[lid] = len(terms)
            continue
        units = draw(st.integers(1, 4))
        use_bias = draw(st.booleans())
        layer = {
            "id": lid,
            "type": "dense",
            "inputs": [source],
            "units": units,
            "activation": act,
            "use_bias": use_bias,
            "weight": (rng.normal(size=(units, widths[source])) * 0.8).tolist(),
        }
        if use_bias:
            layer["bias"] = (rng.normal(size=units) * 0.5).tolist()
        layers.append(layer)
        widths[lid] = units
    # the output: a dense head whose activation suits the loss
    out_units = draw(st.integers(2, 3)) if loss == "cross_entropy" else draw(st.integers(1, 3))
    head_act = {"bce": "sigmoid", "cross_entropy": "identity"}.get(loss, draw(st.sampled_from(activations.NAMES)))
    last = layers[-1]["id"]
    layers.append(
        {
            "id": "out",
            "type": "dense",
            "inputs": [last],
            "units": out_units,
            "activation": head_act,
            "weight": (rng.normal(size=(out_units, widths[last])) * 0.8).tolist(),
            "bias": (rng.normal(size=out_units) * 0.3).tolist(),
        }
    )
    order = draw(st.permutations(layers))  # files may list layers in any order
    spec = network(list(order), "out", loss)

    n = draw(st.integers(2 if norm else 1, 6))
    X = rng.normal(size=(n, n_in))
    if loss == "cross_entropy":
        Y = rng.integers(0, out_units, size=n) if draw(st.booleans()) else rng.dirichlet(np.ones(out_units), size=n)
    elif loss == "bce":
        Y = rng.uniform(0, 1, size=(n, out_units))
    else:
        Y = rng.normal(size=(n, out_units))
    return spec, Dataset(X, Y, "random")
