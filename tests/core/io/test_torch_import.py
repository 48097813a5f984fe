"""An nn.Module traced with torch.fx becomes a bpstudio network: nested modules, functional forms, residual sums,
concatenation and norm layers; its gradients equal the module's own autograd in training mode (float64, 1e-9) under
exactly the names of ``model.named_parameters()``; evaluation equals ``model.eval()``; what bpstudio cannot hold is
refused naming it; the CLI imports the user's own code from the working folder."""

import textwrap

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.io import spec_io
from bpstudio.core.session import Session
from tests.cli.running import run
from tests.helpers import needs_torch, optional_torch

torch = optional_torch()
pytestmark = needs_torch
TIGHT = dict(rtol=1e-9, atol=1e-12)

if torch is not None:
    import torch.nn.functional as F
    from torch import nn

    from bpstudio.core.io.torch_import import TorchImportError, import_module

    class Block(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.lin = nn.Linear(width, width)
            self.bn = nn.BatchNorm1d(width, momentum=0.2)
            self.act = nn.Tanh()

        def forward(self, x):
            return x + self.act(self.bn(self.lin(x)))

    class Net(nn.Module):
        """Linear → ReLU, two residual blocks, LayerNorm, F.gelu, cat with the input, a head without bias."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Linear(3, 6)
            self.blocks = nn.Sequential(Block(6), Block(6))
            self.norm = nn.LayerNorm(6)
            self.head = nn.Linear(9, 2, bias=False)

        def forward(self, x):
            h = torch.relu(self.stem(x))
            h = self.norm(self.blocks(h))
            h = F.gelu(h)
            return self.head(torch.cat([h, x], dim=1))


def reference_gradients(model, X, Y):
    model.train()
    model.zero_grad()
    loss = F.mse_loss(model(torch.tensor(X)), torch.tensor(Y))
    loss.backward()
    return float(loss.detach()), {name: p.grad.numpy().copy() for name, p in model.named_parameters()}


def test_a_nested_module_imports_with_equal_gradients_under_its_parameter_names():
    torch.manual_seed(0)
    model = Net().double()
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    with torch.no_grad():  # running statistics away from 0 and 1, so evaluation mode is tested too
        model.train()
        model(torch.tensor(X) * 2 + 1)
    spec = import_module(model, "mse")
    assert {l.id: l.type for l in spec.layers if l.type != "input"} == {
        "stem": "dense",
        "blocks.0.lin": "dense",
        "blocks.0.bn": "batchnorm",
        "add": "add",
        "blocks.1.lin": "dense",
        "blocks.1.bn": "batchnorm",
        "add_1": "add",
        "norm": "layernorm",
        "cat": "concat",
        "head": "dense",
    }
    assert spec.layer("stem").activation == "relu" and spec.layer("blocks.0.bn").activation == "tanh"
    assert spec.layer("norm").activation == "gelu"  # (the function fused onto the layer it follows)
    assert spec.data["builtin"] == "blobs" and spec.data["features"] == 3  # data that fits, so it opens and trains
    model.eval()  # (before the training pass below moves torch's running statistics)
    with torch.no_grad():
        expected = model(torch.tensor(X)).numpy()
    np.testing.assert_allclose(Session(spec, Dataset(X, Y)).predict(X), expected, **TIGHT)
    session = Session(spec, Dataset(X, Y))
    trace = session.forward_backward()
    loss, grads = reference_gradients(model, X, Y)
    assert trace.loss == pytest.approx(loss, rel=1e-9)
    ours = session.gradients()
    assert list(ours) == [name for name, _ in model.named_parameters()]  # exactly, in the module's order
    for name, grad in grads.items():
        np.testing.assert_allclose(ours[name], grad, **TIGHT, err_msg=name)
    again = spec_io.loads(spec_io.dumps(spec))  # a network file like any other
    np.testing.assert_array_equal(again.layer("blocks.1.bn").running_var, spec.layer("blocks.1.bn").running_var)


def test_an_activation_on_a_value_read_twice_gets_a_layer_of_its_own():
    class Split(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 3)
            self.b = nn.Linear(3, 3)

        def forward(self, x):
            h = self.a(x)
            return self.b(torch.sigmoid(h)) + h  # h is read twice: the sigmoid cannot become a's activation

    model = Split().double()
    spec = import_module(model)
    assert spec.layer("a").activation == "identity"
    assert spec.layer("sigmoid").type == "add" and spec.layer("sigmoid").activation == "sigmoid"
    X, Y = np.random.default_rng(2).normal(size=(5, 2)), np.random.default_rng(3).normal(size=(5, 3))
    session = Session(spec, Dataset(X, Y))
    session.forward_backward()
    for name, grad in reference_gradients(model, X, Y)[1].items():
        np.testing.assert_allclose(session.gradients()[name], grad, **TIGHT, err_msg=name)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: nn.Sequential(nn.Linear(2, 3), nn.Conv1d(1, 1, 1)), "unsupported module Conv1d '1'"),
        (lambda: nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2)), "LeakyReLU with these settings"),
        (lambda: nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=0)), "Softmax with these settings"),
        (lambda: nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3, momentum=None)), "momentum=None"),
        (lambda: nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3, track_running_stats=False)), "track_running"),
    ],
)
def test_what_bpstudio_cannot_hold_is_refused_naming_it(make, words):
    with pytest.raises(TorchImportError, match=words.replace("(", r"\(")):
        import_module(make())


def test_shared_weights_unused_parameters_and_untraceable_control_flow_are_refused():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(self.lin(x))

    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.spare = nn.Linear(3, 3), nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x)

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x):
            return self.lin(x) if x.sum() > 0 else x

    with pytest.raises(TorchImportError, match="module 'lin' is called twice"):
        import_module(Shared())
    with pytest.raises(TorchImportError, match="parameters no layer of the forward pass uses: spare.weight"):
        import_module(Unused())
    with pytest.raises(TorchImportError, match="torch.fx cannot trace the module"):
        import_module(Branchy())


MODELS = """
import torch
from torch import nn


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.25))
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(self.body(x))


def make():
    torch.manual_seed(0)
    return Mlp()


def broken():
    raise ValueError("no weights here")
"""


def test_the_cli_imports_the_users_own_module_from_the_working_folder(capsys, tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent(MODELS))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = run(capsys, "import", "--torch", "mymodels:make", "--loss", "cross_entropy", "--out", "net.json")
    assert (code, err) == (0, "") and "wrote net.json" in out
    spec = spec_io.load(tmp_path / "net.json")
    assert spec.loss == "cross_entropy" and spec.layer("body.3").type == "dropout" and spec.layer("body.3").p == 0.25
    np.savez(tmp_path / "d.npz", X=np.random.default_rng(0).normal(size=(6, 2)), Y=np.array([0, 1, 2, 0, 1, 2]))
    code, _, err = run(capsys, "grad", "net.json", "--data", "d.npz", "--out", "g.npz")
    import mymodels

    with np.load(tmp_path / "g.npz") as saved:  # bpstudio grad's keys: the module's parameter names
        names = [name for name, _ in mymodels.make().named_parameters()]
        assert (code, err) == (0, "") and sorted(saved.files) == sorted([*names, "loss", "body.3.mask"])
    # weights from a state_dict, loaded into the module before tracing

    model = mymodels.make()
    with torch.no_grad():
        model.out.weight.fill_(0.5)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    code, _, err = run(capsys, "import", "--torch", "mymodels:make", "--state-dict", "w.pt", "--out", "net2.json")
    assert (code, err) == (0, "")
    assert np.all(spec_io.load(tmp_path / "net2.json").layer("out").weight == 0.5)
    for argv, words in [
        (["--torch", "nowhere:make"], "cannot import 'nowhere': ModuleNotFoundError"),
        (["--torch", "mymodels:missing"], "'mymodels' has no function or class 'missing'"),
        (["--torch", "mymodels:broken"], "calling mymodels:broken() raised ValueError: no weights here"),
        (["--torch", "mymodels"], "--torch takes PACKAGE.MODULE:FACTORY"),
        (["--torch", "mymodels:make", "--state-dict", "nope.pt"], "state_dict file 'nope.pt' not found"),
    ]:
        code, out, err = run(capsys, "import", *argv, "--out", "bad.json")
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "bad.json").exists()


def test_a_module_imported_then_exported_as_a_script_computes_the_modules_own_numbers(tmp_path):
    """The round trip torch module → bpstudio → exported PyTorch script: the script's check pass (training mode) gives
    the module's own loss and gradients, under bpstudio's names, which are the module's."""
    import runpy

    from bpstudio.core.init import initial_params
    from bpstudio.core.io.export_torch import write_torch_script

    torch.manual_seed(3)
    model = Net().double()
    spec = import_module(model, "mse")
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(7, 2))
    np.savez(tmp_path / "in.npz", X=X, T=Y)
    write_torch_script(tmp_path / "net.py", spec, initial_params(spec))
    old = torch.get_default_dtype()
    try:
        runpy.run_path(str(tmp_path / "net.py"), run_name="exported")["main"](
            ["--check", str(tmp_path / "out.npz"), "--inputs", str(tmp_path / "in.npz")]
        )
    finally:
        torch.set_default_dtype(old)
    loss, grads = reference_gradients(model, X, Y)
    with np.load(tmp_path / "out.npz") as result:
        assert float(result["loss"]) == pytest.approx(loss, rel=1e-9)
        for name, grad in grads.items():
            np.testing.assert_allclose(result[f"grad/{name}"], grad, **TIGHT, err_msg=name)


@pytest.mark.cuda
@pytest.mark.skipif(torch is None or not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_module_on_the_gpu_imports_as_its_cpu_copy_and_trains_there_with_its_gradients():
    torch.manual_seed(0)
    model = Net().double()
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    on_cpu = spec_io.dumps(import_module(model, "mse"))
    spec = import_module(model.cuda(), "mse")
    assert spec_io.dumps(spec) == on_cpu
    session = Session(spec, Dataset(X, Y), backend="torch", device="cuda")
    trace = session.forward_backward()
    loss, grads = reference_gradients(model.cpu(), X, Y)
    assert trace.loss == pytest.approx(loss, rel=1e-9)
    for name, grad in grads.items():
        np.testing.assert_allclose(session.gradients()[name], grad, **TIGHT, err_msg=name)


def test_frozen_parameters_come_in_frozen_and_training_leaves_them(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    model[0].weight.requires_grad_(False)
    model[2].bias.requires_grad_(False)
    spec = import_module(model, "mse")
    assert spec.layer("0").frozen == {"weight"} and spec.layer("2").frozen == {"bias"}
    rng = np.random.default_rng(0)
    session = Session(spec, Dataset(rng.normal(size=(8, 3)), rng.normal(size=(8, 2))))
    before = session.params_numpy()
    session.run(3)
    after = session.params_numpy()
    np.testing.assert_array_equal(after["0.weight"], before["0.weight"])
    np.testing.assert_array_equal(after["2.bias"], before["2.bias"])
    assert not np.array_equal(after["2.weight"], before["2.weight"])


def test_a_factory_that_returns_no_module_and_a_whole_pickled_model_are_said_plainly(capsys, tmp_path, monkeypatch):
    (tmp_path / "odd.py").write_text(
        "import torch\n"
        "def number():\n    return 42\n"
        "def net():\n    return torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))\n"
    )
    torch.save(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), tmp_path / "whole.pt")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "import", "--torch", "odd:number", "--out", tmp_path / "n.json")
    assert code == 2 and "odd:number() returned int, not a torch.nn.Module" in err
    code, _, err = run(
        capsys, "import", "--torch", "odd:net", "--state-dict", tmp_path / "whole.pt", "--out", tmp_path / "n.json"
    )
    assert code == 2 and "a whole model saved with torch.save(model)?" in err and "save model.state_dict()" in err
    assert not (tmp_path / "n.json").exists()


def test_a_training_checkpoint_and_ddp_weights_are_refused_with_what_to_do(capsys, tmp_path, monkeypatch):
    """Two usual shapes of a weights file that is not the module's state_dict: a checkpoint dict holding it under
    "model" (with the epoch and the optimizer's state), and a state_dict saved from DataParallel/DDP, its keys
    prefixed "module.". One line each, naming the way out."""
    (tmp_path / "nets.py").write_text(
        "from torch import nn\ndef net():\n    return nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))\n"
    )
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    torch.save({"model": model.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "ddp.pt")
    monkeypatch.chdir(tmp_path)
    for weights, words in [
        ("ckpt.pt", "a checkpoint with the weights under 'model': save checkpoint['model'] on its own"),
        ("ddp.pt", "every key starts with 'module.': the weights were saved from a DataParallel or DDP wrapper"),
    ]:
        code, out, err = run(capsys, "import", "--torch", "nets:net", "--state-dict", weights, "--out", "n.json")
        assert (code, out) == (2, "") and words in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "n.json").exists()
