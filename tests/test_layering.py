"""Imports run downward only (docs/ARCHITECTURE.md section 1). Checked on the source, not by convention.

Between packages: app -> planner, retriever, writer, eval -> engine -> kernels. Inside app:
the interfaces (app.interfaces: CLI, batch, UI) import the run API (the app.workflow
package itself, never its modules) and app.settings; the workflow imports no interface;
the settings import nothing of app.
"""

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
# Inside app: what each layer may import of app (exact module names, or a prefix ending in ".").
APP_LAYERS = {
    "app.interfaces": ("app.workflow", "app.settings", "app.interfaces."),
    "app.workflow": ("app.workflow", "app.workflow.", "app.settings"),
    "app.settings": (),
}


def imported_modules(path: Path) -> set[str]:
    """Absolute module names `path` imports (``from a.b import c`` counts as ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)} & set(PACKAGES)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def app_layer_violations(root: Path) -> list[str]:
    """Imports inside app/ that break APP_LAYERS, as readable lines."""
    violations = []
    for path in sorted((root / "app").rglob("*.py")):
        module = module_name(path, root)
        layer = next((name for name in APP_LAYERS if module == name or module.startswith(name + ".")), None)
        if layer is None:
            continue
        allowed = APP_LAYERS[layer]
        for name in sorted(imported_modules(path)):
            if (
                name.split(".")[0] != "app"
                or name in allowed
                or name.startswith(tuple(a for a in allowed if a[-1] == "."))
            ):
                continue
            violations.append(f"{path.relative_to(root)} ({layer}) imports {name}")
    return violations


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_run_downward(package):
    violations = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_packages(path) - ALLOWED[package]
        if bad:
            violations.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not violations, "layering broken (docs/ARCHITECTURE.md section 1):\n" + "\n".join(violations)


def test_app_layers_import_downward_only():
    violations = app_layer_violations(REPO)
    assert not violations, "app/ layering broken (docs/ARCHITECTURE.md section 1):\n" + "\n".join(violations)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("app/workflow/planted.py", "from app.interfaces.cli.main import cli\n", "imports app.interfaces.cli.main"),
        ("app/interfaces/planted.py", "from app.workflow.graph import compile_graph\n", "imports app.workflow.graph"),
        ("app/interfaces/cli/planted.py", "import app.workflow.nodes\n", "imports app.workflow.nodes"),
        ("app/settings.py", "from app.workflow import Event\n", "imports app.workflow"),
    ],
)
def test_a_planted_violation_is_caught(tmp_path, path, source, expected):
    for clean in ("app/workflow/api.py", "app/interfaces/cli/main.py", "app/settings.py"):
        (tmp_path / clean).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / clean).write_text("from app.settings import Settings\n" if "interfaces" in clean else "")
    assert app_layer_violations(tmp_path) == []
    (tmp_path / path).write_text(source)
    assert [line for line in app_layer_violations(tmp_path) if expected in line]


def test_only_the_workflow_knows_langgraph():
    users = [
        str(path.relative_to(REPO))
        for package in PACKAGES
        for path in (REPO / package).rglob("*.py")
        if "langgraph" in {name.split(".")[0] for name in imported_modules(path)}
    ]
    assert all(user.startswith("app/workflow/") for user in users), users
