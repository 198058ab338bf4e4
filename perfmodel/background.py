"""Run one function in a forked child process while this one goes on, and collect its result later.

Why: onnx's shape inference runs in C++ but holds Python's GIL, so no thread can overlap it. On a
50,000-node graph it and the reading of its result take about as long as the loader's own reading
of the nodes and weights: a child forked before that reading does the inference beside it, on a
copy-on-write copy of the model that it may change freely (perfmodel.graph).

The result (plain dicts, tuples, numbers, strings) comes back by marshal through a pipe. Whatever
goes wrong in the child (an exception, a signal, a fork that fails) makes `result()` call the
function here instead, so the outcome is always the one the function gives in this process, and its
errors are raised here. Where the OS cannot fork (Windows), or on macOS (where a forked child may not
use every system library), the function simply runs here when its result is asked for.
"""

from __future__ import annotations

import marshal
import os
import signal
import sys
import warnings
from typing import Any, Callable


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


class Forked:
    """`fn(*args)` started in a forked child; `result()` waits for it, `cancel()` drops it."""

    def __init__(self, fn: Callable[..., Any], *args: Any):
        self._fn, self._args = fn, args
        self._pid: int | None = None
        if not can_fork():
            return
        read, write = os.pipe()
        try:
            with warnings.catch_warnings():  # Python 3.12+ warns of forking with threads (BLAS's idle pool):
                warnings.simplefilter("ignore", DeprecationWarning)  # the child starts none and uses none
                pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: compute, write, and leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read)
                data = marshal.dumps(fn(*args))
                with os.fdopen(write, "wb") as pipe:
                    pipe.write(data)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._read = pid, read

    def result(self) -> Any:
        """The function's result: the child's, or (when it failed) computed here."""
        args, self._args = self._args, ()  # held no longer than needed (a model, say)
        if self._pid is None:
            return self._fn(*args)
        with os.fdopen(self._read, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status == 0:
            try:
                return marshal.loads(data)
            except (EOFError, ValueError, TypeError):
                pass
        return self._fn(*args)  # what went wrong there happens again here, and is raised here

    def cancel(self) -> None:
        """Stop the child if it still runs, and reap it (no zombie is left)."""
        self._args = ()
        if self._pid is None:
            return
        try:
            os.kill(self._pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self._pid, 0)
        os.close(self._read)
        self._pid = None
