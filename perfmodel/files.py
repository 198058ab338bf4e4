"""Every file perfmodel writes goes through here: a temp file in the target folder, renamed into place.

So a failed or interrupted write (full disk, a crash, Ctrl-C) never leaves a partial file and never
destroys the previous one, and no output may overwrite one of the run's own inputs.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from perfmodel.errors import PerfmodelError


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_regular(path: str | os.PathLike, label: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; a one-line PerfmodelError otherwise (a
    FIFO would block forever, /dev/zero never ends, a huge file is not the spec it claims to be)."""
    import stat

    try:
        info = os.stat(path)
    except OSError as exc:
        raise PerfmodelError(f"{label}: cannot read: {_why(exc)}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a pipe, a device?)"
        raise PerfmodelError(f"{label}: is {kind}")
    if info.st_size > limit:
        raise PerfmodelError(f"{label}: {info.st_size:,} bytes, over the {limit:,} a file of this kind may have")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise PerfmodelError(f"{label}: cannot read: {_why(exc)}") from None
    if len(data) > limit:
        raise PerfmodelError(f"{label}: over the {limit:,} bytes a file of this kind may have")
    return data


def check_folder(path: str | os.PathLike) -> None:
    """PerfmodelError unless `path` is a folder or can be made one (checked before any long work)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise PerfmodelError(f"cannot write into {str(path)!r}: it is a file, not a folder")
    ancestor = folder
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise PerfmodelError(f"cannot create folder {str(path)!r}: {str(ancestor)!r} is a file")


def check_not_input(output: str | os.PathLike, inputs: tuple[str | os.PathLike | None, ...]) -> None:
    """PerfmodelError when `output` names the same file as one of `inputs` (a model, a spec)."""
    out = Path(output)
    for given in inputs:
        if given is None or not Path(given).exists():
            continue
        with contextlib.suppress(OSError):
            if out.exists() and os.path.samefile(out, given):
                raise PerfmodelError(f"-o {str(output)!r} is an input of this run ({given}); "
                                     f"choose another output file")


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside `path`; when the block succeeds, rename it onto `path` (atomic on POSIX).

    On any error the temp file is removed and `path` is left as it was. `suffix` keeps the file
    ending for writers that look at it (matplotlib picks the format from it).
    """
    target = Path(path)
    if target.is_dir():
        raise PerfmodelError(f"cannot write {str(path)!r}: it is a directory; give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise PerfmodelError(f"cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=folder)
    except OSError as exc:
        raise PerfmodelError(f"cannot write {str(path)!r}: {_why(exc)}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PerfmodelError(f"cannot write {str(path)!r}: {_why(exc)}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes | list[bytes | memoryview]) -> None:
    """Write `data` (text as UTF-8; bytes, or bytes in pieces written one after the other) to `path`
    through a temp file and a rename."""
    pieces = [data.encode()] if isinstance(data, str) else [data] if isinstance(data, bytes) else data
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.writelines(pieces)
            f.flush()
            os.fsync(f.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
