"""Fuzzed and hand-picked hostile files through the command line and the app's document: every one ends in
success or one clear line (exit 2), never a traceback (bench/fuzz_files.py runs the bigger campaign)."""

from __future__ import annotations

import collections
import json
import subprocess
import sys

import pytest

from bpstudio.core.io import presets
from tests.cli.running import assert_one_line_error, run
from tests.helpers import needs_torch, optional_torch
from tests.hostile_files import listed_data, listed_networks, listed_sessions, make_cases
from tests.hostile_runs import DEFECTS, run_all

torch = optional_torch()


def test_fuzzed_files_end_in_success_or_one_clear_line():
    cases = make_cases(seed=14, networks=40, data=30, sessions=20, bomb=576 * 2**20)
    results = run_all(cases)
    verdicts = collections.Counter(o.verdict for _, outcomes in results for o in outcomes)
    defects = [
        f"{case.kind} {case.name} ({case.note}) via {o.runner}: {o.verdict}: {o.detail[:200]}"
        for case, outcomes in results
        for o in outcomes
        if o.verdict in DEFECTS
    ]
    assert not defects, "\n".join(defects)
    assert verdicts["refused"] > 100 and verdicts["ok"] > 10  # (the mutations reach both sides)


@pytest.mark.parametrize(
    "case", listed_networks() + listed_data(bomb=576 * 2**20) + listed_sessions(), ids=lambda case: case.note
)
def test_each_listed_hostile_file_is_refused_in_one_line_naming_the_file(case):
    [(_, outcomes)] = run_all([case])
    for outcome in outcomes:
        assert outcome.verdict in ("ok", "refused"), outcome
        if outcome.verdict == "refused":
            assert case.name[:50] in outcome.detail or outcome.runner == "document" and "data" in outcome.detail


def xor_with(tmp_path, **changes):
    tree = json.loads(presets.path("xor").read_text(encoding="utf-8"))
    tree.update(changes)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(tree), encoding="utf-8")
    return path


def test_export_of_a_network_named_with_a_nul_byte_is_refused_in_one_line(capsys, tmp_path):
    path = xor_with(tmp_path, name="XOR\x00net")
    code, out, err = run(capsys, "export", path, "--torch", tmp_path / "net.py")
    line = assert_one_line_error(err)
    assert code == 2 and out == ""
    assert f"{path}: field 'name': the name 'XOR\\x00net' holds the control character '\\x00'" in line
    assert not (tmp_path / "net.py").exists()


def test_the_exported_script_quotes_any_name_as_python_can_read_it():
    from bpstudio.core.io.torch_script_parts import text

    for name in ("XOR\x00net", 'a"""\nimport os', "back\\slash", "lone \ud800"):
        shown = text(name)
        compile(f'"""{shown}"""\n', "script.py", "exec")
        assert shown.isprintable() and "\n" not in shown
        shown.encode("utf-8")


@needs_torch
def test_torchs_weights_only_refusal_is_kept_whole(capsys, tmp_path):
    path = tmp_path / "model.pt"
    script = (
        "import collections, sys, torch\n"
        "class Thing: pass\n"
        "torch.save({'h.weight': torch.zeros(4, 2), 'extra': collections.UserDict(a=Thing())}, sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    code, out, err = run(capsys, "import", presets.path("xor"), "--state-dict", path, "--out", tmp_path / "out.json")
    line = assert_one_line_error(err)
    assert code == 2
    assert "it holds Python objects besides tensors (a whole model saved with torch.save(model)?)" in line
    assert "which bpstudio does not load: save model.state_dict() instead" in line
    assert (
        "but it can result in arbitrary code execution. Do it only if you got the file from a trusted source." in line
    )
    assert "\x1b" not in line
