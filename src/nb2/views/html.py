"""HTML for results, histories, plans and grids: small thumbnails inline, full size on disk.

Every user string (prompts, file names, roles, errors) goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import functools
from html import escape
from typing import Any

from .judging import judge_badge, rating_badge
from .style import CSS
from .types import GridLike, HistoryLike, ResultLike, axis_name, cell_at, layout

THUMB_SIDE = 384  # a card's thumbnail; tens of KB whatever the image's resolution
SMALL_SIDE = 160  # history and grid cells
REF_SIDE = 56

_CSS = CSS


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
    out.append(rating_badge(result))  # the rating and the judge's score, wherever it shows
    out.append(judge_badge(result))
    if status in ("failed", "blocked", "canceled"):
        out.append(f'<span class="badge bad">{escape(status)}</span>')
    return "".join(out)


def result_html(result: ResultLike) -> str:
    """The card: the thumbnail left (its width set by the image alone), then the heading,
    the prompt and label-value pairs, left-aligned next to their labels."""
    rec = result.record
    p = rec["params"]
    rows = [("model", p["model"]), ("size", size_text(result))]
    if p.get("google_search") or p.get("image_search"):
        how = "web + image search" if p.get("image_search") else "web search"
        if result.grounded_at:
            how += f", a snapshot of the web at {result.grounded_at}"
        rows.append(("grounding", how))
    time_s = rec.get("wall_time")
    took = f"{time_s:.1f} s" if isinstance(time_s, (int, float)) else "–"
    rows.append(("time", took + (" (then; now from the store)" if result.cached else "")))
    cost = "0 (offline)" if result.offline else f"~${result.cost:.3f}"
    if rec.get("cost") is not None:  # the API's own token counts: exact
        cost = f"${rec['cost']:.4f} ({_tokens(rec.get('usage') or {})})"
    elif not getattr(result, "cost_known", True):
        cost = "unknown (nb2.models.set_price)"
    rows.append(("cost", cost))
    if (p.get("options") or {}).get("thinking"):
        rows.append(("thinking", p["options"]["thinking"]))
    if rec.get("text"):
        rows.append(("the model said", rec["text"][:300]))
    if (j := getattr(result, "judgment", None)) is not None:
        missed = "; ".join(q.text for q in j.failed) or "none"
        rows.append(("judged", f"{j.score:.2f} by {j.judge} ({j.passed} of "
                               f"{len(j.questions)} passed; failed: {missed})"))  # fmt: skip
    pairs = "".join(
        f'<div class="nb2-k">{escape(k)}</div><div class="nb2-v">{escape(str(v))}</div>'
        for k, v in rows
    )
    pairs += _sources_html(rec.get("grounding"))
    path = escape(str(result.path))
    pairs += f'<div class="nb2-k">file</div><div class="nb2-v"><code>{path}</code></div>'
    return (
        f'{_CSS}<div class="nb2"><div class="nb2-card">'
        f'<div class="nb2-thumb">{_img(result, THUMB_SIDE)}</div><div class="nb2-body">'
        f'<div class="nb2-title">{title(result)} {badges(result)}</div>'
        f'<div class="nb2-text">{escape(p["prompt"])}</div>'
        f'<div class="nb2-kv">{pairs}</div>{_refs_html(result)}</div></div></div>'
    )


def _tokens(usage: dict[str, Any]) -> str:
    made = {
        d.get("modality"): d.get("tokenCount") for d in usage.get("candidatesTokensDetails") or []
    }
    bits = [f"{usage.get('promptTokenCount', 0)} in", f"{made.get('IMAGE', 0)} image"]
    if usage.get("thoughtsTokenCount"):
        bits.append(f"{usage['thoughtsTokenCount']} thinking")
    return " + ".join(bits) + " tokens"


def _sources_html(grounding: dict[str, Any] | None) -> str:
    """What a grounded answer searched and read: its queries, and each source as a link
    (escaped; only http(s) links are links)."""
    if not grounding:
        return ""
    # the image searches often repeat the web's: each query once, in order
    queries = list(dict.fromkeys(grounding.get("queries", []) + grounding.get("image_queries", [])))
    out = ""
    if queries:
        said = "; ".join(escape(str(q)) for q in queries[:6])
        out += f'<div class="nb2-k">searched</div><div class="nb2-v">{said}</div>'
    links = []
    for src in grounding.get("sources", [])[:8]:
        uri, name = str(src.get("uri") or ""), str(src.get("title") or src.get("domain") or "")
        text = escape(name or uri)
        ok = uri.startswith(("https://", "http://"))
        links.append(f'<a href="{escape(uri)}" target="_blank" rel="noopener">{text}</a>'
                     if ok else text)  # fmt: skip
    if links:
        joined = " · ".join(links)
        out += f'<div class="nb2-k">sources</div><div class="nb2-v nb2-sources">{joined}</div>'
    return out


def title(result: ResultLike) -> str:
    """``#3 generate``, or for an edit ``#2 edit of #1`` (its parent by number, not by hash)."""
    kind = str(result.record.get("kind", "generate"))
    head = f"#{result.number} {kind}" if result.number else kind
    parent = _parent_number(result)
    if kind in ("edit", "upscale") and parent:
        head += f" of #{parent}"
    return escape(head)


def _parent_number(result: ResultLike) -> int:
    try:
        parent = getattr(result, "parent", None)
    except Exception:  # a result read from a store without its session
        return 0
    return int(getattr(parent, "number", 0) or 0)


def size_text(result: ResultLike) -> str:
    """What came out, in plain words: ``1376 × 768 px, 16:9, 1K, PNG`` (an aspect of
    ``match_input_image`` is said as the ratio it came out at, "as the input")."""
    from .. import models

    p = result.record["params"]
    w, h = result.size
    fmt = str(result.record["output"].get("format") or p.get("output_format") or "").upper()
    aspect = p.get("aspect_ratio") or ""
    if aspect in ("", models.MATCH_INPUT):
        try:
            spec = models.resolve_model(p["model"])
            aspect = f"{models.nearest_ratio(spec, w, h)} as the input"
        except Exception:  # a model this version does not know
            aspect = "as the input"
    bits = [f"{w} × {h} px", aspect, p.get("resolution") or "", fmt]
    return ", ".join(b for b in bits if b)


def _refs_html(result: ResultLike) -> str:
    if not result.params.references:
        return ""
    parent = _parent_number(result)
    cells = []
    metas = result.record["params"]["references"]
    for ref, meta in zip(result.params.references, metas, strict=False):
        uri = "data:image/jpeg;base64," + base64.b64encode(ref.thumbnail(REF_SIDE)).decode()
        role = meta.get("role") or ""
        if role == "edit":  # the image being edited: its turn, not its hash
            name = f"#{parent}, edited" if parent else "the image edited"
        else:
            name = meta["name"] if len(meta["name"]) <= 24 else meta["name"][:23] + "…"
            name += f" · {role}" if role else ""
        cells.append(
            f'<div class="nb2-card-ref" title="{escape(meta["name"])}"><img src="{uri}" '
            f'alt="{escape(meta["name"])}">{escape(name)}</div>'
        )
    return f'<div class="nb2-card-refs">{"".join(cells)}</div>'


def history_html(history: HistoryLike) -> str:
    lines = []

    def walk(turn: Any, depth: int) -> None:
        r = turn.result
        current = " nb2-current" if r == history.current else ""
        lines.append(
            f'<div class="nb2-turn{current}" style="margin-left:{depth * 28}px">'
            f'<div>{_img(r, 96, r.params.prompt)}</div><div class="nb2-turn-body">'
            f"<b>{title(r)}</b> {badges(r)}<br>{escape(r.params.prompt)}<br>"
            f'<span class="meta">{escape(size_text(r))}</span></div></div>'
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
        head = "".join(f"<th>{_label(col, c)}</th>" for c in cols)
        body = []
        for rv in rows:
            tds = []
            for cv in cols:
                cell = cell_at(cells, row, rv, col, cv)
                tds.append(f"<td>{_cell_html(cell)}</td>")
            label = _label(row, rv) if row else ""
            body.append(f'<tr><th class="nb2-rowhead">{label}</th>{"".join(tds)}</tr>')
        caption = f"<caption>{escape(title)}</caption>" if title else ""
        parts.append(
            f'<table class="nb2-grid">{caption}<thead><tr><th></th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    return f'{_CSS}<div class="nb2">{"".join(parts)}{prompts}</div>'


def _cell_html(cell: Any) -> str:
    if cell is None:
        return ""
    if cell.result is not None:
        r = cell.result
        exact = r.record.get("cost") is not None  # the API's own tokens: no "about"
        cost = "" if r.offline or r.cached else f" {'' if exact else '~'}${r.cost:.3f}"
        t = r.record.get("wall_time")
        t = f" {t:.1f} s" if isinstance(t, (int, float)) and not r.cached else ""
        return (
            f"{_img(r, SMALL_SIDE, r.params.prompt)}"
            f'<div class="nb2-cellmeta">{badges(r)}<span class="meta">{cost}{t}</span></div>'
        )
    err = f'<div class="meta">{escape((cell.error or "")[:160])}</div>' if cell.error else ""
    return f'<span class="badge {"bad" if cell.error else ""}">{escape(cell.status)}</span>{err}'


def _prompt_legend(grid: GridLike) -> str:
    if "prompt" not in grid.axes:
        return ""
    items = [
        f"<li><b>{escape(label)}</b> {_diff_words(value, grid)}</li>"
        for label, value in grid.axes["prompt"]
    ]
    return f'<ul class="nb2-legend">{"".join(items)}</ul>'


def _label(axis: str | None, value: str) -> str:
    """A header: the value, the axis name in grey before it (``resolution`` 2K)."""
    axis = axis_name(axis)
    return f'<span class="meta">{escape(axis)}</span> {escape(value)}' if axis else escape(value)


def _diff_words(prompt: str, grid: GridLike) -> str:
    """The prompt with the words that not every variant shares marked; words compare without
    case and surrounding punctuation ("hour" and "Hour," are one word)."""
    others = [{_word(w) for w in v.split()} for _, v in grid.axes["prompt"]]
    common = set.intersection(*others) if others else set()
    return " ".join(
        escape(w) if _word(w) in common else f"<mark>{escape(w)}</mark>" for w in prompt.split()
    )


def _word(token: str) -> str:
    return token.strip(_PUNCT).casefold()


_PUNCT = ".,;:!?\"'()[]{}«»“”‘’…-–—"
