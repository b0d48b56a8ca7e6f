"""Deterministic samples for judges whose every call costs time: evenly spaced items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def evenly_spaced(items: Sequence[T], limit: int | None) -> list[T]:
    """All items when `limit` is None or not smaller; else `limit` items spread evenly from
    first to last (the same items on every run)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    if limit == 1:
        return [items[0]]
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]
