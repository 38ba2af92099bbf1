"""The shapes the views read. The engine's Result, History, Grid and Cell have them; views
never import the engine, so they name only the attributes they use."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class ResultLike(Protocol):
    record: dict[str, Any]
    number: int
    cached: bool

    @property
    def id(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def size(self) -> tuple[int, int]: ...
    @property
    def offline(self) -> bool: ...
    @property
    def grounded_at(self) -> str | None: ...
    @property
    def cost(self) -> float: ...
    @property
    def params(self) -> Any: ...


class CellLike(Protocol):
    labels: dict[str, str]
    status: str
    error: str | None
    result: Any  # a ResultLike or None
    params: Any


class GridLike(Protocol):
    axes: dict[str, list[tuple[str, Any]]]
    cells: list[Any]  # CellLike


class TurnLike(Protocol):
    number: int
    kind: str
    result: Any  # a ResultLike
    parent: Any
    children: list[Any]


class HistoryLike(Protocol):
    turns: list[Any]  # TurnLike
    current: Any


def layout(grid: GridLike) -> tuple[list[str], str | None, str | None, dict[tuple, list[Any]]]:
    """Outer axes, the row axis (the last but one), the column axis (the last), and the cells
    of each outer combination: one layout for the notebook's grid and the contact sheet."""
    names = list(grid.axes)
    col = names[-1] if names else None
    row = names[-2] if len(names) > 1 else None
    outer = names[:-2]
    groups: dict[tuple, list[Any]] = {}
    for cell in grid.cells:
        groups.setdefault(tuple(cell.labels[n] for n in outer), []).append(cell)
    return outer, row, col, groups


def cell_at(cells: list[Any], row: str | None, rv: str, col: str | None, cv: str) -> Any:
    """The cell of a block at row value ``rv`` and column value ``cv`` (None if absent)."""
    return next(
        (c for c in cells if (not row or c.labels[row] == rv) and (not col or c.labels[col] == cv)),
        None,
    )


_AXIS_WORDS = {
    "aspect_ratio": "aspect",
    "google_search": "web search",
    "image_search": "image search",
    "output_format": "format",
}


def axis_name(axis: str | None) -> str:
    """An axis as people say it: ``google_search`` is "web search"."""
    return _AXIS_WORDS.get(axis or "", axis or "")


def plain(name: str, value: Any) -> str:
    """A fixed parameter's value in words: references by name and role, not as dicts."""
    if name == "references" and isinstance(value, list):
        items = [
            f"{v.get('name')} ({v['role']})"
            if isinstance(v, dict) and v.get("role")
            else str(v.get("name") if isinstance(v, dict) else v)
            for v in value
        ]
        return ", ".join(items) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return "as the input" if value == "match_input_image" else str(value)
