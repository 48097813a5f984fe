"""``bpstudio export`` and ``bpstudio import``: a PyTorch script out, a state_dict's weights back in.

The exported script is run (in this process, for speed: its ``main()``), and its numbers are checked
against Mazur's published figures and the built-in data set's own arrays, not against the export alone.
"""

import json

import numpy as np
import pytest

from bpstudio.core.datasets import make_toy
from bpstudio.core.io import spec_io
from tests.cli.running import run
from tests.helpers import MAZUR, needs_torch, optional_torch, run_script

torch = optional_torch()


@needs_torch
def test_export_writes_a_script_that_reproduces_mazurs_numbers(capsys, tmp_path, mazur_files):
    net, data = mazur_files
    code, out, err = run(capsys, "export", net, "--torch", tmp_path / "mazur.py", "--data", data)
    assert (code, err) == (0, "") and out == f"wrote {tmp_path / 'mazur.py'}\n"
    run_script(tmp_path / "mazur.py", "--check", tmp_path / "out.npz")
    with np.load(tmp_path / "out.npz") as result:
        assert float(result["loss"]) == pytest.approx(0.298371109, abs=1e-9)
        assert result["output"][0, 0] == pytest.approx(0.75136507, abs=1e-8)  # out_o1 in Mazur's text
        assert result["grad/o.weight"][0, 0] == pytest.approx(0.082167041, abs=1e-9)
        assert result["grad/h.weight"][0, 0] == pytest.approx(0.000438568, abs=1e-9)


@needs_torch
def test_export_takes_data_batch_size_and_steps_from_the_command_line(capsys, tmp_path):
    code, _, err = run(
        capsys,
        "export",
        "xor",
        "--torch",
        tmp_path / "x.py",
        "--data",
        "xor:n=40,seed=3",
        "--batch-size",
        8,
        "--steps",
        25,
    )
    assert (code, err) == (0, "")
    namespace = run_script(tmp_path / "x.py", "--steps", 0)
    expected = make_toy("xor", n=40, seed=3)
    np.testing.assert_array_equal(np.array(namespace["X"]), expected.X)
    np.testing.assert_array_equal(np.array(namespace["T"])[:, 0], expected.Y)
    assert (namespace["BATCH_SIZE"], namespace["STEPS"], namespace["SHUFFLE_SEED"]) == (8, 25, 1)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["nothere.json", "--torch", "{tmp}/a.py"], "network file 'nothere.json' not found"),
        (["xor", "--torch", "{tmp}/no/a.py"], "folder '{tmp}/no' does not exist"),
        (["xor", "--torch", "{tmp}/a.py", "--steps", "-1"], "--steps must be 0 or more"),
        (["xor", "--torch", "{tmp}/a.py", "--data", "nothing.csv"], "data file 'nothing.csv' not found"),
        (
            ["xor", "--torch", "{tmp}/a.py", "--data", "spirals:classes=3"],
            "has 3 classes but the output layer has 1 unit",
        ),
    ],
)
def test_export_refuses_bad_input_in_one_line(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, "export", *[a.format(tmp=tmp_path) for a in argv])
    assert code == 2 and out == ""
    assert err.startswith("bpstudio: error: ") and message.format(tmp=tmp_path) in err and err.count("\n") == 1
    assert not (tmp_path / "a.py").exists()


def test_export_needs_an_output(capsys):
    code, _, err = run(capsys, "export", "xor")
    assert code == 2 and "--torch" in err


@needs_torch
def test_weights_trained_by_the_script_come_back_with_import(capsys, tmp_path):
    run(capsys, "export", "xor", "--torch", tmp_path / "x.py")
    run_script(tmp_path / "x.py", "--steps", 5, "--save-state", tmp_path / "w.pt")
    code, out, err = run(capsys, "import", "xor", "--state-dict", tmp_path / "w.pt", "--out", tmp_path / "x2.json")
    assert (code, err) == (0, "") and "4 parameters (17 numbers)" in out
    saved = torch.load(tmp_path / "w.pt", weights_only=True)
    spec = spec_io.load(tmp_path / "x2.json")
    np.testing.assert_array_equal(spec.layer("h").weight, saved["h.weight"].numpy())
    np.testing.assert_array_equal(spec.layer("y").bias, saved["y.bias"].numpy())
    assert spec.layer("h").activation == "tanh" and spec.data["builtin"] == "xor"  # the rest is kept


@needs_torch
def test_import_refuses_weights_that_do_not_fit_and_writes_nothing(capsys, tmp_path):
    torch.save({"h.weight": torch.zeros(4, 2), "h.bias": torch.zeros(4)}, tmp_path / "w.pt")
    net = tmp_path / "mazur.json"
    net.write_text(json.dumps(MAZUR), encoding="utf-8")
    code, _, err = run(capsys, "import", net, "--state-dict", tmp_path / "w.pt", "--out", tmp_path / "m2.json")
    assert code == 2 and err.count("\n") == 1
    assert "'h.weight' has shape 4×2 but 'h.weight' needs 2×2" in err and "missing key 'o.weight'" in err
    assert not (tmp_path / "m2.json").exists()
    code, _, err = run(capsys, "import", net, "--state-dict", tmp_path / "none.pt", "--out", tmp_path / "m2.json")
    assert code == 2 and "state_dict file" in err and "not found" in err
