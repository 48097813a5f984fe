"""``bpstudio predict NET --data DATA --out OUT.npz``: the network's outputs in evaluation mode under the key 'y'."""

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import resolve, save_csv
from bpstudio.core.io import presets
from bpstudio.core.session import Session
from tests.cli.running import assert_one_line_error, run


def engine_outputs(spec, X):
    """The reference: a session's evaluation-mode outputs (batchnorm on its running statistics, no dropout)."""
    return Session(spec, Dataset(X, np.zeros(len(X), dtype=np.int64))).predict(X)


def test_predict_writes_the_outputs_in_evaluation_mode(capsys, tmp_path):
    # a batchnorm net with running statistics of its own and a dropout net: evaluation mode differs from training
    for name in ("deep_sigmoid_batchnorm", "dropout"):
        spec = presets.load(name)
        out = tmp_path / f"{name}.npz"
        code, stdout, err = run(capsys, "predict", name, "--out", out)
        assert code == 0, err
        X = resolve(dict(spec.data), presets.path(name).parent).X  # every sample of the file's own data
        with np.load(out) as saved:
            assert saved.files == ["y"]
            np.testing.assert_allclose(saved["y"], engine_outputs(spec, X), rtol=1e-12, atol=1e-12)
        assert stdout == f"wrote {out}: y, {len(X)} samples × {spec.widths[spec.output]} outputs (evaluation mode)\n"


def test_predict_on_a_built_in_set_and_on_files_without_targets(capsys, tmp_path):
    spec = presets.load("spiral")
    data = resolve("spirals:n=50,classes=3")
    code, _, err = run(capsys, "predict", "spiral", "--data", "spirals:n=50,classes=3", "--out", tmp_path / "a.npz")
    assert code == 0, err
    expected = engine_outputs(spec, data.X)
    np.testing.assert_allclose(np.load(tmp_path / "a.npz")["y"], expected, rtol=1e-12)
    np.savez(tmp_path / "x.npz", X=data.X)  # inputs alone
    save_csv(data, tmp_path / "full.csv")
    header, *rows = (tmp_path / "full.csv").read_text().splitlines()
    keep = [i for i, name in enumerate(header.split(",")) if name.startswith("x")]
    (tmp_path / "x.csv").write_text(
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in [header, *rows]) + "\n"
    )
    for source in ("x.npz", "x.csv", "full.csv"):
        code, _, err = run(capsys, "predict", "spiral", "--data", tmp_path / source, "--out", tmp_path / "b.npz")
        assert code == 0, (source, err)
        np.testing.assert_allclose(np.load(tmp_path / "b.npz")["y"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "data, expected",
    [
        ("xor", "xor: has 2 input columns but the network's input layer has 64 units"),
        ("no-such.npz", "data file 'no-such.npz' not found"),
    ],
)
def test_inputs_that_do_not_fit_are_refused(capsys, tmp_path, data, expected):
    code, out, err = run(capsys, "predict", "digits", "--data", data, "--out", tmp_path / "y.npz")
    assert (code, out) == (2, "")
    assert expected in assert_one_line_error(err)
    assert not (tmp_path / "y.npz").exists()
