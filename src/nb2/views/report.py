"""What a grid leaves behind for people: a contact sheet and a self-contained HTML report.

The contact sheet is one PIL image with the axis labels drawn in; the HTML report carries its
thumbnails as data URIs (one file to send to a colleague) and escapes every user string. Both
read the grid they are given (see types.py) and the plain data the engine passes in (the fixed
parameters, the plan, the backend); the manifest is the engine's (engine/manifests.py).
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from .types import CellLike, GridLike, cell_at, layout

_PAD = 8
_BAD = {"failed": (251, 225, 225), "blocked": (255, 236, 200)}


def _font(size: int) -> Any:
    """DejaVu Sans where installed (it has accents: café), else Pillow's own font."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


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


def contact_sheet(grid: GridLike, fixed: dict[str, Any], thumb: int = 256) -> Any:
    """One PIL image: a block per value of the outer axes, row and column headers, each cell's
    thumbnail (or its status and reason), and the prompt legend (with ``fixed``, the grid's
    fixed parameters as plain values) underneath.

    ``sheet.info["nb2_cells"]`` lists ``(labels, (left, top, right, bottom))`` per cell.
    """
    from PIL import Image, ImageDraw

    font, bold = _font(max(11, thumb // 18)), _font(max(13, thumb // 14))
    line_h = int(font.size * 1.35)
    outer, row, col, groups = layout(grid)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_labels = {f"{row}={c.labels[row]}" for c in grid.cells} if row else set()
    label_w = min(
        math.ceil(max((probe.textlength(t, font=font) for t in row_labels), default=0)) + _PAD,
        thumb,
    )
    ncols = max(len({c.labels[col] for c in cells}) if col else 1 for cells in groups.values())
    width = _PAD + label_w + ncols * (thumb + _PAD) + _PAD
    legend = _legend(grid, fixed)
    legend_lines = [ln for text in legend for ln in _wrap(probe, text, font, width - 2 * _PAD)]
    blocks = []
    for cells in groups.values():
        nrows = len({c.labels[row] for c in cells}) if row else 1
        blocks.append((line_h if outer else 0) + line_h + nrows * (thumb + _PAD) + _PAD)
    height = _PAD + sum(blocks) + len(legend_lines) * line_h + _PAD
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    boxes: list[tuple[dict[str, str], tuple[int, int, int, int]]] = []
    sheet.info["nb2_cells"] = boxes
    y = _PAD
    for key, cells in groups.items():
        if outer:
            title = ", ".join(f"{n}={v}" for n, v in zip(outer, key, strict=True))
            draw.text((_PAD, y), _fit(draw, title, bold, width - 2 * _PAD), fill="black", font=bold)
            y += line_h
        cols = list(dict.fromkeys(c.labels[col] for c in cells)) if col else [""]
        rows = list(dict.fromkeys(c.labels[row] for c in cells)) if row else [""]
        x0 = _PAD + label_w
        for j, cv in enumerate(cols):
            text = _fit(draw, f"{col}={cv}" if col else "", font, thumb)
            draw.text((x0 + j * (thumb + _PAD), y), text, fill="black", font=font)
        y += line_h
        for rv in rows:
            if row:
                text = _fit(draw, f"{row}={rv}", font, label_w - _PAD)
                draw.text((_PAD, y + 2), text, fill="black", font=font)
            for j, cv in enumerate(cols):
                cell = cell_at(cells, row, rv, col, cv)
                at = (x0 + j * (thumb + _PAD), y)
                _draw_cell(sheet, draw, cell, at, thumb, font)
                if cell is not None:  # where each cell went: for image maps (and tests)
                    boxes.append((dict(cell.labels), (*at, at[0] + thumb, at[1] + thumb)))
            y += thumb + _PAD
        y += _PAD
    for text in legend_lines:
        draw.text((_PAD, y), text, fill=(60, 60, 60), font=font)
        y += line_h
    return sheet


def _draw_cell(
    sheet: Any, draw: Any, cell: CellLike | None, at: tuple[int, int], side: int, font: Any
) -> None:
    from ..imaging import open_image, thumbnail_bytes

    x, y = at
    if cell is None:
        return
    if cell.result is not None:
        img = open_image(thumbnail_bytes(cell.result.path.read_bytes(), side))
        sheet.paste(img.convert("RGB"), (x + (side - img.width) // 2, y + (side - img.height) // 2))
        return
    draw.rectangle((x, y, x + side - 1, y + side - 1), fill=_BAD.get(cell.status, (236, 236, 236)))
    lines = [cell.status.upper(), *_wrap(draw, (cell.error or "")[:200], font, side - 2 * _PAD)]
    for i, text in enumerate(lines[: max(1, side // int(font.size * 1.35) - 1)]):
        draw.text((x + _PAD, y + _PAD + i * int(font.size * 1.35)), text, fill="black", font=font)


def _legend(grid: GridLike, fixed: dict[str, Any]) -> list[str]:
    out = [f"{label}: {value}" for label, value in grid.axes.get("prompt", [])]
    if "prompt" not in grid.axes and grid.cells:
        shown = next((c.params.prompt for c in grid.cells if c.params is not None), "")
        out.append(f"prompt: {shown}")
    fixed = {k: v for k, v in fixed.items() if k != "prompt"}
    if fixed:
        out.append("fixed: " + ", ".join(f"{k}={v}" for k, v in sorted(fixed.items())))
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
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in sorted(fixed.items())
    )
    rows = "".join(_record_row(rec) for rec in grid.records())
    head = "".join(f"<th>{escape(h)}</th>" for h in ("cell", "status", "cost", "time", "file"))
    title = escape(f"nb2 grid: {len(grid.cells)} cells")
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f'<body style="font:14px system-ui,sans-serif;margin:16px"><h1>{title}</h1>'
        f"<p>Axes: {axes}. {escape(counts)}. Spent ~${grid.spent:.2f}. "
        f"Backend: {escape(str(backend.get('name')))}{offline}. nb2 {escape(version)}, "
        f"{escape(_now())}.</p>{grid_html(grid)}"
        f"<h2>Plan</h2><pre>{escape(plan)}</pre>"
        f"<h2>Fixed parameters</h2><table>{fixed}</table>"
        f"<h2>Cells</h2><table><tr>{head}</tr>{rows}</table></body></html>"
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def _record_row(rec: dict[str, Any]) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in rec["labels"].items())
    cost = f"${rec['cost']:.3f}" if rec.get("cost") else "-"
    t = rec.get("wall_time")
    time_s = f"{t:.1f} s" if isinstance(t, (int, float)) else "-"
    status = rec["status"] + (f": {rec['error'][:200]}" if rec.get("error") else "")
    cells = (labels, status, cost, time_s, rec.get("path") or "-")
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
