"""The one atomic-write helper: an interrupted or killed write leaves the old file whole, and
no other module of the layers that can import it renames files itself."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retriever.atomic_write import replace_atomically, write_atomically, write_bytes_atomically
from retriever.write_lock import remove_stale

REPO = Path(__file__).resolve().parents[2]
OLD = "the survey as it was\n" * 100


def test_writes_replace_the_file(tmp_path):
    path = tmp_path / "deep" / "survey.md"
    write_atomically(path, "first")
    write_atomically(path, "ünïcode second")
    assert path.read_text(encoding="utf-8") == "ünïcode second"
    write_bytes_atomically(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in path.parent.iterdir()) == ["survey.md"]  # no temporary left


@pytest.mark.parametrize("stop", [KeyboardInterrupt, OSError, ValueError])
def test_an_interrupted_write_leaves_the_old_file_intact(tmp_path, stop):
    path = tmp_path / "survey.md"
    path.write_text(OLD, encoding="utf-8")

    def half_then_stopped(temporary: Path) -> None:
        temporary.write_text("the new survey, half writ", encoding="utf-8")
        raise stop("interrupted")

    with pytest.raises(stop):
        replace_atomically(path, half_then_stopped)
    assert path.read_text(encoding="utf-8") == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["survey.md"]


KILLED_WRITER = """
import sys, time
from pathlib import Path
from retriever.atomic_write import replace_atomically

def slow(temporary):
    with open(temporary, "w") as out:
        out.write("new " * 1000)
        out.flush()
        print("writing", flush=True)
        time.sleep(60)

replace_atomically(Path(sys.argv[1]), slow, temporary_prefix="survey.md.")
"""


def test_a_killed_write_leaves_the_old_file_intact_and_its_temporary_findable(tmp_path):
    path = tmp_path / "survey.md"
    path.write_text(OLD, encoding="utf-8")
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert path.read_text(encoding="utf-8") == OLD
    left = [p for p in tmp_path.iterdir() if p != path]
    assert len(left) == 1 and left[0].name.startswith("survey.md.") and left[0].name.endswith(".tmp")
    assert remove_stale(tmp_path, ["survey.md.*.tmp"]) == left  # what the writer's next run clears
    started = time.monotonic()
    write_atomically(path, "new")
    assert path.read_text(encoding="utf-8") == "new" and time.monotonic() - started < 5


def _renames_files(path: Path) -> bool:
    """Whether the module calls os.replace or os.rename (an atomic write of its own)."""
    return any(
        isinstance(node, ast.Attribute)
        and node.attr in {"replace", "rename"}
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def test_every_package_that_can_import_the_helper_uses_it():
    """engine/ and kernels/ sit below retriever/ (they may not import it) and keep their own."""
    own = [
        str(path.relative_to(REPO))
        for package in ("app", "planner", "writer", "eval", "retriever")
        for path in (REPO / package).rglob("*.py")
        if path.name != "atomic_write.py" and _renames_files(path)
    ]
    assert own == []
