"""Watch a PyTorch training loop with bpstudio: a small CNN on the 8×8 handwritten digits that ship with bpstudio.

    python docs/examples/watch_digits_cnn.py runs/digits-cnn
    bpstudio runs runs/digits-cnn            # each layer's gradients, activations and a verdict

Copy it into your own loop: the watcher's lines are marked ``# watch``. ``bpstudio runs`` reads the run while
this script is still writing it, too.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from bpstudio.core.datasets.digits import digits
from bpstudio.watch import Watcher  # watch


def model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # 16 × 4 × 4
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a new folder for the run")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=1, help="record every this many steps")
    args = parser.parse_args(argv)

    data = digits()
    x = torch.tensor(data.X, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(data.Y)
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

    torch.manual_seed(0)
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    order = torch.Generator().manual_seed(0)
    with Watcher(net, args.run_dir, every=args.every) as watcher:  # watch
        for step in range(1, args.steps + 1):
            batch = torch.randint(0, len(x_train), (64,), generator=order)
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x_train[batch]), y_train[batch])
            loss.backward()
            opt.step()
            watcher.step(loss)  # watch: after backward (and the optimizer's step), before the next zero_grad
            if step % 100 == 0 or step == args.steps:
                with torch.no_grad():  # (forward passes without autograd are not recorded)
                    accuracy = (net(x_test).argmax(dim=1) == y_test).float().mean().item()
                print(f"step {step}: loss {loss.item():.3f}, test accuracy {accuracy:.1%}")
    print(f"recorded in {args.run_dir}; read it with: bpstudio runs {args.run_dir}")


if __name__ == "__main__":
    main()
