"""``g.explore()``: a grid as a widget. Any two axes are rows and columns, the others are
selectors; the samples of a cell (``repeat=N``) show together as a strip; a click opens an
image large, where a click on a star or a key (1-5, 0 clears) rates it in the store. A judged
grid's images carry their judge score, coloured by band, and ``sort="score"`` puts the best
rows, columns and samples first."""

from __future__ import annotations

from typing import Any

import traitlets as t

from ..errors import ValidationError
from ..session.result import Result
from ..views.judging import score_band, shorten
from ..views.tables import texts_of
from .panel_state import image_of, image_or_empty
from .widgets import STATIC, MessageWidget

THUMB = 200
SORTS = ("", "score")
LARGE = 1536


class Explorer(MessageWidget):
    """``Explorer(grid, rows=None, cols=None, rater=None)``, or ``grid.explore()``."""

    _esm = STATIC / "explore.js"
    _css = STATIC / "explore.css"

    axes = t.List(t.Dict()).tag(sync=True)  # [{name, labels, texts?, titles?}], repeat left out
    rows = t.Unicode("").tag(sync=True)
    cols = t.Unicode("").tag(sync=True)
    cells = t.List(t.Dict()).tag(sync=True)  # {id, labels, sample, rating, score, status, ...}
    sort = t.Unicode("").tag(sync=True)  # "" (the axes' order) or "score" (best first)
    opened = t.Dict().tag(sync=True)  # the image shown large: {id, labels, rating, note, ...}
    large = t.Bytes(b"").tag(sync=True)

    def __init__(
        self, grid: Any, rows: str | None = None, cols: str | None = None,
        rater: str | None = None, sort: str = "",
    ) -> None:  # fmt: skip
        self.grid = grid
        self.rater = rater
        names = [n for n in grid.axes if n != "repeat"]
        texts = texts_of(grid.axes)
        axes = [_axis(n, [label for label, _ in grid.axes[n]], texts.get(n)) for n in names]
        for which, value in (("rows", rows), ("cols", cols)):
            if value is not None and value not in names:
                raise ValidationError(
                    f"explore: {which}={value!r} is not an axis of this grid",
                    field=which, value=value, allowed=names,
                )  # fmt: skip
        if cols is None:
            cols = next((n for n in reversed(names) if n != rows), "")
        if rows is None:
            rows = next((n for n in reversed(names) if n != cols), "")
        self._results: dict[str, Result] = {}
        super().__init__(
            {"open": self._on_open, "rate": self._on_rate, "close": self._on_close},
            axes=axes, rows=rows, cols=cols, cells=self._cells(), sort=sort,
        )  # fmt: skip

    @t.validate("sort")
    def _check_sort(self, proposal: Any) -> str:
        if proposal["value"] not in SORTS:
            raise ValidationError(
                f"explore: sort={proposal['value']!r} is not a way to sort",
                field="sort", value=proposal["value"], allowed=list(SORTS),
            )  # fmt: skip
        return str(proposal["value"])

    def _cells(self) -> list[dict[str, Any]]:
        out = []
        for cell in self.grid.cells:
            r = cell.result
            labels = {k: v for k, v in cell.labels.items() if k != "repeat"}
            entry = {"labels": labels, "sample": cell.labels.get("repeat", ""),
                     "status": cell.status, "id": "", "rating": None, "score": None,
                     "thumb": b""}  # fmt: skip
            if r is not None:
                self._results[r.id] = r
                entry.update(id=r.id, rating=r.rating, thumb=image_or_empty(r, THUMB, 75),
                             **_judged(r))  # fmt: skip
            out.append(entry)
        return out

    def _result(self, msg: dict[str, Any]) -> Result:
        found = self._results.get(str(msg.get("run")))
        if found is None:
            raise ValidationError(
                f"explore: {msg.get('run')!r} is not an image of this grid",
                field="run", value=msg.get("run"), allowed="a run id of the grid",
            )  # fmt: skip
        return found

    def _on_open(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.show(self._result(msg))
        return {}

    def _on_close(self, _msg: dict[str, Any]) -> dict[str, Any]:
        self.opened, self.large = {}, b""
        return {}

    def _on_rate(self, msg: dict[str, Any]) -> dict[str, Any]:
        r = self._result(msg)
        score = msg.get("score")
        self.rate(r, None if score in (None, 0) else score, str(msg.get("note") or ""))
        return {"rating": r.rating}

    # -- for code ---------------------------------------------------------------------------
    def show(self, result: Result) -> None:
        """Show ``result`` large."""
        with self.hold_sync():
            self.large = image_of(result, LARGE, 88)
            self.opened = self._opened(result)

    def rate(self, result: Result, score: int | None, note: str = "") -> None:
        """Rate an image of the grid (as a star or key in the widget does)."""
        result.rate(score, note=note, rater=self.rater)
        with self.hold_sync():
            self.cells = [
                {**c, "rating": result.rating} if c["id"] == result.id else c for c in self.cells
            ]
            if self.opened.get("id") == result.id:
                self.opened = self._opened(result)

    def _opened(self, r: Result) -> dict[str, Any]:
        cell = next(c for c in self.grid.cells if c.result is not None and c.result.id == r.id)
        w, h = r.size
        return {"id": r.id, "labels": dict(cell.labels), "rating": r.rating, "note": r.note,
                "prompt": r.params.prompt, "size": f"{w}x{h}", **_judged(r)}  # fmt: skip

    def refresh(self) -> None:
        """Read the grid again (new images, ratings and judge scores made since)."""
        self.cells = self._cells()

    def __repr__(self) -> str:
        return f"<nb2.Explorer {len(self.grid.cells)} cells, rows={self.rows} cols={self.cols}>"


def _judged(r: Result) -> dict[str, Any]:
    """The newest judge score of an image, its band, judge and failed questions ({} if none)."""
    j = r.judgment
    if j is None:
        return {}
    return {"score": round(j.score, 3), "band": score_band(j.score), "judge": j.judge,
            "failed": [q.text for q in j.failed]}  # fmt: skip


def _axis(name: str, labels: list[str], texts: dict[str, str] | None) -> dict[str, Any]:
    """An axis for the headers and selectors; a prompt's label (P1) comes with its text,
    shortened (``texts``) and whole (``titles``), so a header says which prompt it is."""
    axis: dict[str, Any] = {"name": name, "labels": labels}
    if texts:
        full = [texts[label] for label in labels]
        axis.update(texts=[shorten(v, full) for v in full], titles=full)
    return axis
