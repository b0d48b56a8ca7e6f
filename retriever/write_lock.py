"""One writer at a time: an exclusive lock file, and the removal of the temporary files an
interrupted writer left behind.

Two `cpmsurvey index` runs on one data folder would both embed every new paper; with the
lock the second waits (saying so) and then finds the work done. The operating system drops
the lock when its process dies, even by SIGKILL, so a killed run never blocks the next one.
Temporary files can only be told apart from a live writer's while the lock is held: that is
when they are removed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


@contextmanager
def exclusive(path: Path, holder: str) -> Iterator[None]:
    """Hold `<path>.lock`; when another process holds it, say so once and wait for it.

    `holder` names the work in the message, e.g. "indexing the library at papers.sqlite"."""
    lock = FileLock(f"{path}{LOCK_SUFFIX}")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("another cpmsurvey process is %s; waiting for it to finish", holder)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def try_exclusive(path: Path) -> FileLock | None:
    """The held lock of `path`, or None at once when another process holds it."""
    lock = FileLock(f"{path}{LOCK_SUFFIX}")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def remove_stale(directory: Path, patterns: Sequence[str]) -> list[Path]:
    """Remove the files and folders in `directory` matching any glob of `patterns`; the caller
    holds the lock under which they were written, so none belongs to a live writer."""
    removed = []
    if not directory.is_dir():
        return removed
    for pattern in patterns:
        for path in directory.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        log.info("removed %d file(s) an interrupted run left in %s", len(removed), directory)
    return removed
