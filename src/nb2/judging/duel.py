"""Blind pairwise judging without a screen: the items, the next pair, the choices, the ranking.

The widget (``nb2.Duel``, in notebook/duel.py) draws what this decides. Choices are records
in the store (store/judgments.py) under the duel's name, which by default is derived from the
set of runs judged, so ``Duel(g)`` after a restart resumes the same duel with its choices.

The next pair is the one expected to teach the most about the ranking asked for (``by``): the
pair of values whose Bradley-Terry outcome is least certain (a win probability near one half)
and least known (wide intervals), divided by how often it was already shown; within each value
the sample shown least often is taken, so repeats and the other axes are spread evenly. A
48-cell grid is ranked from far fewer choices than its 1,128 pairs.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..store.judgments import Judgments
from ..views.tables import Table, named, texts_of
from . import bradley_terry as bt
from . import mixed

if TYPE_CHECKING:
    from ..shapes import ResultShape as Result

LABELLED = ("prompt", "model", "resolution", "aspect_ratio", "output_format", "google_search",
            "image_search")  # fmt: skip
RANK_COLUMNS = ["value", "score", "low", "high", "n", "wins", "ties", "losses"]


@dataclass
class Item:
    """One image in a judgment, with the axis values it stands for."""

    result: Result
    labels: dict[str, str]

    @property
    def key(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.labels.items()) or self.result.id


def items_of(source: Any) -> list[Item]:
    """The images of a Grid (its cells' labels), or of Results (their parameters as labels)."""
    if hasattr(source, "cells") and hasattr(source, "axes"):
        return [Item(c.result, dict(c.labels)) for c in source.cells if c.result is not None]
    out = []
    for r in source:
        if isinstance(r, Item):
            out.append(r)
            continue
        if not (hasattr(r, "record") and hasattr(r, "store")):
            raise ValidationError(
                f"a {type(r).__name__} is not a result",
                field="items",
                value=repr(r)[:80],
                allowed="a Grid, or a list of Results",
            )
        p = r.record.get("params", {})
        labels = {k: _text(p.get(k)) for k in LABELLED if k in p}
        labels["run"] = f"#{r.number}" if r.number else r.id
        out.append(Item(r, labels))
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return "-" if value is None else str(value)


class Pairwise:
    """Pairs to judge from ``source`` (a Grid or Results) and what was chosen."""

    def __init__(
        self,
        source: Any,
        by: str | None = None,
        rater: str | None = None,
        *,
        name: str | None = None,
        seed: int | None = None,
    ) -> None:
        items = items_of(source)
        unique: dict[str, Item] = {}
        for item in items:  # one run in two cells (an identical request) is judged once
            unique.setdefault(item.result.id, item)
        self.items = list(unique.values())
        if len(self.items) < 2:
            raise ValidationError(
                f"a duel needs at least two images; got {len(self.items)}",
                field="items",
                value=len(self.items),
                allowed="two or more finished results",
            )
        self.store = self.items[0].result.store
        self.rater = rater
        self.name = (
            name or "duel-" + hashlib.sha256("\n".join(sorted(unique)).encode()).hexdigest()[:16]
        )
        self.judgments = Judgments(self.store)
        self.by = self._axis(by)
        # a grid's prompts are labelled P1, P2...: the ranking names the prompt itself
        self.texts = texts_of(source.axes) if hasattr(source, "cells") else {}
        self._rng = random.Random(seed)
        self._last: tuple[str, str] | None = None

    @property
    def axes(self) -> list[str]:
        """The axes every item has a value for (what ``by`` may name)."""
        names = list(self.items[0].labels)
        return [n for n in names if all(n in it.labels for it in self.items)]

    def _axis(self, by: str | None) -> str | None:
        if by is not None and by not in self.axes:
            raise ValidationError(
                f"duel: {by!r} is not an axis of these images",
                field="by",
                value=by,
                allowed=self.axes,
            )
        return by

    def value(self, item: Item, by: str | None) -> str:
        return item.key if by is None else item.labels[by]

    def item(self, run: Any) -> Item:
        run_id = run if isinstance(run, str) else getattr(run, "id", None)
        for it in self.items:
            if it.result.id == run_id:
                return it
        raise ValidationError(
            f"duel: run {run_id!r} is not one of this duel's images",
            field="run",
            value=run_id,
            allowed="a Result of the duel",
        )

    # -- choices ------------------------------------------------------------------------------
    def choices(self, rater: str | None = None) -> list[dict[str, Any]]:
        """The stored choices of this duel (of ``rater`` when given), oldest first."""
        return [
            c for c in self.judgments.choices(self.name) if rater is None or c.get("rater") == rater
        ]

    def record(self, left: Any, right: Any, choice: str) -> dict[str, Any]:
        """Store a choice: ``left`` and ``right`` as they were shown; ``choice`` is "left",
        "right", "tie" or "skip"."""
        a, b = self.item(left), self.item(right)
        if a is b:
            raise ValidationError(
                "duel: an image cannot be compared with itself",
                field="right",
                value=b.result.id,
                allowed="another image of the duel",
            )
        self._last = (a.result.id, b.result.id)
        return self.judgments.choose(
            self.name, a.result.id, b.result.id, choice, self.rater, by=self.by
        )

    # -- what to show next --------------------------------------------------------------------
    def next_pair(self) -> tuple[Result, Result] | None:
        """The two images to show next (sides at random); None if nothing can be compared."""
        values = list(dict.fromkeys(self.value(it, self.by) for it in self.items))
        if len(values) < 2:
            return None
        index = {v: i for i, v in enumerate(values)}
        choices = self.choices()
        outcomes, shown_pairs, shown = self._outcomes(choices, index, self.by)
        f = bt.fit(len(values), outcomes, iterations=100)  # a rough fit is enough to choose
        gains = []
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                q = bt.win_probability(f.score[i], f.score[j])
                var = f.se[i] ** 2 + f.se[j] ** 2
                gains.append((q * (1 - q) * var / (1 + shown_pairs[(i, j)]), i, j))
        top = max(g for g, _, _ in gains)
        best = [(i, j) for g, i, j in gains if g >= top * 0.999]
        i, j = best[self._rng.randrange(len(best))]
        a = self._least_shown(values[i], shown)
        b = self._least_shown(values[j], shown)
        if self._rng.random() < 0.5:
            a, b = b, a
        return a.result, b.result

    def _least_shown(self, value: str, shown: Counter[str]) -> Item:
        pool = [it for it in self.items if self.value(it, self.by) == value]
        fewest = min(shown[it.result.id] for it in pool)
        pool = [it for it in pool if shown[it.result.id] == fewest]
        return pool[self._rng.randrange(len(pool))]

    def _outcomes(
        self, choices: list[dict[str, Any]], index: dict[str, int], by: str | None
    ) -> tuple[list[tuple[int, int, float]], Counter[tuple[int, int]], Counter[str]]:
        ids = {it.result.id: it for it in self.items}
        outcomes, pairs, shown = [], Counter[tuple[int, int]](), Counter[str]()
        for c in choices:
            a, b = ids.get(str(c.get("left"))), ids.get(str(c.get("right")))
            if a is None or b is None:
                continue
            shown[a.result.id] += 1
            shown[b.result.id] += 1
            u, v = index[self.value(a, by)], index[self.value(b, by)]
            if u == v:
                continue
            pairs[(min(u, v), max(u, v))] += 1
            s = {"left": 1.0, "right": 0.0, "tie": 0.5}.get(str(c.get("choice")))
            if s is not None:
                outcomes.append((u, v, s))
        return outcomes, pairs, shown

    # -- the ranking --------------------------------------------------------------------------
    def ranking(
        self, by: str | None = None, rater: str | None = None, judge: Any = None,
        weight: float = 1.0,
    ) -> Table:  # fmt: skip
        """A Bradley-Terry score per value of ``by`` (the duel's axis when None; each image when
        neither), best first, with its 95% interval and the choices behind it (``n``).

        ``judge`` (a JudgeReport, ``{run id: score}`` or a Judge, whose stored judgments are
        read) mixes a judge's scores in: between each two values it counts as ``weight``
        choices, won in the share of their image pairs where its score is higher (a tie half).
        ``n`` and wins/ties/losses stay people's; ``judge`` is its mean score per value."""
        by = self._axis(by) if by is not None else self.by
        values = list(dict.fromkeys(self.value(it, by) for it in self.items))
        index = {v: i for i, v in enumerate(values)}
        outcomes: list[bt.Outcome] = list(self._outcomes(self.choices(rater), index, by)[0])
        counts: list[dict[str, Any]] = [{"wins": 0, "ties": 0, "losses": 0} for _ in values]
        for u, v, s, *_ in outcomes:
            for me, mine in ((u, s), (v, 1 - s)):
                counts[me]["wins" if mine == 1 else "ties" if mine == 0.5 else "losses"] += 1
        people = len(outcomes)
        title = f"ranking by {by or 'image'}: {people} choices"
        columns = RANK_COLUMNS
        if judge is not None:
            scored = mixed.scores_of(judge, [it.result for it in self.items])
            per_value: list[list[float]] = [[] for _ in values]
            for it in self.items:
                if it.result.id in scored:
                    per_value[index[self.value(it, by)]].append(scored[it.result.id])
            virtual = mixed.virtual_games(per_value, weight)
            outcomes += virtual
            for c, xs in zip(counts, per_value, strict=True):
                c["judge"] = round(sum(xs) / len(xs), 3) if xs else None
            title += (
                f" and a judge's scores as {weight:g} choice(s) per pair ({len(virtual)} pairs)"
            )
            columns = [*RANK_COLUMNS, "judge"]
        rows = bt.rank_rows(values, outcomes, counts)
        title += " (Bradley-Terry, 95% interval)"
        return Table(*named(rows, columns, self.texts.get(by or "")), title)
