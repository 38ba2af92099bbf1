"""The gallery's state as plain data: one page of runs from the index, a run's detail (its
lineage, the ``%%nb2`` cell that would make it again), and the filter choices."""

from __future__ import annotations

import re
import shlex
from typing import Any

from .. import models
from ..request.references import ROLES
from ..session.result import Result
from ..store import Store
from ..store.filters import Query
from ..store.index import Index
from ..store.thumbs import thumbnail

THUMB_SIDE = 192
_LINEAGE = 12  # ancestors shown


def choices(store: Store) -> dict[str, Any]:
    """What the filters offer: the models, and the values this store holds."""
    index = Index.of(store)

    def distinct(column: str) -> list[str]:
        rows = index.sql(f"SELECT DISTINCT {column} FROM runs WHERE {column} IS NOT NULL")
        return sorted(str(v) for (v,) in rows if v not in ("", None))

    return {
        "models": sorted(set(models.MODELS) | set(distinct("model"))),
        "resolutions": list(models.RESOLUTIONS),
        "aspect_ratios": distinct("aspect_ratio"),
        "formats": ["png", "jpg"],
        "sessions": distinct("session"),
        "statuses": ["succeeded", "failed", "blocked", "canceled", "pending"],
        "sorts": ["time", "oldest", "cost", "cheapest"],
    }


def page(store: Store, query: Query) -> tuple[list[dict[str, Any]], int]:
    """The runs of one page (with thumbnails made once and kept) and the total that match."""
    index = Index.of(store)
    rows = index.search(query, with_record=False)
    total = index.count(query)
    items = []
    for r in rows:
        items.append(
            {
                "id": r["run_id"], "prompt": r["prompt"], "model": r["model"],
                "resolution": r["resolution"] or "", "aspect_ratio": r["aspect_ratio"] or "",
                "format": r["output_format"] or "", "search": bool(r["google_search"]),
                "cost": r["cost"], "when": r["at"], "width": r["width"], "height": r["height"],
                "offline": bool(r["offline"]), "session": r["session"] or "", "kind": r["kind"],
                "status": r["status"],
                "thumb": thumbnail(store, r["sha256"] or "", r["ext"], THUMB_SIDE),
            }
        )  # fmt: skip
    return items, total


def detail(result: Result) -> dict[str, Any]:
    """Everything the detail view shows of one run (its image is sent apart)."""
    rec, p = result.record, result.record.get("params") or {}
    out = rec.get("output") or {}
    return {
        "id": result.id, "prompt": p.get("prompt", ""), "model": rec.get("model", ""),
        "resolution": p.get("resolution") or "", "aspect_ratio": p.get("aspect_ratio") or "",
        "format": p.get("output_format") or "", "search": bool(p.get("google_search")),
        "image_search": bool(p.get("image_search")), "kind": rec.get("kind", ""),
        "session": rec.get("session") or "", "status": rec.get("status", ""),
        "requested_at": rec.get("requested_at") or "", "wall_time": rec.get("wall_time"),
        "cost": result.cost, "offline": result.offline,
        "width": out.get("width"), "height": out.get("height"),
        "references": [{"role": r.get("role") or "", "name": r.get("name") or ""}
                       for r in p.get("references") or []],
        "lineage": lineage(result), "cell": cell_of(result),
        "path": str(result.path) if result.record.get("output") else "",
    }  # fmt: skip


def lineage(result: Result) -> list[dict[str, Any]]:
    """The runs this one was made from, oldest first (edits, upscales), as far as stored."""
    chain = []
    rec: dict[str, Any] | None = result.record
    seen = {result.id}
    while rec and isinstance(rec.get("parent"), str) and len(chain) < _LINEAGE:
        rec = result.store.get(rec["parent"])
        if not rec or rec["run_id"] in seen:
            break
        seen.add(rec["run_id"])
        p = rec.get("params") or {}
        out = rec.get("output") or {}
        chain.append(
            {"id": rec["run_id"], "prompt": p.get("prompt", ""), "kind": rec.get("kind", ""),
             "thumb": thumbnail(result.store, out.get("sha256", ""), out.get("format"), 96)}
        )  # fmt: skip
    return chain[::-1]


def cell_of(result: Result) -> str:
    """The ``%%nb2`` cell that asks for exactly this request again (a cache hit, offline or
    at the same endpoint; its references are read from the store)."""
    p = result.params
    spec = models.resolve_model(p.model)
    line = ["%%nb2", "--model", spec.id.split("/")[-1]]
    if p.resolution and spec.has_resolution:
        line += ["--resolution", p.resolution]
    if p.aspect_ratio:
        line += ["--aspect", p.aspect_ratio]
    line += ["--format", p.output_format]
    if p.image_search:
        line.append("--image-search")
    elif p.google_search:
        line.append("--search")
    for ref in p.references:
        path = result.store.image_path(ref.sha256)
        source = shlex.quote(str(path)) if path else f"<missing {ref.sha256[:12]}>"
        role = "" if not ref.role else ref.role if ref.role in ROLES else f"'{ref.role}'"
        line.append(f"--ref {source}:{role}" if role else f"--ref {source}")
    prompt = p.prompt.replace("{", "{{").replace("}", "}}")  # the magic reads {name}
    prompt = re.sub(r"^(\s*)---(\s*)$", r"\1- - -\2", prompt, flags=re.M)  # not a variant split
    return " ".join(line) + "\n" + prompt
