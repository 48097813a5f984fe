"""bpstudio.watch.Watcher on a CUDA device, and on a model split between the GPU and the CPU: what it records
still equals torch's own figures. Skipped where PyTorch sees no CUDA device (CI has none)."""

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from bpstudio.watch import Watcher  # noqa: E402
from tests.watch.test_watcher import assert_norms_are_torchs, cnn, mlp, rows, train  # noqa: E402

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.mark.parametrize("make, inputs", [(mlp, (8, 5)), (cnn, (6, 1, 8, 8))], ids=["mlp", "cnn"])
def test_recorded_norms_on_the_gpu_are_torchs_own(tmp_path, make, inputs):
    model, seen = make().cuda(), []
    with Watcher(model, tmp_path, update_every=1) as w:
        train(model, w, inputs, 4, seen=seen, device="cuda")
    assert_norms_are_torchs(tmp_path, model, seen)


def test_activation_statistics_on_the_gpu_are_those_of_the_outputs(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 3)).cuda()
    with torch.no_grad():
        model[0].bias[:2] = -100.0
    outputs = {}
    for name, m in model.named_children():
        m.register_forward_hook(lambda m, a, o, name=name: outputs.__setitem__(name, o.detach().double().cpu()))
    with Watcher(model, tmp_path) as w:
        train(model, w, (9, 5), 1, device="cuda")
    stats = {
        r[0]: r[1:] for r in rows(tmp_path, "SELECT module, mean, std, zero_fraction, dead_fraction FROM activations")
    }
    assert set(stats) == set(outputs)
    for name, y in outputs.items():
        mean, std, zeros, _ = stats[name]
        assert mean == pytest.approx(y.mean().item(), rel=1e-5, abs=1e-6)
        assert std == pytest.approx(y.std(correction=0).item(), rel=1e-4)
        assert zeros == pytest.approx((y == 0).double().mean().item())
    assert (
        stats["1"][3] == pytest.approx((outputs["1"] == 0).all(dim=0).double().mean().item()) and stats["1"][3] >= 2 / 6
    )


class Split(nn.Module):
    """A first half on the GPU in float32 and a second half on the CPU in float64."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.front = nn.Sequential(nn.Linear(5, 7), nn.Tanh()).cuda()
        self.back = nn.Sequential(nn.Linear(7, 3)).double()

    def forward(self, x):
        return self.back(self.front(x.cuda()).cpu().double())


def test_a_model_split_between_gpu_and_cpu_is_recorded_whole(tmp_path):
    model, seen = Split(), []
    with Watcher(model, tmp_path, update_every=1) as w:
        train(model, w, (8, 5), 3, seen=seen)
    assert_norms_are_torchs(tmp_path, model, seen)
    modules = {r[0] for r in rows(tmp_path, "SELECT module FROM activations WHERE step = 3")}
    assert modules == {"front.0", "front.1", "back.0"}
