"""Compile decode.c with the system C compiler, once per source, flags and compiler, and load it.

The shared library is cached under ~/.cache/cpmsurvey/native (XDG_CACHE_HOME is honoured) by a
hash of what went into it, written to a temporary name and renamed, so concurrent first uses and
interrupted builds never leave a broken library behind. Without a working compiler
`load_library` returns None and the engine keeps its torch path.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("decode.c")
BASE_FLAGS = ("-O3", "-std=c11", "-fPIC", "-shared", "-fopenmp")
SIMD_FLAGS = ("-mavx2", "-mfma", "-mf16c")


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "cpmsurvey" / "native"


def cpu_has_avx2() -> bool:
    """AVX2, FMA and F16C, which the fast kernels need (Linux /proc/cpuinfo; elsewhere: assume not)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    line = next((line for line in flags.splitlines() if line.startswith("flags")), "")
    return {"avx2", "fma", "f16c"} <= set(line.split())


def compiler() -> str | None:
    """$CC, else cc or gcc on PATH."""
    for candidate in (os.environ.get("CC"), "cc", "gcc"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def build(directory: Path | None = None) -> Path:
    """Compile the library (or find it already built) and return its path. Raises RuntimeError
    with the compiler's message when compilation fails."""
    cc = compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (set CC, or install gcc)")
    flags = BASE_FLAGS + (SIMD_FLAGS if cpu_has_avx2() else ())
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(flags), version]).encode()).hexdigest()[:16]
    directory = directory or cache_dir()
    target = directory / f"libcpmdecode-{key}.so"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".build-", suffix=".so")
    os.close(handle)
    try:
        result = subprocess.run(
            [cc, *flags, str(SOURCE), "-o", temporary, "-lm"], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"compiling {SOURCE.name} failed: {result.stderr.strip()[-2000:]}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    logger.info("built the native decode library %s", target)
    return target


@functools.cache
def load_library() -> ctypes.CDLL | None:
    """The compiled library, or None (logged) when it is disabled or cannot be built here."""
    try:
        path = build()
    except (RuntimeError, OSError) as exc:
        logger.warning("native CPU decode unavailable, using the torch path: %s", exc)
        return None
    return ctypes.CDLL(str(path))
