"""``bpstudio train``'s stop conditions: ``--until-loss``, ``--epochs``, ``--plateau``. Each run is checked against
the same run without the condition (its metrics say where the condition is first met) or against the data's size."""

import csv

import pytest

from bpstudio.cli.common import load_data, load_network
from bpstudio.core.session import Session
from tests.cli.running import assert_one_line_error, run


def losses(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def full_run(capsys, tmp_path, *argv):
    """The per-step losses of the run without a stop condition."""
    metrics = tmp_path / "full.csv"
    code, _, err = run(capsys, "train", *argv, "--metrics", metrics, "--quiet")
    assert (code, err) == (0, "")
    return losses(metrics)


def test_until_loss_stops_at_the_first_step_at_or_below_the_target(capsys, tmp_path):
    reference = full_run(capsys, tmp_path, "mazur", "--steps", 2000)
    target = 0.01
    first = next(i + 1 for i, loss in enumerate(reference) if loss <= target)
    assert 1 < first < 2000  # (the target is reached inside the run, not at its ends)
    metrics = tmp_path / "m.csv"
    code, out, err = run(capsys, "train", "mazur", "--steps", 2000, "--until-loss", target, "--metrics", metrics)
    assert (code, err) == (0, "")
    assert losses(metrics) == reference[:first]
    assert out.splitlines()[-1] == f"stopped: loss {reference[first - 1]:.3g} reached the target 0.01 at step {first}"
    assert out.splitlines()[-2] == f"wrote {metrics}: {first} steps"
    assert out.splitlines()[-3] == f"step {first}: loss {reference[first - 1]:.9g}"


def test_a_target_never_reached_runs_all_the_steps_and_says_nothing_of_it(capsys, tmp_path):
    metrics = tmp_path / "m.csv"
    code, out, _ = run(capsys, "train", "mazur", "--steps", 5, "--until-loss", 1e-9, "--metrics", metrics)
    assert code == 0 and len(losses(metrics)) == 5 and "stopped" not in out


def test_epochs_alone_train_that_many_passes(capsys, tmp_path):
    spec, base = load_network("xor")
    passes = Session(spec, load_data(spec, "xor:n=64", base), batch_size=16).steps_per_epoch
    metrics = tmp_path / "m.csv"
    argv = ("train", "xor", "--data", "xor:n=64", "--batch-size", 16, "--epochs", 3, "--metrics", metrics)
    code, out, err = run(capsys, *argv)
    assert (code, err) == (0, "")
    assert len(losses(metrics)) == 3 * passes == 12  # (64 samples in batches of 16)
    assert out.splitlines()[-1] == "stopped: 3 epochs done at step 12"
    # --steps still caps the run
    code, out, _ = run(capsys, *argv, "--steps", 5)
    assert code == 0 and len(losses(metrics)) == 5 and "stopped" not in out


def test_a_plateau_stops_a_run_that_has_stopped_learning(capsys, tmp_path):
    reference = full_run(capsys, tmp_path, "mazur", "--steps", 3000)
    window, fraction = 50, 0.05  # (Mazur's loss keeps falling a few % every 50 steps: it never stalls at 1 %)
    best = [min(reference[: i + 1]) for i in range(len(reference))]
    first = next(i + 1 for i in range(window, len(best)) if best[i - window] - best[i] <= fraction * best[i - window])
    assert first < 3000
    metrics = tmp_path / "m.csv"
    argv = ("train", "mazur", "--steps", 3000, "--plateau", window)
    code, out, err = run(capsys, *argv, "--plateau-fraction", fraction, "--metrics", metrics)
    assert (code, err) == (0, "")
    assert len(losses(metrics)) == first
    assert out.splitlines()[-1].startswith("stopped: plateau, the best loss")
    assert out.splitlines()[-1].endswith(f"by less than 5 % over the last {window} steps, at step {first}")
    # with the default 1 % it is still learning at the end
    code, out, _ = run(capsys, *argv)
    assert "stopped" not in out
    # a larger fraction stops it sooner
    code, out, _ = run(capsys, *argv, "--plateau-fraction", 0.2)
    assert int(out.splitlines()[-1].rsplit(" ", 1)[1]) < first


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--until-loss", 0.1), "give --steps N or --epochs N"),
        (("--steps", 10, "--epochs", 0), "--epochs must be 1 or more"),
        (("--steps", 10, "--plateau", 0), "--plateau must be 1 or more"),
        (("--steps", 10, "--until-loss", -1), "--until-loss must be a number 0 or more"),
        (("--steps", 10, "--until-loss", "nan"), "--until-loss must be a number 0 or more"),
        (("--steps", 10, "--plateau", 5, "--plateau-fraction", 1.5), "--plateau-fraction must be in"),
    ],
)
def test_bad_stop_options_are_refused_in_one_line(capsys, argv, said):
    code, out, err = run(capsys, "train", "mazur", *argv)
    assert code == 2 and out == ""
    assert said in assert_one_line_error(err)
