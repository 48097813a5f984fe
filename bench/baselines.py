"""Baselines the engine is measured against: a minimal hand-written NumPy loop and a plain PyTorch loop.

Both compute exactly one full-batch SGD step of the same network per call, with no recording at all.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bpstudio.core.data import Dataset
from bpstudio.core.init import initial_params
from bpstudio.core.spec import NetworkSpec


def _np_act(name: str) -> tuple[Callable, Callable]:
    if name == "tanh":
        return np.tanh, lambda y: 1.0 - y * y
    if name == "sigmoid":
        return (lambda z: 1.0 / (1.0 + np.exp(-z))), (lambda y: y * (1.0 - y))
    if name == "relu":
        return (lambda z: np.maximum(z, 0.0)), (lambda y: y > 0)
    return (lambda z: z), None


def minimal_numpy_step(spec: NetworkSpec, data: Dataset, dtype: str = "float64") -> Callable[[], float]:
    """A plain loop over a chain of dense (and batchnorm) layers, written the way one would by hand."""
    params = initial_params(spec)
    ids = [i for i in spec.order if i != spec.input_id]
    Ws = [params[f"{i}.weight"].astype(dtype) for i in ids]
    bs = [params[f"{i}.bias"].astype(dtype) for i in ids]
    acts = [_np_act(spec.layer(i).activation) for i in ids]
    norm = [spec.layer(i).type == "batchnorm" for i in ids]  # Ws/bs hold γ/β there
    eps = [spec.layer(i).eps or 0.0 for i in ids]
    momentum = [spec.layer(i).momentum or 0.0 for i in ids]
    running = [[np.zeros(spec.widths[i], dtype), np.ones(spec.widths[i], dtype)] for i in ids]
    X = data.X.astype(dtype)
    T = data.targets_for(spec.loss, spec.widths[spec.output])
    if T.ndim == 2:
        T = T.astype(dtype)
    n = X.shape[0]
    lr = spec.optimizer.lr
    loss = spec.loss

    def step() -> float:
        hs, saved = [X], []
        for k, (W, b, (f, _)) in enumerate(zip(Ws, bs, acts)):
            x = hs[-1]
            if norm[k]:  # batchnorm over the batch, then γ and β
                mean = x.mean(axis=0)
                d = x - mean
                var = (d * d).mean(axis=0)
                inv = 1.0 / np.sqrt(var + eps[k])
                xhat = d * inv
                saved.append((xhat, inv))
                m = momentum[k]
                running[k][0] = (1 - m) * running[k][0] + m * mean
                running[k][1] = (1 - m) * running[k][1] + m * var * (n / (n - 1))
                hs.append(f(xhat * W + b))
            else:
                saved.append(None)
                hs.append(f(x @ W.T + b))
        y = hs[-1]
        if loss == "cross_entropy":
            e = np.exp(y - y.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            value = -np.log(p[np.arange(n), T]).mean()
            p[np.arange(n), T] -= 1.0
            g = p / n
        elif loss == "bce":
            value = -np.mean(T * np.log(y) + (1 - T) * np.log(1 - y))
            g = (y - T) / (y * (1 - y)) / y.size
        else:
            value = np.mean((y - T) ** 2)
            g = 2.0 * (y - T) / y.size
        for k in range(len(Ws) - 1, -1, -1):
            dact = acts[k][1]
            dz = g * dact(hs[k + 1]) if dact is not None else g
            if norm[k]:
                xhat, inv = saved[k]
                if k:
                    dxhat = dz * Ws[k]
                    g = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) * inv
                Ws[k] = Ws[k] - lr * (dz * xhat).sum(axis=0)
                bs[k] = bs[k] - lr * dz.sum(axis=0)
                continue
            if k:
                g = dz @ Ws[k]
            Ws[k] = Ws[k] - lr * (dz.T @ hs[k])
            bs[k] = bs[k] - lr * dz.sum(axis=0)
        return float(value)

    return step


def plain_torch_step(
    spec: NetworkSpec, data: Dataset, dtype: str = "float64", device: str = "cpu"
) -> Callable[[], float]:
    """The same network as torch.nn.Sequential with torch.optim.SGD on ``device``: the usual PyTorch training
    loop (its loss read back every step, as bpstudio's step does)."""
    import torch
    from torch import nn

    tdtype = getattr(torch, dtype)
    params = initial_params(spec)
    modules: list[nn.Module] = []
    for i in (i for i in spec.order if i != spec.input_id):
        layer = spec.layer(i)
        if layer.type == "batchnorm":
            modules.append(nn.BatchNorm1d(spec.widths[i], eps=layer.eps, momentum=layer.momentum).to(tdtype))
            act = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}.get(layer.activation)
            if act is not None:
                modules.append(act())
            continue
        linear = nn.Linear(spec.fan_in(i), spec.widths[i]).to(tdtype)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(params[f"{i}.weight"]))
            linear.bias.copy_(torch.tensor(params[f"{i}.bias"]))
        modules.append(linear)
        act = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}.get(layer.activation)
        if act is not None:
            modules.append(act())
    model = nn.Sequential(*modules).to(device)
    X = torch.tensor(data.X, dtype=tdtype, device=device)
    T_np = data.targets_for(spec.loss, spec.widths[spec.output])
    T = torch.tensor(T_np, device=device) if T_np.ndim == 1 else torch.tensor(T_np, dtype=tdtype, device=device)
    criterion = {"cross_entropy": nn.CrossEntropyLoss(), "bce": nn.BCELoss(), "mse": nn.MSELoss()}[spec.loss]
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.optimizer.lr)

    def step() -> float:
        optimizer.zero_grad()
        value = criterion(model(X), T)
        value.backward()
        optimizer.step()
        return float(value.detach())

    return step
