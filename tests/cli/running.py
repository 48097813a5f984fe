"""Running the command line in-process, as the CLI tests do."""

from bpstudio.cli import main


def run(capsys, *argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr). argparse errors exit via SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
