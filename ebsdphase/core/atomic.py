"""Atomic file output: write to a temporary sibling, then rename over the target.

An interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

from ebsdphase.core.errors import EbsdphaseError

#: errors of the place being written to (not of the data): the run must stop, not go on
#: failing map after map
STORAGE_ERRNOS = {errno.ENOSPC: "no space left on device", errno.EROFS: "read-only file system",
                  errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                  errno.EDQUOT: "disk quota exceeded"}


class OutputError(EbsdphaseError):
    """The output location cannot take the file (full disk, read-only, no permission)."""


def storage_error(path: Path, exc: BaseException) -> OutputError | None:
    """The one-line :class:`OutputError` for a storage ``OSError`` (or None for others);
    h5py wraps them, so the errno is also looked for in the message."""
    code = getattr(exc, "errno", None)
    what = STORAGE_ERRNOS.get(code) if code is not None else None
    if what is None:
        text = str(exc).lower()
        what = next((w for w in STORAGE_ERRNOS.values() if w in text), None)
        if what is None and ("errno = 28" in text or "errno=28" in text):
            what = STORAGE_ERRNOS[errno.ENOSPC]
    if what is None:
        return None
    return OutputError(f"{path}: cannot write: {what}; free space or choose another output folder "
                       "and run again (finished outputs are kept and will be skipped)")


def remove_stale_parts(folder: str | os.PathLike, older_than: float | None = None) -> list[Path]:
    """Delete the temporary ``.<name>.part*`` files a killed run left in ``folder`` (only
    those last modified before ``older_than``, default now minus a minute, so a run that
    is writing right now keeps its own). Returns what was removed."""
    folder = Path(folder)
    limit = time.time() - 60 if older_than is None else older_than
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.glob(".*.part*"):
        with contextlib.suppress(OSError):
            if p.is_file() and p.stat().st_mtime < limit:
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    The temporary name keeps the final suffix so libraries that sniff the
    extension (h5py, Pillow, matplotlib) behave as with the real name.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part" + "".join(target.suffixes[-1:]), dir=target.parent
        )
    except OSError as exc:
        raise (storage_error(target, exc) or exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        err = storage_error(target, exc) if isinstance(exc, Exception) else None
        if err is not None:
            raise err from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
