"""The gradient view on any PyTorch training loop: :class:`Watcher` records a model's gradient norms, weight
norms, update ratios, activation statistics and loss into a run folder, which ``bpstudio runs RUN_DIR`` and the
reader in :mod:`bpstudio.core.record.watched_run` read, while it is written too. Needs torch, never Qt.

    from bpstudio.watch import Watcher

    with Watcher(model, "runs/first") as w:
        for x, y in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            w.step(loss)

The database's schema is in docs/watch.md. Only :mod:`bpstudio.watch.watcher` and
:mod:`bpstudio.watch.activations` import torch (the writer and the sample format do not): ``Watcher`` is imported
when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpstudio.watch.watcher import Watcher

__all__ = ["Watcher"]


def __getattr__(name: str) -> Any:
    if name == "Watcher":
        from bpstudio.watch.watcher import Watcher

        return Watcher
    raise AttributeError(f"module 'bpstudio.watch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])  # (Watcher too, for dir() and tab completion, before it is imported)
