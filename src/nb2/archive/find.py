"""Looking back over a store: ``find`` (runs as Results, newest first) and ``store_stats``.

Both read the SQLite run index (``store/index.py``), which keeps itself in step with the JSON
records; the Results they return are read from a store, not attached to a session (edit one by
adopting it: ``session.adopt(result)``).
"""

from __future__ import annotations

import base64
import os
from collections import defaultdict
from typing import Any

from ..errors import ValidationError
from ..session.result import Result
from ..store import Store
from ..store.filters import Query
from ..store.index import Index
from ..store.thumbs import thumbnail
from ..views.runs import runs_table_html, stats_html, stats_text

SHOWN = 50  # rows a notebook table shows; the list holds every match
THUMB = 96


def as_store(store: Store | str | os.PathLike[str] | None) -> Store:
    return store if isinstance(store, Store) else Store(store)


def find(
    text: str | None = None,
    *,
    store: Store | str | os.PathLike[str] | None = None,
    limit: int | None = None,
    min_rating: int | None = None,
    **filters: Any,
) -> Runs:
    """The stored runs matching ``text`` (every word, as a prefix, in the prompt) and the
    filters, newest first: model, resolution, aspect (aspect_ratio), format, search
    (google_search), image_search, status (default ``succeeded``; None: any), session, kind,
    grid, offline, since / until (``7d``, ``12h``, an ISO date), min_cost / max_cost,
    min_rating (1 to 5: rated at least that), and sort (``time``, ``oldest``, ``cost``,
    ``cheapest``)."""
    store = as_store(store)
    least = _least_rating(min_rating)
    # ratings live beside the records (store/judgments.py), not in the index: filter after it
    query = Query.make(text, limit=None if least else limit, **filters)
    rows = Index.of(store).search(query)
    found = [Result(r["record"], store) for r in rows]
    if least:
        found = [r for r in found if (r.rating or 0) >= least][:limit]
    return Runs(found, store, query)


def _least_rating(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError(
            f"min_rating: {value!r} is not a rating; allowed: 1 to 5",
            field="min_rating",
            value=value,
            allowed="1 to 5",
        )
    return value


class Runs(list[Result]):
    """A list of Results that shows as a thumbnail table in a notebook."""

    def __init__(self, results: list[Result], store: Store, query: Query | None = None) -> None:
        super().__init__(results)
        self.store = store
        self.query = query

    def rows(self, n: int = SHOWN, thumbs: bool = True) -> list[dict[str, Any]]:
        """Plain data for the first ``n`` runs (what the table shows)."""
        out = []
        for r in self[:n]:
            rec, p = r.record, r.record.get("params") or {}
            o = rec.get("output") or {}
            sha = o.get("sha256", "") if thumbs else ""
            thumb = thumbnail(self.store, sha, o.get("format"), THUMB)
            mime = "image/png" if thumb[:4] == b"\x89PNG" else "image/jpeg"
            out.append(
                {
                    "id": r.id,
                    "prompt": p.get("prompt", ""),
                    "model": str(rec.get("model") or "").split("/")[-1],
                    "resolution": p.get("resolution") or "",
                    "aspect_ratio": p.get("aspect_ratio") or "",
                    "format": p.get("output_format") or "",
                    "search": bool(p.get("google_search")),
                    "size": f"{o.get('width')}x{o.get('height')}" if o else "",
                    "when": str(rec.get("requested_at") or "")[:19],
                    "cost": r.cost,
                    "offline": r.offline,
                    "session": rec.get("session") or "",
                    "status": rec.get("status") or "",
                    "thumb": f"data:{mime};base64,{base64.b64encode(thumb).decode()}"
                    if thumb
                    else "",
                }
            )
        return out

    def __repr__(self) -> str:
        lines = [f"{len(self)} run(s)"]
        for row in self.rows(thumbs=False):
            lines.append(
                f"  {row['id']}  {row['model']} {row['resolution']} {row['aspect_ratio']} "
                f"{row['format']}  ${row['cost']:.3f}  {row['prompt'][:60]!r}"
            )
        if len(self) > SHOWN:
            lines.append(f"  … and {len(self) - SHOWN} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return runs_table_html(self.rows(), total=len(self))


class StoreStats:
    """Runs, bytes on disk, and spend by model and by month (``%nb2 store``)."""

    def __init__(self, store: Store) -> None:
        index = Index.of(store)
        self.root = str(store.root)
        self.by_status = dict(index.sql("SELECT status, count(*) FROM runs GROUP BY status"))
        spent = "SELECT {}, count(*), sum(cost) FROM runs WHERE status = 'succeeded' GROUP BY 1"
        self.by_model = [(m, n, c) for m, n, c in index.sql(spent.format("model"))]
        self.by_month = [(m, n, c) for m, n, c in index.sql(spent.format("substr(at, 1, 7)"))]
        self.bytes = _disk(store)
        self.runs = sum(self.by_status.values())

    @property
    def spend(self) -> float:
        return float(sum(c for _, _, c in self.by_model))

    def data(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "runs": self.runs,
            "by_status": self.by_status,
            "bytes": self.bytes,
            "spend": self.spend,
            "by_model": self.by_model,
            "by_month": sorted(self.by_month, reverse=True),
        }

    def __repr__(self) -> str:
        return stats_text(self.data())

    def _repr_html_(self) -> str:
        return stats_html(self.data())


def store_stats(store: Store | str | os.PathLike[str] | None = None) -> StoreStats:
    return StoreStats(as_store(store))


def _disk(store: Store) -> dict[str, int]:
    """Bytes on disk under each top folder of the store (and the index files)."""
    sizes: dict[str, int] = defaultdict(int)
    stack = [store.root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    top = os.path.relpath(e.path, store.root).split(os.sep)[0]
                    sizes["index" if top.startswith("index.sqlite") else top] += e.stat().st_size
    return dict(sizes)
