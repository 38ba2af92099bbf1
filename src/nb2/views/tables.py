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
