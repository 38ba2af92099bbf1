"""HTML for judgments: a rating badge, tables (rankings, summaries), a difference card.

Read from plain data and the attributes named here; every user string is escaped.
"""

from __future__ import annotations

import base64
import io
from html import escape
from typing import Any

STAR, HOLLOW = "★", "☆"


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


def _fmt(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if column.endswith("time") and isinstance(value, (int, float)):
        return f"{value:.1f} s"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table_html(rows: list[dict[str, Any]], columns: list[str], caption: str = "") -> str:
    """A plain table of ``rows`` (dicts) in the order of ``columns``."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(row.get(c), c))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<div class="nb2"><table>{cap}<tr>{head}</tr>{body}</table></div>'


def table_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[_fmt(row.get(c), c) for c in columns] for row in rows]
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
