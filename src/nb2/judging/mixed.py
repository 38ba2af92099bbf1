"""A judge's scores as evidence beside people's choices, for one Bradley-Terry ranking.

Between each two values the judge counts as ``weight`` choices, won in the share of the image
pairs (one image of each value) where its score is the higher (an equal score is half). So a
judge that scored every image still weighs, per pair of values, what ``weight`` people would,
and people's choices can overrule it where they disagree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations
from typing import Any

from ..errors import ValidationError
from ..store.judgments import Judgments


def scores_of(judge: Any, results: Sequence[Any]) -> dict[str, float]:
    """``{run id: score}`` from a JudgeReport, a dict of scores, or a Judge (its judgments
    already stored for these results: nothing is asked)."""
    if hasattr(judge, "scores") and not callable(judge.scores):  # a JudgeReport
        judge = judge.scores
    if isinstance(judge, dict):
        bad = {k: v for k, v in judge.items() if not _is_score(v)}
        if bad:
            run, value = next(iter(bad.items()))
            raise ValidationError(
                f"ranking: judge score {value!r} of run {run!r} is not a score",
                field="judge", value=value, allowed="numbers from 0 to 1",
            )  # fmt: skip
        return {str(k): float(v) for k, v in judge.items()}
    if callable(getattr(judge, "key", None)):  # a Judge: what it has already judged
        out = {}
        for r in results:
            found = Judgments(r.store).score(judge.key(r))
            if found is not None and _is_score(found.get("score")):
                out[r.id] = float(found["score"])
        return out
    raise ValidationError(
        f"ranking: judge={judge!r} is not a judge's scores",
        field="judge", value=repr(judge)[:80],
        allowed="a JudgeReport (g.judge()), {run id: score} or an nb2.Judge",
    )  # fmt: skip


def virtual_games(
    per_value: list[list[float]], weight: float
) -> list[tuple[int, int, float, float]]:
    """One weighted game per pair of values that both have scores: (u, v, share won, weight)."""
    if (
        isinstance(weight, bool)
        or not isinstance(weight, (int, float))
        or not (math.isfinite(weight) and weight >= 0)
    ):
        raise ValidationError(
            f"ranking: weight {weight!r} is not a weight",
            field="weight", value=weight, allowed="a number of choices, 0 or more",
        )  # fmt: skip
    out = []
    for u, v in combinations(range(len(per_value)), 2):
        a, b = per_value[u], per_value[v]
        if not a or not b or weight == 0:
            continue
        won = sum(1.0 if x > y else 0.5 if x == y else 0.0 for x in a for y in b)
        out.append((u, v, won / (len(a) * len(b)), float(weight)))
    return out


def _is_score(value: Any) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float))
            and 0.0 <= float(value) <= 1.0)  # fmt: skip
