"""What a grid leaves behind for people: a contact sheet and a self-contained HTML report.

The contact sheet is one PIL image with the axis labels drawn in; the HTML report carries its
thumbnails as data URIs (one file to send to a colleague) and escapes every user string. Both
read the grid they are given (see types.py) and the plain data the engine passes in (the fixed
parameters, the plan, the backend); the manifest is the engine's (grids/manifests.py).
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from .types import CellLike, GridLike, axis_name, cell_at, layout, plain

_M = 24  # the sheet's margin
_GAP = 12  # between cells
_INK, _GREY, _RULE = (32, 33, 36), (110, 113, 118), (218, 220, 224)
_BAD = {"failed": (251, 225, 225), "blocked": (255, 236, 200)}


def _font(size: int, bold: bool = False) -> Any:
    from ..imaging import font

    return font(size, bold)


def _fit(draw: Any, text: str, font: Any, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _wrap(draw: Any, text: str, font: Any, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines


def _slot(grid: GridLike, thumb: int) -> tuple[int, int]:
    """One cell's box: ``thumb`` on the long side, shaped to the widest and the tallest image
    (16:9 images get 16:9 slots, not squares with blank bands)."""
    w = h = 0
    for c in grid.cells:
        try:
            pw, ph = c.result.size if c.result is not None else c.params.pixel_size()
        except Exception:  # a request whose size cannot be known: a square
            pw = ph = 1
        w, h = max(w, round(thumb * pw / max(pw, ph))), max(h, round(thumb * ph / max(pw, ph)))
    return max(w, thumb // 3), max(h, thumb // 3)


def contact_sheet(grid: GridLike, fixed: dict[str, Any], thumb: int = 256) -> Any:
    """One PIL image, for a slide: a block per value of the outer axes (titled), column
    headers over each column and row headers beside each row (axis in grey, value in bold),
    each cell's thumbnail in a slot of the images' own shape (or its status and reason), and
    the prompts and fixed parameters underneath.

    ``sheet.info["nb2_cells"]`` lists ``(labels, (left, top, right, bottom))`` per cell.
    """
    from PIL import Image, ImageDraw

    size = max(12, thumb // 16)
    font, bold, title_font = _font(size), _font(size, True), _font(round(size * 1.25), True)
    line_h = round(size * 1.45)
    sw, sh = _slot(grid, thumb)
    outer, row, col, groups = layout(grid)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_values = {c.labels[row] for c in grid.cells} if row else set()
    texts = [(axis_name(row), font)] + [(v, bold) for v in row_values]
    label_w = 0
    if row:
        widest = max(probe.textlength(t, font=f) for t, f in texts)
        label_w = min(math.ceil(widest), thumb) + _GAP
    ncols = max(len({c.labels[col] for c in cells}) if col else 1 for cells in groups.values())
    width = 2 * _M + label_w + ncols * sw + (ncols - 1) * _GAP
    inner = width - 2 * _M
    head_h = 2 * line_h if col else 0
    titles = {
        key: _wrap(probe, _block_title(grid, outer, key), title_font, inner) if outer else []
        for key in groups
    }
    legend = [ln for t in _legend(grid, fixed) for ln in _wrap(probe, t, font, inner)]
    height = _M
    for key, cells in groups.items():
        nrows = len({c.labels[row] for c in cells}) if row else 1
        height += len(titles[key]) * round(line_h * 1.25) + head_h + nrows * (sh + _GAP) + _M
    height += (len(legend) * line_h + _M // 2) if legend else 0
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    boxes: list[tuple[dict[str, str], tuple[int, int, int, int]]] = []
    sheet.info["nb2_cells"] = boxes
    y = _M
    for n, (key, cells) in enumerate(groups.items()):
        if n:  # a rule between blocks
            draw.line((_M, y - _M // 2, width - _M, y - _M // 2), fill=_RULE, width=1)
        for text in titles[key]:
            draw.text((_M, y), text, fill=_INK, font=title_font)
            y += round(line_h * 1.25)
        cols = list(dict.fromkeys(c.labels[col] for c in cells)) if col else [""]
        rows = list(dict.fromkeys(c.labels[row] for c in cells)) if row else [""]
        x0 = _M + label_w
        if col:  # the axis in grey over its value in bold, centred on the column
            for j, cv in enumerate(cols):
                cx = x0 + j * (sw + _GAP) + sw / 2
                _centred(draw, _fit(draw, axis_name(col), font, sw), cx, y, font, _GREY)
                _centred(draw, _fit(draw, cv, bold, sw), cx, y + line_h, bold, _INK)
            y += head_h
        for rv in rows:
            if row:  # beside its row, centred on the images, right-aligned to them
                top = y + sh / 2 - line_h
                for i, (text, face, ink) in enumerate(
                    ((axis_name(row), font, _GREY), (rv, bold, _INK))
                ):
                    text = _fit(draw, text, face, label_w - _GAP)
                    tx = x0 - _GAP - draw.textlength(text, font=face)
                    draw.text((tx, top + i * line_h), text, fill=ink, font=face)
            for j, cv in enumerate(cols):
                cell = cell_at(cells, row, rv, col, cv)
                at = (x0 + j * (sw + _GAP), y)
                _draw_cell(sheet, draw, cell, at, (sw, sh), font)
                if cell is not None:  # where each cell went: for image maps (and tests)
                    boxes.append((dict(cell.labels), (*at, at[0] + sw, at[1] + sh)))
            y += sh + _GAP
        y += _M - _GAP
    for text in legend:
        draw.text((_M, y), text, fill=_GREY, font=font)
        y += line_h
    return sheet


def _centred(draw: Any, text: str, cx: float, y: float, font: Any, ink: Any) -> None:
    draw.text((cx - draw.textlength(text, font=font) / 2, y), text, fill=ink, font=font)


def _block_title(grid: GridLike, outer: list[str], key: tuple) -> str:
    """``prompt P1: a rooftop café…`` (a prompt label with its text), ``web search on``."""
    prompts = dict(grid.axes.get("prompt", []))
    bits = []
    for name, value in zip(outer, key, strict=True):
        text = f"{axis_name(name)} {value}"
        if name == "prompt" and value in prompts:
            text += f": {prompts[value]}"
        bits.append(text)
    return " · ".join(bits)


def _draw_cell(
    sheet: Any, draw: Any, cell: CellLike | None, at: tuple[int, int], slot: tuple[int, int],
    font: Any,
) -> None:  # fmt: skip
    from ..imaging import open_image, thumbnail_bytes

    x, y = at
    sw, sh = slot
    if cell is None:
        return
    if cell.result is not None:
        img = open_image(thumbnail_bytes(cell.result.path.read_bytes(), max(sw, sh)))
        img.thumbnail((sw, sh))
        ix, iy = x + (sw - img.width) // 2, y + (sh - img.height) // 2
        sheet.paste(img.convert("RGB"), (ix, iy))
        if (j := getattr(cell.result, "judgment", None)) is not None:
            _score_tag(draw, j.score, (ix, iy + img.height), font)
            sheet.info.setdefault("nb2_scores", []).append((dict(cell.labels), j.score))
        return
    draw.rectangle((x, y, x + sw - 1, y + sh - 1), fill=_BAD.get(cell.status, (236, 236, 236)))
    pad, lh = 8, int(font.size * 1.35)
    lines = [cell.status.upper(), *_wrap(draw, (cell.error or "")[:200], font, sw - 2 * pad)]
    for i, text in enumerate(lines[: max(1, sh // lh - 1)]):
        draw.text((x + pad, y + pad + i * lh), text, fill="black", font=font)


_BANDS = {"high": (46, 125, 50), "mid": (239, 108, 0), "low": (198, 40, 40)}


def _score_tag(draw: Any, score: float, corner: tuple[int, int], font: Any) -> None:
    """The judge's score on the image's lower left, coloured by its band as the cards are."""
    from .judging import score_band

    text = f"{score:.2f}"
    pad = max(2, font.size // 4)
    w, h = draw.textlength(text, font=font) + 2 * pad, font.size * 1.3
    x, y = corner[0], corner[1] - h
    draw.rectangle((x, y, x + w, corner[1] - 1), fill=_BANDS[score_band(score)])
    draw.text((x + pad, y + pad / 2), text, fill="white", font=font)


def _legend(grid: GridLike, fixed: dict[str, Any]) -> list[str]:
    out = []
    outer = layout(grid)[0]
    if "prompt" not in outer:  # a block title already carries its prompt
        out = [f"{label}: {value}" for label, value in grid.axes.get("prompt", [])]
    if "prompt" not in grid.axes and grid.cells:
        shown = next((c.params.prompt for c in grid.cells if c.params is not None), "")
        out.append(f"prompt: {shown}")
    fixed = {k: v for k, v in fixed.items() if k != "prompt"}
    if fixed:
        out.append(
            "fixed: " + ", ".join(f"{axis_name(k)} {plain(k, v)}" for k, v in sorted(fixed.items()))
        )
    judges = {j.judge for c in grid.cells if (j := getattr(c.result, "judgment", None))}
    if judges:
        out.append(f"corner figures: the share of its prompt's questions an image passed "
                   f"({', '.join(sorted(judges))})")  # fmt: skip
    return out


# -- the HTML report ----------------------------------------------------------------------------
def to_html(
    grid: Any,
    path: str | os.PathLike[str],
    *,
    fixed: dict[str, Any],
    plan: str,
    backend: dict[str, Any],
    version: str,
) -> Path:
    """A self-contained HTML page: the labelled grid (thumbnails as data URIs), the plan, the
    fixed parameters and one row per cell. ``grid`` gives its cells, ``counts()``, ``spent``
    and ``records()``; the rest is plain data from the engine. Returns the path written."""
    from .html import grid_html

    counts = ", ".join(f"{v} {k}" for k, v in sorted(grid.counts().items()))
    axes = " x ".join(f"{escape(k)} ({len(v)})" for k, v in grid.axes.items()) or "none"
    offline = " (offline stand-in, not the model)" if backend.get("offline") else ""
    fixed = "".join(
        f"<tr><th>{escape(axis_name(k))}</th><td>{escape(plain(k, v))}</td></tr>"
        for k, v in sorted(fixed.items())
    )
    out = Path(path)
    rows = "".join(_record_row(rec, out) for rec in grid.records())
    head = "".join(f"<th>{escape(h)}</th>" for h in ("cell", "status", "cost", "time", "file"))
    title = escape(f"nb2 grid: {len(grid.cells)} cells")
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_PAGE_CSS}</style></head><body><h1>{title}</h1>"
        f"<p>Axes: {axes}. {escape(counts)}. Spent ~${grid.spent:.2f}. "
        f"Backend: {escape(str(backend.get('name')))}{offline}. nb2 {escape(version)}, "
        f"{escape(_now())}.</p>{grid_html(grid)}"
        f"<h2>Plan, as the run began</h2><pre>{escape(plan)}</pre>"
        f'<h2>Fixed parameters</h2><table class="nb2-report">{fixed}</table>'
        f'<h2>Cells</h2><table class="nb2-report"><tr>{head}</tr>{rows}</table>'
        "<p class=meta>Files are relative to this report's folder; the thumbnails above are "
        "inside the page.</p></body></html>"
    )
    out.write_text(page, encoding="utf-8")
    return out


_PAGE_CSS = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#202124;max-width:1200px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    "table.nb2-report{border-collapse:collapse}.nb2-report th,.nb2-report td{text-align:left;"
    "vertical-align:top;padding:4px 10px;border-bottom:1px solid #e0e0e0}"
    ".nb2-report th{color:#5f6368;font-weight:600}.meta{color:#5f6368}"
)


def _record_row(rec: dict[str, Any], where: Path) -> str:
    labels = ", ".join(f"{axis_name(k)} {v}" for k, v in rec["labels"].items())
    cost = f"${rec['cost']:.3f}" if rec.get("cost") else "–"
    t = rec.get("wall_time")
    time_s = f"{t:.1f} s" if isinstance(t, (int, float)) else "–"
    if rec.get("cached"):
        time_s += " (then; from the store now)" if time_s != "–" else " (from the store)"
    status = rec["status"] + (f": {rec['error'][:200]}" if rec.get("error") else "")
    cells = (labels, status, cost, time_s, _relative(rec.get("path"), where))
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _relative(path: str | None, where: Path) -> str:
    """A file as seen from the report's folder (the report travels; local paths do not)."""
    if not path:
        return "–"
    try:
        return Path(os.path.relpath(path, where.resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows): the name alone
        return Path(path).name


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
