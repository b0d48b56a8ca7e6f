"""The outline under review as editable table rows, and back.

One row per section: its position, title, description, search queries and subsection
titles (several values in one cell, separated by ";"). Rows are shown numbered 1..n;
reordering is done by editing a position: a row given the position of another goes before
it (it was moved there). Rows without a position go last, in the order they appear.
"""

from __future__ import annotations

import math
from typing import Any

SEPARATOR = ";"
COLUMNS = ("position", "title", "description", "queries", "subsections")


def _joined(values: list[str]) -> str:
    return f"{SEPARATOR} ".join(values)


def _split(cell: Any) -> list[str]:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    return [part.strip() for part in str(cell).split(SEPARATOR) if part.strip()]


def _text(cell: Any) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    return str(cell).strip()


def outline_rows(outline: dict[str, Any]) -> list[dict[str, Any]]:
    """The outline's sections as editable rows."""
    return [
        {
            "position": number,
            "title": section.get("title", ""),
            "description": section.get("description", ""),
            "queries": _joined(section.get("queries", [])),
            "subsections": _joined([sub.get("title", "") for sub in section.get("subsections", [])]),
        }
        for number, section in enumerate(outline.get("sections", []), start=1)
    ]


def _position(row: dict[str, Any], appearance: int) -> tuple[float, int, int]:
    value = row.get("position")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.inf
    number = math.inf if math.isnan(number) else number
    moved = number != appearance + 1
    return (number, 0 if moved else 1, appearance)


def rows_to_outline(title: str, rows: list[dict[str, Any]], original: dict[str, Any]) -> dict[str, Any]:
    """The edited outline: sections in position order; rows marked "removed", and blank
    rows (every cell empty), are dropped. Subsections keep the
    descriptions they had under the same title; new ones get none. Validation (every
    section titled, at least one) is the workflow's."""
    descriptions = {
        sub.get("title", ""): sub.get("description", "")
        for section in original.get("sections", [])
        for sub in section.get("subsections", [])
    }
    ordered = sorted(enumerate(rows), key=lambda pair: _position(pair[1], pair[0]))
    sections = []
    for _, row in ordered:
        if row.get("removed"):
            continue
        cells = {column: _text(row.get(column)) for column in COLUMNS if column != "position"}
        if not any(cells.values()):
            continue
        sections.append(
            {
                "title": cells["title"],
                "description": cells["description"],
                "queries": _split(row.get("queries")),
                "subsections": [
                    {"title": name, "description": descriptions.get(name, "")}
                    for name in _split(row.get("subsections"))
                ],
            }
        )
    return {**original, "title": title.strip(), "sections": sections}
