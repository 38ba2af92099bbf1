"""What a grid leaves behind: a contact sheet, a self-contained HTML report, a JSON manifest.

The contact sheet is one PIL image with the axis labels drawn in; the HTML report carries its
thumbnails as data URIs (one file to send to a colleague) and escapes every user string; the
manifest lists every cell's record with sorted keys, so two runs can be diffed
(:func:`diff_manifests`).
"""

from __future__ import annotations

import json
import math
import os
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .grid import Cell, Grid

MANIFEST_FORMAT = "nb2-manifest/1"
# Fields of a manifest cell that differ between two runs of the same experiment by nature.
VOLATILE = frozenset(
    {"run_id", "path", "sha256", "wall_time", "completed_at", "grounded_at", "prediction_id",
     "record", "cached", "cost"}
)  # fmt: skip
_PAD = 8
_BAD = {"failed": (251, 225, 225), "blocked": (255, 236, 200)}


# -- layout shared by the sheet ---------------------------------------------------------------
def _groups(grid: Grid) -> tuple[list[str], str | None, str | None, dict[tuple, list[Cell]]]:
    """Outer axes, the row axis, the column axis, and the cells of each outer combination."""
    names = list(grid.axes)
    col = names[-1] if names else None
    row = names[-2] if len(names) > 1 else None
    outer = names[:-2]
    groups: dict[tuple, list[Cell]] = {}
    for cell in grid.cells:
        groups.setdefault(tuple(cell.labels[n] for n in outer), []).append(cell)
    return outer, row, col, groups


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


def contact_sheet(grid: Grid, thumb: int = 256) -> Any:
    """One PIL image: a block per value of the outer axes, row and column headers, each cell's
    thumbnail (or its status and reason), and the prompt legend underneath.

    ``sheet.info["nb2_cells"]`` lists ``(labels, (left, top, right, bottom))`` per cell.
    """
    from PIL import Image, ImageDraw

    font, bold = _font(max(11, thumb // 18)), _font(max(13, thumb // 14))
    line_h = int(font.size * 1.35)
    outer, row, col, groups = _groups(grid)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    row_labels = {f"{row}={c.labels[row]}" for c in grid.cells} if row else set()
    label_w = min(
        math.ceil(max((probe.textlength(t, font=font) for t in row_labels), default=0)) + _PAD,
        thumb,
    )
    ncols = max(len({c.labels[col] for c in cells}) if col else 1 for cells in groups.values())
    width = _PAD + label_w + ncols * (thumb + _PAD) + _PAD
    legend = _legend(grid)
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
                cell = next(
                    (
                        c
                        for c in cells
                        if (not row or c.labels[row] == rv) and (not col or c.labels[col] == cv)
                    ),
                    None,
                )
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
    sheet: Any, draw: Any, cell: Cell | None, at: tuple[int, int], side: int, font: Any
) -> None:
    from .imaging import open_image, thumbnail_bytes

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


def _legend(grid: Grid) -> list[str]:
    out = [f"{label}: {value}" for label, value in grid.axes.get("prompt", [])]
    if "prompt" not in grid.axes and grid.cells:
        out.append(f"prompt: {grid.cells[0].params.prompt}")
    fixed = {k: v for k, v in _jsonable_fixed(grid).items() if k != "prompt"}
    if fixed:
        out.append("fixed: " + ", ".join(f"{k}={v}" for k, v in sorted(fixed.items())))
    return out


# -- the HTML report ----------------------------------------------------------------------------
def to_html(grid: Grid, path: str | os.PathLike[str]) -> Path:
    """A self-contained HTML page: the labelled grid (thumbnails as data URIs), the plan, the
    fixed parameters and one row per cell. Returns the path written."""
    from . import __version__
    from .display import grid_html

    counts = ", ".join(f"{v} {k}" for k, v in sorted(grid.counts().items()))
    axes = " x ".join(f"{escape(k)} ({len(v)})" for k, v in grid.axes.items()) or "none"
    backend = grid.session.backend.describe()
    offline = " (offline stand-in, not the model)" if backend.get("offline") else ""
    fixed = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
        for k, v in sorted(_jsonable_fixed(grid).items())
    )
    rows = "".join(_record_row(rec) for rec in grid.records())
    head = "".join(f"<th>{escape(h)}</th>" for h in ("cell", "status", "cost", "time", "file"))
    title = escape(f"nb2 grid: {len(grid.cells)} cells")
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f'<body style="font:14px system-ui,sans-serif;margin:16px"><h1>{title}</h1>'
        f"<p>Axes: {axes}. {escape(counts)}. Spent ~${grid.spent:.2f}. "
        f"Backend: {escape(str(backend.get('name')))}{offline}. nb2 {escape(__version__)}, "
        f"{escape(_now())}.</p>{grid_html(grid)}"
        f"<h2>Plan</h2><pre>{escape(repr(grid.plan()))}</pre>"
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


# -- the manifest -------------------------------------------------------------------------------
def manifest(grid: Grid, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Every cell's record with its labels, status, cost, time, file and cache key; written to
    ``path`` as JSON with sorted keys when given."""
    from . import __version__

    backend = grid.session.backend.describe()
    data = {
        "format": MANIFEST_FORMAT,
        "nb2_version": __version__,
        "created_at": _now(),
        "backend": {"name": backend.get("name"), "offline": bool(backend.get("offline"))},
        "cache": grid.session.cache,
        "axes": {
            name: [{"label": label, "value": _jsonable(name, v)} for label, v in values]
            for name, values in grid.axes.items()
        },
        "fixed": _jsonable_fixed(grid),
        "counts": dict(sorted(grid.counts().items())),
        "spent": round(grid.spent, 6),
        "cells": [_manifest_cell(c) for c in grid.cells],
    }
    if path is not None:
        Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return data


def _manifest_cell(cell: Cell) -> dict[str, Any]:
    r = cell.result
    rec = r.record if r is not None else {}
    out = rec.get("output") or {}
    return {
        "labels": dict(cell.labels),
        # the outcome; where it came from is "cached", so a replay diffs clean against its run
        "status": "succeeded" if cell.status == "cached" else cell.status,
        "error": cell.error,
        "cache_key": cell.params.cache_key,
        "params": cell.params.to_dict(),
        "run_id": rec.get("run_id"),
        "cached": bool(r and r.cached),
        "cost": r.cost if r is not None and not r.cached else 0.0,
        "estimated_cost": rec.get("estimated_cost"),
        "wall_time": rec.get("wall_time"),
        "completed_at": rec.get("completed_at"),
        "grounded_at": rec.get("grounded_at"),
        "prediction_id": rec.get("prediction_id"),
        "version": rec.get("version"),
        "path": str(r.path) if r is not None else None,
        "sha256": out.get("sha256"),
        "raw_sha256": out.get("raw_sha256"),
        "size": [out.get("width"), out.get("height")] if out else None,
        "record": rec or None,
    }


def _jsonable(name: str, value: Any) -> Any:
    if name == "references":
        from .references import as_reference

        refs = [as_reference(v, i) for i, v in enumerate(value)]
        return [{"name": r.name, "role": r.role, "sha256": r.sha256} for r in refs]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _jsonable_fixed(grid: Grid) -> dict[str, Any]:
    return {k: _jsonable(k, v) for k, v in sorted(grid.fixed.items())}


def diff_manifests(
    a: dict[str, Any] | str | os.PathLike[str],
    b: dict[str, Any] | str | os.PathLike[str],
    ignore: frozenset[str] | set[str] = VOLATILE,
) -> list[dict[str, Any]]:
    """What differs between two manifests (dicts or JSON files), cell by cell, matched by labels.

    Each change is ``{"labels", "change": "changed" | "only in a" | "only in b", "fields":
    {name: [a, b]}}``; a change of axes or fixed parameters has ``labels`` None. Fields that
    differ between any two runs by nature (run ids, times, file paths) are ignored unless
    ``ignore=()``.
    """
    ma, mb = (_load(m) for m in (a, b))
    changes: list[dict[str, Any]] = []
    top = {k: [ma.get(k), mb.get(k)] for k in ("axes", "fixed") if ma.get(k) != mb.get(k)}
    if top:
        changes.append({"labels": None, "change": "grid", "fields": top})
    cells_a = {_key(c): c for c in ma.get("cells", [])}
    cells_b = {_key(c): c for c in mb.get("cells", [])}
    for key in dict.fromkeys([*cells_a, *cells_b]):
        ca, cb = cells_a.get(key), cells_b.get(key)
        if ca is None or cb is None:
            side = "only in b" if ca is None else "only in a"
            changes.append({"labels": dict(key), "change": side, "fields": {}})
            continue
        fields = {
            k: [ca.get(k), cb.get(k)]
            for k in sorted(set(ca) | set(cb))
            if k not in ignore and ca.get(k) != cb.get(k)
        }
        if fields:
            changes.append({"labels": dict(key), "change": "changed", "fields": fields})
    return changes


def _key(cell: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(cell.get("labels", {}).items()))


def _load(m: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    return m if isinstance(m, dict) else json.loads(Path(m).read_text(encoding="utf-8"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
