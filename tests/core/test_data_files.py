"""Data files (.csv/.npz) and data sources: round trips, refused files, resolving and splitting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bpstudio.core.data import Dataset
from bpstudio.core.datasets import (
    load_csv,
    load_file,
    load_npz,
    moons,
    plane,
    resolve,
    resolve_split,
    save_csv,
    save_npz,
    spirals,
    xor,
)
from tests.core.data_builders import raises, same_bits, write

# --- files: round trips -------------------------------------------------------------------------------

TRICKY = np.array([[0.1, 1 / 3], [-0.0, 1e-300], [123456789.123456789, -2.5e17], [np.pi, -np.e]])


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_round_trip_targets_is_bit_exact(tmp_path, suffix):
    data = Dataset(TRICKY, np.array([[0.7], [2.0], [-1e-5], [3.0]]), "tricky")
    path = tmp_path / f"d{suffix}"
    (save_csv if suffix == ".csv" else save_npz)(data, path)
    back = load_file(path)
    assert same_bits(back.X, data.X) and same_bits(back.Y, data.Y)
    assert back.name == f"d{suffix}"


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_round_trip_labels_is_exact(tmp_path, suffix):
    data = spirals(n=50, classes=3)
    path = tmp_path / f"s{suffix}"
    (save_csv if suffix == ".csv" else save_npz)(data, path)
    back = load_file(path)
    assert same_bits(back.X, data.X) and same_bits(back.Y, data.Y)


def test_save_csv_writes_label_column_and_npz_keeps_exact_name(tmp_path):
    save_csv(xor(n=3), tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text().splitlines()[0] == "x1,x2,label"
    save_npz(xor(n=3), tmp_path / "plain")
    assert (tmp_path / "plain").is_file() and not (tmp_path / "plain.npz").exists()


def test_csv_columns_and_label_column(tmp_path):
    data = load_csv(write(tmp_path / "a.csv", "x, label ,xb\n1,0,2\n3,2,4\n\n"))
    assert data.X.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert data.Y.tolist() == [0, 2] and data.Y.dtype == np.int64


def test_csv_y_label_column_is_labels(tmp_path):
    assert load_csv(write(tmp_path / "a.csv", "x1,y_label\n0.5,1\n0.25,0\n")).is_classification


def test_csv_whole_number_targets_stay_float(tmp_path):
    data = load_csv(write(tmp_path / "a.csv", "x1,y\n0.5,1\n0.25,0\n"))
    assert data.Y.shape == (2, 1) and data.Y.dtype == np.float64


# --- files: refused files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("1,2,3\n4,5,6\n", "line 1 holds numbers, not a header"),
        ("y1,y2\n1,2\n", "no input columns (their names must start with 'x'"),
        ("x1,x2\n1,2\n", "no target columns (their names must start with 'y'"),
        ("x1,name,y,z\n1,a,2,3\n", "unexpected column 'name', 'z'"),
        ("x1,,y\n1,2,3\n", "unexpected column (unnamed column 2)"),
        ("x1,x1,y\n1,2,3\n", "column 'x1' appears more than once"),
        ("x1,label,y1\n1,0,2\n", "a label column must be the only target column, but the header has label, y1"),
        ("x1,y1\n", "has a header but no data rows"),
        ("x1,x2,y1\n1,2,3\n4,abc,6\n", "line 3, column 'x2': 'abc' is not a number"),
        ("x1,x2,y1\n\n1,2,3\n4, ,6\n", "line 4, column 'x2' is empty"),
        ("x1,y1\n1,nan\n", "line 2, column 'y1' holds 'nan'; every value must be a finite number"),
        ("x1,y1\n1,2\n-inf,3\n", "line 3, column 'x1' holds '-inf'"),
        ("x1,x2,y1\n1,2,3\n4,5\n", "line 3 has 2 cells but the header has 3"),
        ("x1,label\n1,0.5\n", "line 2, column 'label': '0.5' is not a class label"),
        ("x1,label\n1,-1\n", "line 2, column 'label': '-1' is not a class label"),
        ("x1;x2;y1\n0.5;1.5;1\n", "looks semicolon-separated; bpstudio reads comma-separated CSV"),
        ("x1;x2;y1\n0,5;1,5;1\n", "looks semicolon-separated; bpstudio reads comma-separated CSV"),
        ("1;2;3\n4;5;6\n", "looks semicolon-separated"),
        ("x1\tx2\ty1\n0.5\t1.5\t1\n", "looks tab-separated; bpstudio reads comma-separated CSV"),
        ("x1\tlabel\n0.5\t1\n", "looks tab-separated"),
    ],
)
def test_load_csv_refuses(tmp_path, text, message):
    path = write(tmp_path / "bad.csv", text)
    with raises(f"data file '{path}': ") as caught:
        load_csv(path)
    assert message in str(caught.value)


def test_load_csv_refuses_missing_and_non_text(tmp_path):
    with raises(f"data file '{tmp_path / 'none.csv'}' not found"):
        load_csv(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00x")
    with raises("is not UTF-8 text"):
        load_csv(tmp_path / "bin.csv")


def savez(path: Path, **arrays: np.ndarray) -> Path:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.zeros((2, 2)), "Z": np.zeros(2)}, "missing array Y (arrays present: X, Z)"),
        ({"A": np.zeros(2)}, "missing array X and Y (arrays present: A)"),
        ({"X": np.zeros(3), "Y": np.zeros(3)}, "array X must be 2-D (samples × inputs), got shape (3,)"),
        ({"X": np.zeros((2, 1)), "Y": np.zeros((2, 1, 1))}, "array Y must be 2-D (samples × outputs) or 1-D"),
        ({"X": np.array([["a"], ["b"]]), "Y": np.zeros(2)}, "array X must hold real numbers, got dtype <U1"),
        ({"X": np.zeros((2, 1)), "Y": np.array([True, False])}, "array Y must hold real numbers, got dtype bool"),
        ({"X": np.zeros((3, 1)), "Y": np.zeros((2, 1))}, "X has 3 rows but Y has 2"),
        ({"X": np.array([[1.0], [2.0], [np.nan]]), "Y": np.zeros(3)}, "array X has a NaN or infinite value in row 3"),
        ({"X": np.zeros((2, 1)), "Y": np.array([[0.0], [np.inf]])}, "array Y has a NaN or infinite value in row 2"),
        ({"X": np.zeros((2, 1)), "Y": np.array([0.0, 0.5])}, "a 1-D Y holds class labels, but row 2 has 0.5"),
        ({"X": np.zeros((2, 1)), "Y": np.array([0, -2])}, "class labels must be 0 or more, but row 2 has -2"),
    ],
)
def test_load_npz_refuses(tmp_path, arrays, message):
    path = savez(tmp_path / "bad.npz", **arrays)
    with raises(f"data file '{path}': {message}"):
        load_npz(path)


def test_load_npz_refuses_missing_and_non_npz(tmp_path):
    with raises(f"data file '{tmp_path / 'none.npz'}' not found"):
        load_npz(tmp_path / "none.npz")
    with raises("is not an .npz archive"):
        load_npz(write(tmp_path / "text.npz", "x1,y1\n1,2\n"))
    with open(tmp_path / "one.npz", "wb") as f:
        np.save(f, np.zeros(3))
    with raises("is a single .npy array, not an .npz archive"):
        load_npz(tmp_path / "one.npz")
    with raises("array X holds Python objects"):
        load_npz(savez(tmp_path / "obj.npz", X=np.array([None, 1], dtype=object), Y=np.zeros(2)))


def test_load_file_refuses_other_suffixes(tmp_path):
    with raises("unsupported file type (suffix '.txt'); supported: .csv, .npz"):
        load_file(write(tmp_path / "d.txt", "x1,y1\n1,2\n"))


# --- resolving a data source --------------------------------------------------------------------------


def test_resolve_builtin_name_and_options():
    assert same_bits(resolve("moons").X, moons().X)
    data = resolve("spirals: classes=3, n=300,noise=0.2,seed=1")
    expected = spirals(n=300, noise=0.2, seed=1, classes=3)
    assert data.name == "spirals" and same_bits(data.X, expected.X) and same_bits(data.Y, expected.Y)
    assert resolve("circles:factor=0.25,noise=0").X.min() >= -1.0


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("spirals:n=abc", "spirals: option 'n' must be an integer, got 'abc'"),
        ("spirals:noise=lots", "spirals: option 'noise' must be a number, got 'lots'"),
        ("spirals:clases=3", "spirals: unknown option 'clases'"),
        ("spirals:n300", "spirals: option 'n300' must be written as name=value"),
        ("spirals:n=3,n=4", "spirals: option 'n' is given twice"),
        ("spirals:n=-3", "spirals: option 'n' must be a positive integer, got -3"),
        ("x.csv", "data file 'x.csv' not found"),
        ("sub/points", "data file 'sub/points' not found"),
        ("spiral", "data source 'spiral' is not a built-in data set or an existing file"),
        ("", "is not usable"),
        (
            42,
            "data source 42 is not usable; give a built-in name "
            "(blobs, circles, digits, moons, plane, sine, spirals, xor)",
        ),
        ({"builtin": "xor", "clases": 2}, "xor: unknown option 'clases'"),
        ({"builtin": 3}, "'builtin' must be a name"),
        ({"file": "a.csv", "noise": 1}, "unknown key 'noise' next to 'file' (known: file, test_fraction, split_seed)"),
        ({"builtin": "xor", "file": "a.csv"}, "a dict needs exactly one of 'builtin', 'file' or 'X' and 'Y'"),
        ({"data": 1}, "its keys are 'data'"),
        ({"X": [[1.0]]}, "inline data: needs both 'X'"),
        ({"X": [[1.0], [2.0, 3.0]], "Y": [0, 1]}, "inline data: X has rows of different lengths"),
        ({"X": [["a"]], "Y": [0]}, "inline data: X must be a list of numbers"),
        ({"X": [[1.0]], "Y": [True]}, "inline data: Y must be a list of numbers"),
        ({"X": [[1.0], [2.0]], "Y": [0]}, "inline: 2 input rows but 1 target rows"),
    ],
)
def test_resolve_refuses(tmp_path, source, message):
    with raises(message):
        resolve(source, base_dir=tmp_path)


def test_resolve_not_found_says_where_it_looked(tmp_path):
    with raises(f"data file 'x.csv' not found (looked for {tmp_path / 'x.csv'})"):
        resolve({"file": "x.csv"}, base_dir=tmp_path)


def test_resolve_files_relative_to_base_dir(tmp_path, monkeypatch):
    save_csv(plane(n=5), tmp_path / "p.csv")
    assert same_bits(resolve("p.csv", base_dir=tmp_path).Y, plane(n=5).Y)
    assert same_bits(resolve({"file": "p.csv"}, base_dir=tmp_path).Y, plane(n=5).Y)
    assert len(resolve(tmp_path / "p.csv")) == 5
    monkeypatch.chdir(tmp_path)
    assert len(resolve("p.csv")) == 5


def test_resolve_file_named_like_builtin_prefers_existing_file(tmp_path):
    write(tmp_path / "xor", "x1,y1\n1,2\n")
    with raises("unsupported file type (no suffix)"):
        resolve("xor", base_dir=tmp_path)


def test_resolve_dict_builtin_and_inline():
    data = resolve({"builtin": "blobs", "classes": 4, "n": 40, "test_fraction": 0.5})
    assert len(data) == 40 and data.n_classes == 4 and data.name == "blobs"
    labels = resolve({"X": [[0, 1], [1, 0], [1, 1]], "Y": [0, 1, 1]})
    assert labels.name == "inline" and labels.Y.dtype == np.int64 and labels.X.dtype == np.float64
    targets = resolve({"X": [[0.5]], "Y": [[1.0, 2.0]]})
    assert targets.Y.tolist() == [[1.0, 2.0]]


def rows(data: Dataset) -> list[tuple[float, ...]]:
    return sorted(map(tuple, np.column_stack([data.X, data.Y]).tolist()))


def test_resolve_split_sizes_and_disjointness():
    full = spirals(n=200)
    train, test = resolve_split("spirals:test_fraction=0.25,split_seed=7")
    assert test is not None and (len(train), len(test)) == (150, 50)
    assert sorted(rows(train) + rows(test)) == rows(full)
    assert not set(rows(train)) & set(rows(test))
    _, other = resolve_split({"builtin": "spirals", "test_fraction": 0.25, "split_seed": 8})
    assert other is not None and rows(other) != rows(test)


def test_resolve_split_defaults_to_no_test_set(tmp_path):
    assert resolve_split("xor")[1] is None
    assert resolve_split({"builtin": "xor", "n": 10})[1] is None
    save_npz(xor(n=10), tmp_path / "x.npz")
    train, test = resolve_split({"file": "x.npz", "test_fraction": 0.3}, base_dir=tmp_path)
    assert test is not None and (len(train), len(test)) == (7, 3)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("xor:test_fraction=1.5", "option 'test_fraction' must be a number in [0, 1), got 1.5"),
        ({"builtin": "xor", "test_fraction": "half"}, "option 'test_fraction' must be a number in [0, 1)"),
        ("xor:split_seed=0.5", "xor: option 'split_seed' must be an integer, got '0.5'"),
        ({"builtin": "xor", "split_seed": -1}, "option 'split_seed' must be an integer ≥ 0, got -1"),
    ],
)
def test_resolve_split_refuses_bad_split_options(source, message):
    with raises(message):
        resolve_split(source)
