"""Bradley-Terry strengths from pairwise choices, with 95% intervals, in plain Python.

P(i beats j) = p_i / (p_i + p_j). The strengths are fitted by Hunter's (2004) MM iterations; a
tie counts half a win to each side. A weak prior (every item plays one virtual game, half won,
against an anchor of strength 1) keeps an item that won or lost everything finite and pins the
scale; scores are then centred, so a score is the log-odds of beating an average item (0). The
intervals come from the inverse of the Fisher information of the log-strengths (taken for the
centred scores): +-1.96 standard errors.
A few dozen values fit in milliseconds; no numpy or choix is needed for a table this size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Z95 = 1.959964
PRIOR = 0.5  # virtual wins (and losses) against the anchor


@dataclass
class Fit:
    score: list[float]  # log-strength, centred: 0 = an average item
    se: list[float]  # standard errors of the scores
    games: list[list[float]]  # games[i][j]: choices between i and j (ties included)


Outcome = tuple[int, int, float] | tuple[int, int, float, float]


def fit(k: int, outcomes: list[Outcome], iterations: int = 3000, tol: float = 1e-7) -> Fit:
    """Strengths of ``k`` items from ``outcomes``: (i, j, s) with s = 1 when i won, 0.5 a tie
    (any share between is a part-won game); a fourth element weighs the game (1 by default:
    a judge's virtual games can count for less or more than one person's choice)."""
    wins = [PRIOR] * k
    games = [[0.0] * k for _ in range(k)]
    for i, j, s, *rest in outcomes:
        w = float(rest[0]) if rest else 1.0
        if i == j or w <= 0:
            continue
        wins[i] += w * s
        wins[j] += w * (1.0 - s)
        games[i][j] += w
        games[j][i] += w
    p = [1.0] * k
    for _ in range(iterations):
        new = []
        for i in range(k):
            denom = 2 * PRIOR / (p[i] + 1.0)
            row = games[i]
            for j in range(k):
                if row[j]:
                    denom += row[j] / (p[i] + p[j])
            new.append(wins[i] / denom)
        done = max((abs(math.log(a / b)) for a, b in zip(new, p, strict=True)), default=0) < tol
        p = new
        if done:
            break
    raw = [math.log(v) for v in p]
    info = [[0.0] * k for _ in range(k)]
    for i in range(k):
        q0 = p[i] / (p[i] + 1.0)
        info[i][i] = 2 * PRIOR * q0 * (1 - q0)
        for j in range(k):
            if j != i and games[i][j]:
                q = p[i] / (p[i] + p[j])
                w = games[i][j] * q * (1 - q)
                info[i][i] += w
                info[i][j] -= w
    cov = invert(info)
    # Scores are centred (0 = the average item): a shift of every score is not something the
    # choices tell, so the variance of each score is that of its difference from the mean.
    mean = sum(raw) / k
    row_means = [sum(row) / k for row in cov]
    grand = sum(row_means) / k
    se = [math.sqrt(max(cov[i][i] - 2 * row_means[i] + grand, 0.0)) for i in range(k)]
    return Fit([v - mean for v in raw], se, games)


def win_probability(a: float, b: float) -> float:
    """P(an item of score ``a`` is chosen over one of score ``b``)."""
    return 1.0 / (1.0 + math.exp(b - a))


def invert(m: list[list[float]]) -> list[list[float]]:
    """The inverse of a small symmetric positive-definite matrix (Gauss-Jordan, pivoting)."""
    n = len(m)
    a = [[*row, *(1.0 if i == j else 0.0 for j in range(n))] for i, row in enumerate(m)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        lead = a[col][col]
        if abs(lead) < 1e-300:
            raise ValueError("the information matrix is singular")
        a[col] = [v / lead for v in a[col]]
        for r in range(n):
            if r != col and a[r][col]:
                factor = a[r][col]
                a[r] = [v - factor * c for v, c in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def rank_rows(
    values: list[Any], outcomes: list[Outcome], counts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per value, best first: value, score, low, high (95%), n (choices), wins,
    ties, losses."""
    result = fit(len(values), outcomes)
    rows = []
    for i, value in enumerate(values):
        s, e = result.score[i], result.se[i]
        c = counts[i]
        rows.append({
            "value": value,
            "score": round(s, 4),
            "low": round(s - Z95 * e, 4),
            "high": round(s + Z95 * e, 4),
            "n": c["wins"] + c["ties"] + c["losses"],
            **c,  # wins, ties, losses (and a judge's mean score, when one is mixed in)
        })  # fmt: skip
    rows.sort(key=lambda r: (-r["score"], str(r["value"])))
    return rows
