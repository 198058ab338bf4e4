"""Shared test helpers: the CLI run in-process (fast) or as a real process (end to end).

`perfmodel(*args)` calls `perfmodel.cli.main(argv)` in this process with stdout/stderr captured and
every warning shown; `perfmodel_process(*args)` runs `python -m perfmodel` for the few tests that
must see a whole process (start-up imports, exit codes through the interpreter).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """What a CLI run left: exit status and the text it printed (as subprocess.CompletedProcess has)."""

    returncode: int
    stdout: str
    stderr: str


def perfmodel(*args, cwd=None) -> Result:
    """Run the CLI in-process, as `python -m perfmodel ARGS` would, and capture its output."""
    from perfmodel.cli import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("always")
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse: --help, usage errors
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(here)
    return Result(code, out.getvalue(), err.getvalue())


def perfmodel_process(*args, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m perfmodel ARGS` as its own process."""
    return subprocess.run([sys.executable, "-m", "perfmodel", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def assert_one_line_error(result, *fragments: str) -> None:
    """A failed run that printed exactly one line, `perfmodel: error: ...`, holding every fragment."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("perfmodel: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
