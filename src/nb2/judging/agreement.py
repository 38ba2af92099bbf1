"""How far to trust a judge on these prompts: how often it prefers the image people preferred.

Each decisive duel choice (left or right; ties and skips say nothing) between two judged runs
is a pair; the judge agrees when its score is higher for the one chosen, and a tie of scores
counts half. Pairwise accuracy comes with a bootstrap interval over the choices; Kendall's tau
(tau-b, ties in the scores allowed) is over the same pairs, as +1 agree, -1 disagree.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError


@dataclass
class Agreement:
    pairs: int
    accuracy: float
    low: float
    high: float
    tau: float

    def __repr__(self) -> str:
        return (
            f"Agreement: the judge prefers the image people chose in {self.accuracy:.0%} of "
            f"{self.pairs} choices (95% interval {self.low:.0%} to {self.high:.0%}); "
            f"Kendall's tau {self.tau:+.2f}"
        )


def agreement(judged: Any, duel: Any, *, samples: int = 2000, seed: int = 0) -> Agreement:
    """``judged``: a JudgeReport (``g.judge()``) or a dict of scores by run id; ``duel``: an
    ``nb2.Duel`` (or anything with ``choices()``), or a list of choice records."""
    scores = judged.scores if hasattr(judged, "scores") else dict(judged)
    choices = duel.choices() if hasattr(duel, "choices") else list(duel)
    votes = []  # 1 agree, 0 disagree, 0.5 equal scores
    for c in choices:
        if c.get("choice") not in ("left", "right"):
            continue
        win, lose = (c["left"], c["right"]) if c["choice"] == "left" else (c["right"], c["left"])
        if win in scores and lose in scores:
            a, b = scores[win], scores[lose]
            votes.append(1.0 if a > b else 0.0 if a < b else 0.5)
    if not votes:
        raise ValidationError(
            "agreement: no decisive choice is between two judged runs",
            field="duel", value=len(choices), allowed="choices between runs the judge scored",
        )  # fmt: skip
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(votes, k=len(votes))) / len(votes) for _ in range(samples))
    agree = sum(v == 1.0 for v in votes)
    disagree = sum(v == 0.0 for v in votes)
    untied = agree + disagree
    ties = len(votes) - untied  # pairs the judge scored equal: tau-b's tie term
    tau = (agree - disagree) / ((untied + ties) * untied) ** 0.5 if untied else 0.0
    return Agreement(len(votes), sum(votes) / len(votes), means[int(0.025 * samples)],
                     means[int(0.975 * samples) - 1], tau)  # fmt: skip
