"""Hostile and oversized files are refused with one line naming the file and the field, before anything big is
allocated (the limits in bpstudio.core.limits, documented in docs/file-format.md)."""

from __future__ import annotations

import copy
import json
import tracemalloc

import numpy as np
import pytest

from bpstudio.core import limits
from bpstudio.core.data import Dataset
from bpstudio.core.datasets import load_file, resolve
from bpstudio.core.errors import BpstudioError, DataError, SessionError, SpecError
from bpstudio.core.io import presets, session_io, spec_io
from bpstudio.core.record.history import TrainingHistory
from tests.hostile_files import HUGE_INT_TEXT, _npz, _npz_claiming, _session_tree, _zip_bomb

MiB = 2**20


def xor_tree():
    return json.loads(presets.path("xor").read_text(encoding="utf-8"))


def write_json(path, tree):
    path.write_text(json.dumps(tree), encoding="utf-8")
    return path


def refused(load, path, error=BpstudioError):
    """The one-line message ``load(path)`` refuses the file with, and the most memory it took on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(error) as info:
            load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message
    return message, peak


# --- JSON that Python cannot read as it is ----------------------------------------------------------------


@pytest.mark.parametrize("depth", [200, 5000, 100_000])
def test_json_nested_thousands_deep_is_refused(tmp_path, depth):
    path = tmp_path / "deep.json"
    path.write_text("[" * depth + "]" * depth, encoding="utf-8")
    message, _ = refused(spec_io.load, path, SpecError)
    assert f"nested more than {limits.MAX_DEPTH} levels deep" in message
    message, _ = refused(session_io.load, path, SessionError)
    assert "nested more than" in message


def test_an_integer_of_thousands_of_digits_in_a_session_is_refused(tmp_path):
    text = json.dumps(_session_tree()).replace('"step": 3', f'"step": {HUGE_INT_TEXT}')
    assert HUGE_INT_TEXT in text
    path = tmp_path / "session.json"
    path.write_text(text, encoding="utf-8")
    message, _ = refused(session_io.load, path, SessionError)
    assert "an integer literal with thousands of digits" in message


# --- sizes checked before allocating ----------------------------------------------------------------------


@pytest.mark.parametrize("units", [10**6, 10**30])
def test_a_layer_of_a_million_units_or_more_is_refused(tmp_path, units):
    tree = xor_tree()
    tree["layers"][1]["units"] = units
    message, peak = refused(spec_io.load, write_json(tmp_path / "wide.json", tree), SpecError)
    assert f"layer 'h', field 'units': {units} units is more than a layer may have (100,000)" in message
    assert peak < 10 * MiB


def test_a_network_of_too_many_parameters_is_refused_naming_the_layer(tmp_path):
    tree = xor_tree()
    tree["layers"][0]["units"] = tree["layers"][1]["units"] = 90_000  # each allowed, together 8.1e9 weights
    message, _ = refused(spec_io.load, write_json(tmp_path / "big.json", tree), SpecError)
    assert "layer 'h', field 'units': the network would have over 20,000,000 weights and biases" in message


@pytest.mark.parametrize("n", [10**7, 10**9])
def test_built_in_data_of_ten_million_samples_or_more_is_refused(n):
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=f"xor: option 'n' is {n}; a data set holds at most 1,000,000 samples"):
            resolve({"builtin": "xor", "n": n})
        assert tracemalloc.get_traced_memory()[1] < 10 * MiB
    finally:
        tracemalloc.stop()


def test_a_history_capacity_of_a_billion_is_refused_without_allocating():
    saved = _session_tree()["history"]
    saved["capacity"] = 10**9
    tracemalloc.start()
    try:
        with pytest.raises(SessionError, match="history capacity 1,000,000,000 is more than the most kept"):
            TrainingHistory.from_dict(saved)
        assert tracemalloc.get_traced_memory()[1] < 10 * MiB
    finally:
        tracemalloc.stop()


def test_a_session_with_an_oversized_history_opens_with_an_empty_one(tmp_path):
    tree = _session_tree()
    tree["history"]["capacity"] = 10**9
    saved = session_io.load(write_json(tmp_path / "s.json", tree))
    _, history, notes = session_io.restore(saved, resolve(dict(saved.spec.data)))
    assert history.capacity == TrainingHistory().capacity
    assert any("plot history could not be read" in note and "1,000,000,000" in note for note in notes)


def test_an_npz_whose_header_claims_a_billion_rows_is_refused_from_its_header(tmp_path):
    path = tmp_path / "rows.npz"
    path.write_bytes(_npz_claiming(10**9))
    message, peak = refused(load_file, path, DataError)
    assert "array X claims 1,000,000,000 rows; a data set holds at most 1,000,000 samples" in message
    assert peak < 10 * MiB


def test_an_npz_whose_header_claims_more_than_it_holds_is_called_damaged(tmp_path):
    path = tmp_path / "short.npz"
    path.write_bytes(_npz_claiming(1000))
    message, _ = refused(load_file, path, DataError)
    assert "array X is damaged: its header claims shape (1000, 2) but the file holds less" in message


def test_a_zip_bombed_npz_is_refused_from_the_zip_directory(tmp_path):
    path = tmp_path / "bomb.npz"
    path.write_bytes(_zip_bomb(limits.MAX_DATA_FILE_BYTES + 64 * MiB))
    assert path.stat().st_size < 5 * MiB
    message, peak = refused(load_file, path, DataError)
    assert "array X inflates to 576 MiB; the most read is 512 MiB" in message
    assert peak < 10 * MiB


def test_class_labels_become_one_hot_rows_without_a_k_by_k_identity():
    labels = np.array([0, 4999, 17, 17, 2500])
    data = Dataset(np.zeros((5, 2)), labels)
    tracemalloc.start()
    try:
        rows = data.targets_for("mse", 5000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = np.zeros((5, 5000))
    for i, label in enumerate(labels):
        expected[i, label] = 1.0
    assert np.array_equal(rows, expected)
    assert peak < 3 * expected.nbytes  # an identity would be 5000² numbers (200 MB)


# --- layer ids and names that would break a message, a file or the timeline ----------------------------------


@pytest.mark.parametrize(
    ("layer_id", "problem"),
    [
        ("h\nx", "holds the control character '\\n'"),
        ("h\ud800", "holds a lone surrogate"),
        ("h" * 70_000, "is 70000 characters long; the most is 100"),
        ("h|x", "holds '|', which bpstudio keeps for joining names"),
    ],
)
def test_layer_ids_that_do_not_work_everywhere_are_refused_at_load(tmp_path, layer_id, problem):
    tree = xor_tree()
    tree["layers"][1]["id"] = layer_id
    tree["layers"][2]["inputs"] = [layer_id]
    path = tmp_path / "ids.json"
    path.write_text(json.dumps(tree), encoding="utf-8")  # (ASCII JSON: the surrogate as an escape)
    message, _ = refused(spec_io.load, path, SpecError)
    assert "field 'id': the id " in message and problem in message
    assert len(message) < len(str(path)) + 250


def test_a_name_with_a_nul_byte_is_refused_at_load(tmp_path):
    tree = xor_tree()
    tree["name"] = "XOR\x00net"
    message, _ = refused(spec_io.load, write_json(tmp_path / "nul.json", tree), SpecError)
    assert "field 'name': the name 'XOR\\x00net' holds the control character '\\x00'" in message


def test_an_unknown_name_with_a_newline_is_quoted_on_one_line(tmp_path):
    tree = xor_tree()
    tree["layers"][1]["activation"] = "tan\nh"
    message, _ = refused(spec_io.load, write_json(tmp_path / "act.json", tree), SpecError)
    assert "unknown activation 'tan\\nh'" in message


def test_a_long_bad_value_is_cut_to_about_a_hundred_characters(tmp_path):
    tree = xor_tree()
    tree["layers"][1]["units"] = "y" * 70_000
    message, _ = refused(spec_io.load, write_json(tmp_path / "long.json", tree), SpecError)
    assert "field 'units': must be a positive integer, got 'yyyy" in message
    assert len(message) < len(str(tmp_path / "long.json")) + 200


# --- data files --------------------------------------------------------------------------------------------


def test_a_data_file_name_of_300_characters_is_refused_in_one_line(tmp_path):
    name = "d" * 300 + ".csv"
    with pytest.raises(DataError) as info:
        resolve({"file": name}, base_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("data file 'dddd")
    assert "File name too long" in message or "not found" in message  # (Python 3.12 on: not found)
    assert len(message) < 250


def test_a_csv_class_label_of_1e20_is_refused_naming_line_and_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("x1,x2,label\n0.1,0.2,1\n0.3,0.4,1e20\n", encoding="utf-8")
    message, _ = refused(load_file, path, DataError)
    assert "line 3, column 'label': class label '1e20' is too large; labels go up to 99,999" in message


def test_an_npz_with_zero_rows_is_refused(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(_npz(X=np.zeros((0, 2)), Y=np.zeros(0, dtype=np.int64)))
    message, _ = refused(load_file, path, DataError)
    assert "holds no samples (X and Y have 0 rows)" in message


# --- sessions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [["numpy"], {"name": "numpy"}, 3])
def test_a_session_whose_backend_is_not_a_name_is_refused(tmp_path, value):
    tree = copy.deepcopy(_session_tree())
    tree["training"]["backend"] = value
    message, _ = refused(session_io.load, write_json(tmp_path / "s.json", tree), SessionError)
    assert "'training.backend' must be one of numpy, torch, got" in message


def test_brief_describes_what_repr_cannot_write():
    assert limits.brief(10**5000) == "an integer of about 5001 digits"
    nested: list = []
    for _ in range(5000):
        nested = [nested]
    assert limits.brief(nested) == "[[[[...]]]]"
    assert len(limits.brief("x" * 10_000)) <= limits.SHOWN + 5
