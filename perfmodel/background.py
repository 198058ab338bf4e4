"""Run a generator in a forked child process while this one goes on, and take its values here as
they come.

Why: onnx's shape inference runs in C++ but holds Python's GIL, so no thread can overlap it. On a
50,000-node graph it and the reading of its result take about as long as the loader's own reading
of the nodes and weights: a child forked before that reading does the inference beside it, on a
copy-on-write copy of the model that it may change freely (perfmodel.graph). A generator sends its
values one at a time, so this process can use each as it comes while the child computes the next:
the walk takes the inferred shapes a piece of the graph at a time while the child infers the rest.

The values (plain dicts, tuples, numbers, strings, bytes) come back by marshal through a pipe, each
with its length first, written by a thread of the child's, so the child computes on while this
process is busy with the values before (the pipe holds up to a megabyte where Linux allows).
Whatever goes wrong in the child (an exception, a signal, a fork that fails) makes `parts()` run the
generator here and take from it the values the child did not send, so the outcome is always the
one the generator gives in this process, and its errors are raised here (unless the caller freed
the generator's arguments while the child ran, `forgo_rerun`: then the failure is raised,
ChildFailed, for the caller to redo its work its own way). Where the OS cannot fork (Windows), or
on macOS (where a forked child may not use every system library), the generator simply runs here
when its values are asked for.
"""

from __future__ import annotations

import itertools
import marshal
import os
import signal
import sys
import threading
import warnings
from queue import SimpleQueue
from typing import Any, Callable, Iterator

_LENGTH = 8  # bytes of the length written before each value


def can_fork() -> bool:
    return hasattr(os, "fork") and sys.platform.startswith("linux")


class Forked:
    """`fn(*args)`, a generator function, started in a forked child; `parts()` yields its values,
    `cancel()` drops the child."""

    def __init__(self, fn: Callable[..., Iterator[Any]], *args: Any):
        self._fn, self._args = fn, args
        self._pid: int | None = None
        if not can_fork():
            return
        read, write = os.pipe()
        _widen(write)
        try:
            with warnings.catch_warnings():  # Python 3.12+ warns of forking with threads (BLAS's idle pool):
                warnings.simplefilter("ignore", DeprecationWarning)  # the child uses none of them
                pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: compute, write, and leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read)
                with os.fdopen(write, "wb") as pipe:
                    _send(fn(*args), pipe)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._pipe = pid, os.fdopen(read, "rb")

    def parts(self) -> Iterator[Any]:
        """The generator's values: the child's, and after a failure there, the rest computed here
        (ChildFailed instead, after `forgo_rerun`)."""
        received = 0
        if self._pid is not None:
            while (value := self._receive()) is not _NOTHING:
                received += 1
                yield value
            _, status = os.waitpid(self._pid, 0)
            self._pid = None
            self._pipe.close()
            if status == 0:
                self._args = ()
                return
        args, self._args = self._args, ()  # held no longer than needed (a model, say)
        if args is None:
            raise ChildFailed(f"the child computing {self._fn.__name__} failed after {received} values")
        # what went wrong there happens again here, and is raised here
        yield from itertools.islice(self._fn(*args), received, None)

    def forgo_rerun(self) -> None:
        """Free what running the generator here would need (a model, say) while a child runs it;
        should the child fail, `parts()` then raises ChildFailed. (Where no child could be
        started, the generator still runs here.)"""
        if self._pid is not None:
            self._args = None

    def _receive(self) -> Any:
        """The next value the child sent, or _NOTHING at the end of what it sent (or of what could be read)."""
        length = self._pipe.read(_LENGTH)
        if len(length) < _LENGTH:
            return _NOTHING
        data = self._pipe.read(int.from_bytes(length, "little"))
        try:
            return marshal.loads(data)
        except (EOFError, ValueError, TypeError):  # a value cut short: the child died writing it
            return _NOTHING

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
        self._pipe.close()
        self._pid = None


_NOTHING = object()


def _send(values: Iterator[Any], pipe: Any) -> None:
    """Write each value to the pipe, its length first, by a thread of its own: the generator goes on
    while a write waits for this process to read (it may be busy with the values before). The values
    made before the generator fails are written all the same."""
    queue: SimpleQueue[bytes | None] = SimpleQueue()

    def write() -> None:
        try:
            while (data := queue.get()) is not None:
                pipe.write(data)
                pipe.flush()
        except OSError:  # this process stopped reading (it cancels the child then)
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for value in values:
            data = marshal.dumps(value)
            queue.put(len(data).to_bytes(_LENGTH, "little") + data)
    finally:
        queue.put(None)
        writer.join()


_PIPE_BYTES = 1 << 20
"""The pipe's capacity asked for (Linux's default limit for it, against 64 KiB by default: a few
chunks of shapes): the fewer times the child's writer waits for this process, the fewer times it
must take the GIL back from the child's computing."""


def _widen(pipe: int) -> None:
    """Ask for a pipe of _PIPE_BYTES; where the OS refuses, the default serves."""
    try:
        import fcntl

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


class ChildFailed(Exception):
    """The child failed, and the generator cannot run here (`Forked.forgo_rerun`)."""
