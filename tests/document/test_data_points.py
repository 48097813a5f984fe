"""Points added and removed by hand, without Qt: one undoable entry each, the session trains on them at once
(also between the worker's chunks), refusals change nothing, and a saved file keeps them."""

import numpy as np
import pytest

from bpstudio.core.datasets import resolve_split
from bpstudio.core.io import spec_io
from bpstudio.document import Document
from tests.helpers import network


@pytest.fixture
def doc():
    d = Document()
    d.load_preset("xor")
    d.messages = []
    d.refused.connect(d.messages.append)
    return d


def assert_same_data(a, b):
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.Y, b.Y)


def test_an_added_point_is_one_undoable_entry_and_the_session_trains_on_it(doc):
    source, train, test = doc.spec.data, doc.train_data, doc.test_data
    assert doc.points.add((0.5, -0.25), 1)
    assert len(doc.train_data) == len(train) + 1
    assert doc.train_data.X[-1].tolist() == [0.5, -0.25] and doc.train_data.Y[-1] == 1
    np.testing.assert_array_equal(doc.train_data.X[:-1], train.X)
    assert_same_data(doc.test_data, test)  # the test points stay as they were
    assert doc.session.data is doc.train_data and doc.dirty
    assert doc.undo_stack.text(0) == "Add class 1 point at (0.5, -0.25)"
    doc.full_step()  # a full-batch step: every training point, the new one too
    assert len(doc.trace.x) == len(train) + 1
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.spec.data == source and doc.session.data is doc.train_data
    assert_same_data(doc.train_data, train)
    doc.undo_stack.redo()
    assert len(doc.train_data) == len(train) + 1 and doc.train_data.Y[-1] == 1


def test_a_right_click_removes_the_nearest_point_within_reach(doc):
    train = doc.train_data
    target = train.X[7]
    pixel = (0.01, 0.01)
    assert doc.points.remove_near(target + 0.03, pixel, with_test=False)  # ~4 px away
    assert len(doc.train_data) == len(train) - 1
    np.testing.assert_array_equal(doc.train_data.X, np.delete(train.X, 7, axis=0))
    assert doc.undo_stack.text(0).startswith(f"Remove class {train.Y[7]} point at (")
    assert not doc.points.remove_near((50.0, 50.0), pixel)  # nothing near: refused, nothing changed
    assert doc.messages == ["no point within 12 pixels of the click to remove"] and doc.undo_stack.count() == 1
    test = doc.test_data
    assert doc.points.remove_near(test.X[0], pixel, with_test=True)
    assert len(doc.test_data) == len(test) - 1 and doc.undo_stack.text(1).startswith("Remove test class")
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert_same_data(doc.train_data, train)
    assert_same_data(doc.test_data, test)


def test_a_class_the_network_cannot_output_is_refused_and_changes_nothing(doc):
    source = doc.spec.data
    assert not doc.points.add((0.0, 0.0), 2)  # one sigmoid output: classes 0 and 1 only
    assert doc.messages == [
        "inline: has 3 classes but the output layer has 1 unit; give it 3 units, one per class (with the "
        "cross_entropy loss), or train on data with 2 classes"
    ]
    assert doc.spec.data == source and doc.undo_stack.count() == 0 and doc.session.data is doc.train_data


def test_wide_data_refuses_clicked_points_and_says_why(doc):
    doc.load_preset("mazur")  # two inputs but two target columns
    assert not doc.points.add((0.0, 0.0), 1.0)
    assert "this data has 2 target columns" in doc.messages[-1] and doc.undo_stack.count() == 0


def test_while_training_a_point_goes_in_between_chunks_and_the_history_keeps_the_order(doc):
    doc.set_batch_size(None)
    n = len(doc.train_data)
    doc.set_training(True)
    for _ in range(3):  # a chunk of the worker's, under the lock
        with doc.lock:
            doc.session.step()
    assert doc.points.add((0.9, 0.9), 0)
    with doc.lock:
        trace = doc.session.step()  # the next chunk trains on the new data
    assert len(trace.x) == n + 1 and trace.x[-1].tolist() == [0.9, 0.9]
    doc.set_training(False)
    texts = [doc.undo_stack.text(i) for i in range(doc.undo_stack.count())]
    assert texts == ["Train 3 steps", "Add class 0 point at (0.9, 0.9)", "Train 1 step"]
    doc.undo_stack.undo()
    assert doc.session.step_count == 3 and len(doc.train_data) == n + 1
    doc.undo_stack.undo()
    assert doc.session.step_count == 3 and len(doc.train_data) == n


def test_reset_keeps_the_points_and_a_saved_file_holds_them(doc, tmp_path):
    doc.points.add((0.5, 0.5), 0)
    doc.full_step()
    edited_train, edited_test = doc.train_data, doc.test_data
    doc.reset_training()
    assert doc.session.step_count == 0
    assert_same_data(doc.train_data, edited_train)
    path = tmp_path / "edited.json"
    doc.save(str(path))
    again = Document()
    again.open_file(str(path))
    assert_same_data(again.train_data, edited_train)
    assert_same_data(again.test_data, edited_test)
    train, test = resolve_split(again.spec.data)  # (the file says it, not the document's memory)
    assert_same_data(train, edited_train)
    assert_same_data(test, edited_test)


def regression_doc(tmp_path, inputs, data):
    """A document with a linear net of ``inputs`` inputs on regression ``data``, opened from its file."""
    spec = network(
        [
            {"id": "x", "type": "input", "units": inputs},
            {"id": "y", "type": "dense", "inputs": ["x"], "units": 1, "activation": "identity"},
        ],
        "y",
        data=data,
    )
    path = tmp_path / "net.json"
    spec_io.save(spec, path)
    d = Document()
    d.open_file(str(path))
    return d


def test_regression_points_take_the_clicked_height_for_one_input_and_the_picked_value_for_two(tmp_path):
    sine = regression_doc(tmp_path, 1, {"builtin": "sine", "n": 30})
    assert sine.points.add((0.5, 0.8))  # the plot shows the target upwards: the click's height is it
    assert sine.train_data.X[-1].tolist() == [0.5] and sine.train_data.Y[-1].tolist() == [0.8]
    assert sine.undo_stack.text(0) == "Add point at (0.5, 0.8)"
    flat = regression_doc(tmp_path, 2, {"builtin": "plane", "n": 30})
    assert flat.points.add((0.1, -0.2), 1.5)
    assert flat.train_data.X[-1].tolist() == [0.1, -0.2] and flat.train_data.Y[-1].tolist() == [1.5]
    assert flat.undo_stack.text(0) == "Add point at (0.1, -0.2) → 1.5"
