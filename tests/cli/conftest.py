"""Fixtures for the CLI tests: the Mazur net and its one sample written as files in tmp_path."""

import csv
import json

import pytest

from tests.helpers import MAZUR


@pytest.fixture
def mazur_files(tmp_path):
    """(network JSON path, data CSV path): Mazur's 2-2-2 net and its sample (x1, x2 → y1, y2)."""
    net = tmp_path / "mazur.json"
    net.write_text(json.dumps(MAZUR), encoding="utf-8")
    data = tmp_path / "mazur.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["x1", "x2", "y1", "y2"])
        writer.writerow([0.05, 0.10, 0.01, 0.99])
    return net, data
