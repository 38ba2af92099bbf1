"""``Grid.summary(by=axis)``: one row per value of an axis, counting samples, not cells.

cells: the distinct requests with that value (the repeats of one request are one cell);
samples: the images made; rated and mean rating: from the ratings in the store; judged, mean
score and its 95% interval: from the newest judge's judgment of each sample; win rate:
over every stored duel choice between two of this grid's images with different values of the
axis (a tie is half a win); cost: the estimated cost of the samples (each paid once, whether
this run or an earlier one made it); median time: the generation time of the samples.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..store.judgments import Judgments
from ..views.tables import Table, named, texts_of

if TYPE_CHECKING:
    from .cells import GridShape as Grid

COLUMNS = ["value", "cells", "samples", "rated", "mean rating", "judged", "mean score",
           "score 95%", "win rate", "choices", "cost", "median time"]  # fmt: skip


def summarize(grid: Grid, by: str | None = None) -> Table:
    names = [n for n in grid.axes if n != "repeat"]
    if by is None:
        by = names[0] if names else None
    if by not in names:
        raise ValidationError(
            f"summary: {by!r} is not an axis of this grid",
            field="by",
            value=by,
            allowed=names or "a grid with an axis",
        )
    judgments = Judgments(grid.session.store)
    rows: dict[str, dict[str, Any]] = {}
    value_of: dict[str, str] = {}  # run id -> its value on the axis
    times: dict[str, list[float]] = {}
    scores: dict[str, list[int]] = {}
    judged: dict[str, list[float]] = {}
    for label, _ in grid.axes[by]:
        rows[label] = {"value": label, "cells": set(), "samples": 0, "cost": 0.0}
        times[label], scores[label], judged[label] = [], [], []
    for cell in grid.cells:
        label = cell.labels[by]
        row = rows[label]
        row["cells"].add(tuple((k, v) for k, v in cell.labels.items() if k != "repeat"))
        r = cell.result
        if r is None:
            continue
        row["samples"] += 1
        row["cost"] += r.cost
        value_of[r.id] = label
        t = r.record.get("wall_time")
        if isinstance(t, (int, float)):
            times[label].append(float(t))
        rated = judgments.rating(r.id)
        if rated is not None:
            scores[label].append(int(rated["score"]))
        found = judgments.scored(r.id)
        if found is not None and isinstance(found.get("score"), (int, float)):
            judged[label].append(float(found["score"]))
    wins = {v: 0.0 for v in rows}
    played = {v: 0 for v in rows}
    for c in judgments.choices():
        u, v = value_of.get(str(c.get("left"))), value_of.get(str(c.get("right")))
        s = {"left": 1.0, "right": 0.0, "tie": 0.5}.get(str(c.get("choice")))
        if u is None or v is None or u == v or s is None:
            continue
        wins[u] += s
        wins[v] += 1 - s
        played[u] += 1
        played[v] += 1
    out = []
    for label, row in rows.items():
        out.append({
            "value": label,
            "cells": len(row["cells"]),
            "samples": row["samples"],
            "rated": len(scores[label]),
            "mean rating": round(statistics.fmean(scores[label]), 2) if scores[label] else None,
            "judged": len(judged[label]),
            "mean score": round(statistics.fmean(judged[label]), 3) if judged[label] else None,
            "score 95%": _interval(judged[label]),
            "win rate": round(wins[label] / played[label], 3) if played[label] else None,
            "choices": played[label],
            "cost": round(row["cost"], 4),
            "median time": statistics.median(times[label]) if times[label] else None,
        })  # fmt: skip
    title = f"summary by {by}: {sum(r['samples'] for r in out)} samples"
    return Table(*named(out, COLUMNS, texts_of(grid.axes).get(by)), title)


def _interval(xs: list[float]) -> str | None:
    """The mean's 95% interval (normal, from the spread; clipped to 0..1), as "lo-hi"."""
    if len(xs) < 2:
        return None
    half = 1.96 * statistics.stdev(xs) / len(xs) ** 0.5
    m = statistics.fmean(xs)
    return f"{max(0.0, m - half):.2f}-{min(1.0, m + half):.2f}"
