"""A grid's manifest: every cell's record with sorted keys, as JSON (``nb2-manifest/1``), and
:func:`diff_manifests` to say what differs between two runs of an experiment."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..request.references import as_reference

if TYPE_CHECKING:
    from .cells import Cell
    from .cells import GridShape as Grid

MANIFEST_FORMAT = "nb2-manifest/1"
# Fields of a manifest cell that differ between two runs of the same experiment by nature.
VOLATILE = frozenset(
    {"run_id", "path", "sha256", "wall_time", "completed_at", "grounded_at", "prediction_id",
     "record", "cached", "cost"}
)  # fmt: skip


def manifest(grid: Grid, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Every cell's record with its labels, status, cost, time, file and cache key; written to
    ``path`` as JSON with sorted keys when given."""
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
        "fixed": jsonable_fixed(grid),
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
        "cache_key": cell.params.cache_key if cell.params is not None else None,
        "params": cell.params.to_dict() if cell.params is not None else None,
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
        refs = [as_reference(v, i) for i, v in enumerate(value)]
        return [{"name": r.name, "role": r.role, "sha256": r.sha256} for r in refs]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def jsonable_fixed(grid: Grid) -> dict[str, Any]:
    """The grid's fixed parameters as plain JSON values (references by name, role, hash)."""
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
