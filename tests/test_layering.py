"""DESIGN.md section 1: imports run downward only. Checked on the source, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "planner", "retriever", "writer", "engine", "kernels", "eval")
ALLOWED = {
    "app": {"app", "planner", "retriever", "writer", "eval", "engine", "kernels"},
    "planner": {"planner", "engine", "retriever"},
    "writer": {"writer", "engine", "retriever"},
    "eval": {"eval", "engine", "writer", "retriever"},
    "retriever": {"retriever"},
    "engine": {"engine", "kernels"},
    "kernels": {"kernels"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_downward(package):
    violations = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_packages(path) - ALLOWED[package]
        if bad:
            violations.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not violations, "layering broken (DESIGN.md section 1):\n" + "\n".join(violations)


def test_only_graph_module_knows_langgraph():
    users = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if "langgraph"
        in {
            n.split(".")[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            for n in (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.module
                else []
            )
        }
    ]
    assert all(user.startswith("app/") for user in users), users
