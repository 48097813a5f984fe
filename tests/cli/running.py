"""Running the command line in-process, as the CLI tests do, and its error contract."""

import re

from bpstudio.cli import main


def run(capsys, *argv):
    """``main(argv)`` in-process: (exit status, stdout, stderr). argparse errors exit via SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, prefix=r"bpstudio: error: "):
    """The one line of a command-line error (no traceback), checked to start with ``prefix``."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert re.match(prefix, lines[0]), lines[0]
    return lines[0]
