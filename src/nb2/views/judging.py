"""HTML for judgments: a rating badge, tables (rankings, summaries), a difference card.

Read from plain data and the attributes named here; every user string is escaped.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from html import escape
from typing import Any

STAR, HOLLOW = "★", "☆"
SHORT = 48  # characters of a value a table shows (the whole one is in its row and its title)
CONTEXT = 12  # characters shown past the point where a value parts from the one most like it


def stars(score: int | None) -> str:
    return "" if score is None else STAR * score + HOLLOW * (5 - score)


def rating_badge(result: Any) -> str:
    """The rating of a result as stars (its note on hover); "" when unrated."""
    score = getattr(result, "rating", None)
    if score is None:
        return ""
    note = getattr(result, "note", "") or ""
    title = f"rated {score}/5" + (f": {note}" if note else "")
    return (
        f'<span class="badge nb2-rating" data-rating="{int(score)}" title="{escape(title)}">'
        f"{stars(int(score))}</span>"
    )


def judge_badge(result: Any) -> str:
    """The newest judge score of a result (0 to 1), its failed questions on hover; "" when
    not judged. Its colour steps with the score, as the explorer colours a cell."""
    j = getattr(result, "judgment", None)
    if j is None:
        return ""
    missed = "; ".join(q.text for q in j.failed)
    title = f"{j.judge}: {j.passed} of {len(j.questions)} questions passed" + (
        f"; failed: {missed}" if missed else "")  # fmt: skip
    return (
        f'<span class="badge nb2-score" data-band="{score_band(j.score)}" '
        f'title="{escape(title)}">judge {j.score:.2f}</span>'
    )


def score_band(score: float) -> str:
    """A score's band: what the colour of a badge or an explorer cell says."""
    return "high" if score >= 0.8 else "mid" if score >= 0.5 else "low"


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if column.endswith("time") and isinstance(value, (int, float)):
        return f"{value:.1f} s"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def shorten(text: str, others: Sequence[str] = (), limit: int = SHORT) -> str:
    """``text`` on one line in at most ``limit`` characters, an ellipsis where it is cut.

    Variants of one prompt often share a long head and differ near the end, where a plain cut
    would make them look alike: when ``text`` parts from the most similar of ``others`` too far
    in, a short head is kept and the part where it differs is shown after an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    at = max((_common(text, " ".join(o.split())) for o in others if o != text), default=0)
    if at + CONTEXT < limit:
        return text[: limit - 1].rstrip() + "…"
    head = text[: limit // 3].rsplit(" ", 1)[0].rstrip()
    room = limit - len(head) - 2  # the two ellipses
    start = max(len(head) + 1, min(at - room // 4, len(text) - room))
    space = text.find(" ", start - 1, start + 8)  # begin on a word when one begins near
    start = space + 1 if space >= 0 and space + 1 + room >= at + CONTEXT // 2 else start
    part = text[start : start + room]
    return f"{head}…{part.strip()}" + ("…" if start + room < len(text) else "")


def _common(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` share from the start."""
    pairs = enumerate(zip(a, b, strict=False))
    return next((i for i, (x, y) in pairs if x != y), min(len(a), len(b)))


def shown_values(rows: list[dict[str, Any]]) -> list[str]:
    """Each row's ``value`` as a table shows it: shortened, and told apart from the others."""
    values = [_fmt(row.get("value")) for row in rows]
    return [shorten(v, values) for v in values]


def table_html(rows: list[dict[str, Any]], columns: list[str], caption: str = "") -> str:
    """A plain table of ``rows`` (dicts) in the order of ``columns``; a shortened value has the
    whole one as its title."""

    def td(row: dict[str, Any], column: str, short: str) -> str:
        text = _fmt(row.get(column), column)
        if column == "value" and short != text:
            return f'<td title="{escape(text)}">{escape(short)}</td>'
        return f"<td>{escape(text)}</td>"

    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(td(row, c, short) for c in columns) + "</tr>"
        for row, short in zip(rows, shown_values(rows), strict=True)
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<div class="nb2"><table>{cap}<tr>{head}</tr>{body}</table></div>'


def table_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [
        [short if c == "value" else _fmt(row.get(c), c) for c in columns]
        for row, short in zip(rows, shown_values(rows), strict=True)
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _png_uri(image: Any, side: int) -> str:
    img = image.copy()
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def diff_html(image: Any, changed: float, ssim: float, box: Any, side: int = 384) -> str:
    """The difference map beside its figures."""
    where = "nowhere" if box is None else f"within {tuple(box)}"
    return (
        f'<div class="nb2"><table><tr><td><img src="{_png_uri(image, side)}" '
        f'alt="difference map"></td><td><div><b>changed</b> {changed:.1%} of the image</div>'
        f"<div><b>structural similarity</b> {ssim:.3f}</div>"
        f'<div class="meta">{escape(where)}</div></td></tr></table></div>'
    )
