"""Run databases written by hand, row by row, in the schema docs/watch.md documents (no torch needed): for the
reader, the verdicts and ``bpstudio runs``."""

from __future__ import annotations

import json
import math

from bpstudio.core.io import run_db

NOT_A_NUMBER = None  # a NaN as the database keeps it


def sql_value(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


class RunBuilder:
    """A run in ``run_dir`` of a model whose parameters are ``params`` ({name: module}, in order) and whose watched
    modules are ``modules`` ([(name, type, kind)], in the order they ran). Rows go in one transaction per
    :meth:`step`, as the writer commits them."""

    def __init__(self, run_dir, params, modules=(), model_class="Net", every=1, update_every=None, **info_rows):
        self.conn = run_db.create(run_dir)
        info = {
            "format": run_db.FORMAT,
            "version": str(run_db.VERSION),
            "started": "2026-01-02T03:04:05+00:00",
            "finished": "0",
            "model_class": model_class,
            "every": str(every),
            "update_every": str(every if update_every is None else update_every),
            **{key: str(value) for key, value in info_rows.items()},
        }
        with run_db.transaction(self.conn) as c:
            c.executemany("INSERT INTO run_info VALUES (?, ?)", info.items())
            c.executemany(
                "INSERT INTO parameters VALUES (?, ?, ?, ?, ?)",
                [(i, name, module, json.dumps([2, 2]), 4) for i, (name, module) in enumerate(params.items())],
            )
            c.executemany("INSERT INTO modules VALUES (?, ?, ?, ?)", [(i, *m) for i, m in enumerate(modules)])

    def step(self, step, loss, grads, norms=None, ratios=None, activations=None, seconds=None):
        """One step: ``grads``/``norms``/``ratios`` {parameter: value}; ``activations`` {module: (mean, std,
        zero, dead, saturated fraction)}."""
        with run_db.transaction(self.conn) as c:
            for table, values in (("grad_norms", grads), ("param_norms", norms), ("update_ratios", ratios)):
                rows = [(step, k, sql_value(v)) for k, v in (values or {}).items()]
                c.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows)
            rows = [(step, m, *(sql_value(v) for v in stats)) for m, stats in (activations or {}).items()]
            c.executemany("INSERT INTO activations VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            c.execute("INSERT INTO steps VALUES (?, ?, ?)", (step, sql_value(loss), seconds or 0.1 * step))

    def finish(self):
        with run_db.transaction(self.conn) as c:
            c.execute("UPDATE run_info SET value = '1' WHERE key = 'finished'")
        self.conn.close()


def chain(run_dir, grad_norms, activation=None, kind=None, fractions=None, losses=None):
    """A run of a chain Linear, activation, Linear, … (``activation`` None: Linears only): ``grad_norms[i]`` is
    the list over steps of layer i's weight-gradient norm; ``fractions[i]`` of the i-th activation module's dead
    (kind "dead") or saturated (kind "saturated") share, per step. Layers are named "0", "2", "4", … (their
    place in an nn.Sequential) and the activation modules "1", "3", …"""
    layers = len(grad_norms)
    step_count = len(grad_norms[0])
    linear = [str(2 * i if activation else i) for i in range(layers)]
    acts = [str(2 * i + 1) for i in range(layers - 1)] if activation else []
    modules = []
    for i, name in enumerate(linear):
        modules.append((name, "Linear", None))
        if i < len(acts):
            modules.append((acts[i], activation, kind))
    params = {f"{name}.{p}": name for name in linear for p in ("weight", "bias")}
    builder = RunBuilder(run_dir, params, modules)
    for s in range(step_count):
        grads = {f"{name}.weight": grad_norms[i][s] for i, name in enumerate(linear)}
        grads |= {f"{name}.bias": 1.0 for name in linear}
        acts_now = {name: (0.5, 0.2, 0.0, None, None) for name in linear}
        for j, name in enumerate(acts):
            share = fractions[j][s] if fractions else 0.0
            acts_now[name] = (
                0.5,
                0.2,
                share if kind == "dead" else 0.0,
                share if kind == "dead" else None,
                share if kind == "saturated" else None,
            )
        loss = losses[s] if losses else 0.7
        builder.step(s + 1, loss, grads, activations=acts_now)
    builder.finish()
    return linear, acts
