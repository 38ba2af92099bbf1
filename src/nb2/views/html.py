"""HTML for results, histories, plans and grids: small thumbnails inline, full size on disk.

Every user string (prompts, file names, roles, errors) goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import functools
from html import escape
from typing import Any

from .judging import rating_badge
from .types import GridLike, HistoryLike, ResultLike, cell_at, layout

THUMB_SIDE = 384  # a card's thumbnail; tens of KB whatever the image's resolution
SMALL_SIDE = 160  # history and grid cells
REF_SIDE = 56

_CSS = (
    "<style>.nb2{font:13px/1.4 system-ui,sans-serif;color:#222}"
    ".nb2 img{border-radius:4px;display:block}.nb2 .meta{color:#555}"
    ".nb2 .badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;"
    "margin-right:3px;background:#eee}.nb2 .off{background:#ffd600;color:#000}"
    ".nb2 .bad{background:#c62828;color:#fff}.nb2 .ok{background:#e3f2e5}"
    ".nb2 table{border-collapse:collapse}.nb2 td,.nb2 th{padding:4px;vertical-align:top;"
    "text-align:left}.nb2 code{font-size:11px}</style>"
)


@functools.lru_cache(maxsize=256)
def thumb_uri(path: str, side: int) -> str:
    """A data URI of a JPEG thumbnail of the file at ``path`` (cached: files never change)."""
    from ..imaging import thumbnail_bytes

    with open(path, "rb") as f:
        data = thumbnail_bytes(f.read(), side, quality=80 if side > 200 else 70)
    mime = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _img(result: ResultLike, side: int, title: str = "") -> str:
    t = f' title="{escape(title)}"' if title else ""
    return (
        f'<img src="{thumb_uri(str(result.path), side)}" alt="nb2 result {escape(result.id)}"{t}>'
    )


def badges(result: ResultLike | None, status: str | None = None) -> str:
    out = []
    if result is not None and result.offline:
        out.append('<span class="badge off">offline</span>')
    if result is not None and result.cached:
        out.append('<span class="badge">cached</span>')
    if result is not None and result.grounded_at:
        when = escape(result.grounded_at)
        if result.cached:  # replayed: the web it saw is the web of then, not of now
            out.append(
                f'<span class="badge" title="web search at {when}">snapshot {when[:16]}</span>'
            )
        else:
            out.append(f'<span class="badge" title="web search at {when}">grounded</span>')
    out.append(rating_badge(result))  # issue 15: the rating, wherever a result shows
    if status in ("failed", "blocked", "canceled"):
        out.append(f'<span class="badge bad">{escape(status)}</span>')
    return "".join(out)


def result_html(result: ResultLike) -> str:
    rec = result.record
    p = rec["params"]
    w, h = result.size
    rows = [
        ("model", p["model"]),
        (
            "size",
            f"{w}x{h} {rec['output']['format']} ({p.get('resolution') or '-'}, "
            f"{p['aspect_ratio']})",
        ),
    ]
    if p.get("google_search") or p.get("image_search"):
        how = "web + image search" if p.get("image_search") else "web search"
        if result.grounded_at:
            how += f", a snapshot of the web at {result.grounded_at}"
        rows.append(("grounding", how))
    time_s = rec.get("wall_time")
    rows.append(("time", f"{time_s:.1f} s" if isinstance(time_s, (int, float)) else "-"))
    cost = "0 (offline)" if result.offline else f"~${result.cost:.3f}"
    if not getattr(result, "cost_known", True):
        cost = "unknown (nb2.models.set_price)"
    rows.append(("cost", cost))
    rows.append(("file", str(result.path)))
    refs = ""
    if result.params.references:
        cells = []
        for ref, meta in zip(result.params.references, p["references"], strict=False):
            uri = "data:image/jpeg;base64," + base64.b64encode(ref.thumbnail(REF_SIDE)).decode()
            cells.append(
                f'<td><img src="{uri}" alt="{escape(meta["name"])}"><code>'
                f"{escape(meta['name'][:18])}</code><br>{escape(meta['role'] or '')}</td>"
            )
        refs = f"<table><tr>{''.join(cells)}</tr></table>"
    table = "".join(
        f'<tr><th class="meta">{escape(k)}</th><td>{escape(str(v))}</td></tr>' for k, v in rows
    )
    prompt = escape(p["prompt"])
    head = f"#{result.number} {escape(rec.get('kind', 'generate'))}" if result.number else ""
    return (
        f'{_CSS}<div class="nb2"><table><tr><td>{_img(result, THUMB_SIDE)}</td><td>'
        f"<div><b>{head}</b> {badges(result)}</div><div>{prompt}</div>"
        f"<table>{table}</table>{refs}</td></tr></table></div>"
    )


def history_html(history: HistoryLike) -> str:
    lines = []

    def walk(turn: Any, depth: int) -> None:
        r = turn.result
        current = ' style="outline:2px solid #1e88e5"' if r == history.current else ""
        lines.append(
            f'<div style="margin-left:{depth * 28}px;display:flex;gap:8px;margin-bottom:6px">'
            f"<div{current}>{_img(r, 96, r.params.prompt)}</div><div><b>#{turn.number}</b> "
            f"{escape(turn.kind)} {badges(r)}<br>{escape(r.params.prompt)}<br>"
            f'<span class="meta">{r.size[0]}x{r.size[1]}</span></div></div>'
        )
        for child in turn.children:
            walk(child, depth + 1)

    for t in history.turns:
        if t.parent is None:
            walk(t, 0)
    return f'{_CSS}<div class="nb2">{"".join(lines) or "no turns yet"}</div>'


def plan_html(plan: Any) -> str:
    return f'{_CSS}<div class="nb2"><pre>{escape(repr(plan))}</pre></div>'


def status_html(text: str) -> str:
    return f'{_CSS}<div class="nb2 meta">{escape(text)}</div>'


def grid_html(grid: GridLike) -> str:
    """Axes as headers: rows x columns, one table per value of any further axes."""
    outer, row, col, groups = layout(grid)
    prompts = _prompt_legend(grid)
    parts = []
    for key, cells in groups.items():
        title = ", ".join(f"{n}={v}" for n, v in zip(outer, key, strict=True))
        cols = list(dict.fromkeys(c.labels[col] for c in cells)) if col else [""]
        rows = list(dict.fromkeys(c.labels[row] for c in cells)) if row else [""]
        head = "".join(f"<th>{escape(col or '')}={escape(c)}</th>" for c in cols)
        body = []
        for rv in rows:
            tds = []
            for cv in cols:
                cell = cell_at(cells, row, rv, col, cv)
                tds.append(f"<td>{_cell_html(cell)}</td>")
            label = f"{escape(row)}={escape(rv)}" if row else ""
            body.append(f"<tr><th>{label}</th>{''.join(tds)}</tr>")
        caption = f"<caption>{escape(title)}</caption>" if title else ""
        parts.append(f"<table>{caption}<tr><th></th>{head}</tr>{''.join(body)}</table>")
    return f'{_CSS}<div class="nb2">{"".join(parts)}{prompts}</div>'


def _cell_html(cell: Any) -> str:
    if cell is None:
        return ""
    if cell.result is not None:
        r = cell.result
        cost = "" if r.offline or r.cached else f" ~${r.cost:.3f}"
        t = r.record.get("wall_time")
        t = f" {t:.1f}s" if isinstance(t, (int, float)) and not r.cached else ""
        return f"{_img(r, SMALL_SIDE, r.params.prompt)}{badges(r)}<span class=meta>{cost}{t}</span>"
    err = f'<div class="meta">{escape((cell.error or "")[:160])}</div>' if cell.error else ""
    return f'<span class="badge {"bad" if cell.error else ""}">{escape(cell.status)}</span>{err}'


def _prompt_legend(grid: GridLike) -> str:
    if "prompt" not in grid.axes:
        return ""
    items = [
        f"<li><b>{escape(label)}</b> {_diff_words(value, grid)}</li>"
        for label, value in grid.axes["prompt"]
    ]
    return f"<ul>{''.join(items)}</ul>"


def _diff_words(prompt: str, grid: GridLike) -> str:
    """The prompt with the words that not every variant shares in bold."""
    others = [set(v.split()) for _, v in grid.axes["prompt"]]
    common = set.intersection(*others) if others else set()
    return " ".join(
        escape(w) if w in common else f"<mark>{escape(w)}</mark>" for w in prompt.split()
    )
