"""``Table``: rows of plain values (a ranking, a summary) that print and show as HTML."""

from __future__ import annotations

from typing import Any

from .judging import table_html, table_text


class Table:
    """``rows``: a list of dicts; ``columns``: their order on screen."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str], title: str = "") -> None:
        self.rows = rows
        self.columns = columns
        self.title = title

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]

    def __repr__(self) -> str:
        head = f"{self.title}\n" if self.title else ""
        return head + table_text(self.rows, self.columns)

    def _repr_html_(self) -> str:
        return table_html(self.rows, self.columns, self.title)


def named(
    rows: list[dict[str, Any]], columns: list[str], texts: dict[str, str] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows whose ``value`` is a code (a grid's P1) name the value itself: ``value`` becomes its
    text (the prompt in full; a table shortens it on screen) and ``label`` keeps the code, which
    the grid, its legend and the contact sheet show."""
    if not texts:
        return rows, columns
    out = [{"label": r["value"], **r, "value": texts.get(r["value"], r["value"])} for r in rows]
    return out, ["label", *columns]


def texts_of(axes: dict[str, list[tuple[str, Any]]]) -> dict[str, dict[str, str]]:
    """For an axis labelled by a code (prompt: P1, P2, ...), each label's own text: what a
    ranking or a summary names, so it reads without the grid's legend."""
    return {"prompt": {label: str(v) for label, v in axes["prompt"]}} if "prompt" in axes else {}
