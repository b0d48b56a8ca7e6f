"""Files replaced in one step: a reader, or a process that starts after a crash, finds the
old file or the new one, never a part of the new one.

The one implementation for every package that writes files the user keeps (survey outputs,
the vector and BM25 indexes, ONNX exports, the judge's cache). It lives in retriever/, the
lowest layer that app/, eval/ and retriever/ itself may all import (docs/ARCHITECTURE.md
section 1). The new file is written inside a temporary folder beside the target, flushed
to disk, and renamed over the target; the folder is removed afterwards, or, after a kill,
by the writer's next run (its name is ``<prefix><random>.tmp``, see `temporary_prefix`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], None], temporary_prefix: str | None = None) -> None:
    """Make `path` anew: `write(temporary)` writes the new file at a temporary path beside
    it, which is then synced and renamed over `path`. Whatever stops `write` (an error, an
    interrupt) leaves `path` as it was. temporary_prefix: how the temporary folder's name
    begins (default ``.<name>.``), so that a later run can find what a kill left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = temporary_prefix if temporary_prefix is not None else f".{path.name}."
    folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=prefix, suffix=".tmp"))
    try:
        temporary = folder / path.name
        write(temporary)
        _sync(temporary)
        os.replace(temporary, path)
        _sync_directory(path.parent)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_atomically(path: Path, text: str, temporary_prefix: str | None = None) -> None:
    """Replace `path` with `text` (UTF-8) in one step; see :func:`replace_atomically`."""
    replace_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"), temporary_prefix)


def write_bytes_atomically(path: Path, data: bytes, temporary_prefix: str | None = None) -> None:
    """Replace `path` with `data` in one step; see :func:`replace_atomically`."""
    replace_atomically(path, lambda temporary: temporary.write_bytes(data), temporary_prefix)


def _sync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); where a folder cannot be opened, the rename
    is still atomic, only not yet flushed."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
