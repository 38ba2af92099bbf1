"""What a search of the run index asks: ``Query`` (text, filters, sort, page) and its SQL.

Filters take a value or a list of values; every value is a bound parameter, never SQL text.
Text is matched word by word (each word a prefix) against the prompts' FTS5 index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .. import models
from ..errors import ValidationError

SORTS = ("time", "oldest", "cost", "cheapest")
# filter name -> column; the values of these are matched exactly (a list: any of them)
EXACT = {
    "model": "model", "resolution": "resolution", "aspect_ratio": "aspect_ratio",
    "output_format": "output_format", "status": "status", "session": "session", "kind": "kind",
    "run_id": "run_id",
}  # fmt: skip
ALIASES = {"aspect": "aspect_ratio", "format": "output_format", "search": "google_search",
           "grounding": "google_search"}  # fmt: skip
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Query:
    """A search of the run index. ``status`` defaults to ``succeeded`` (None: any)."""

    text: str | None = None
    model: Any = None
    resolution: Any = None
    aspect_ratio: Any = None
    output_format: Any = None
    status: Any = "succeeded"
    session: Any = None
    kind: Any = None
    run_id: Any = None
    google_search: bool | None = None
    image_search: bool | None = None
    grid: bool | None = None  # True: grid cells only; False: none
    offline: bool | None = None
    since: Any = None  # "7d", "12h", "30m", "2w", an ISO date or datetime, a datetime
    until: Any = None
    min_cost: float | None = None
    max_cost: float | None = None
    sort: str = "time"
    limit: int | None = None
    offset: int = 0

    @classmethod
    def make(cls, text: str | None = None, **filters: Any) -> Query:
        """A query from keyword filters, with their short names (aspect, format, search)."""
        known = {f.name for f in fields(cls)} - {"text"}
        out: dict[str, Any] = {}
        for key, value in filters.items():
            key = ALIASES.get(key, key)
            if key not in known:
                raise ValidationError(
                    f"find: {key!r} is not a filter; allowed: {', '.join(sorted(known))}",
                    field=key, value=value, allowed=sorted(known),
                )  # fmt: skip
            out[key] = value
        if out.get("sort", "time") not in SORTS:
            raise ValidationError(
                f"find: sort={out['sort']!r}; allowed: {', '.join(SORTS)}",
                field="sort", value=out["sort"], allowed=list(SORTS),
            )  # fmt: skip
        return cls(text=text or None, **out)


def where(q: Query) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (with a leading space, or empty) and its parameters."""
    terms: list[str] = []
    args: list[Any] = []
    for name, column in EXACT.items():
        value = getattr(q, name)
        if value is None:
            continue
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        values = [_normal(name, v) for v in values]
        terms.append(f"r.{column} IN ({', '.join('?' * len(values))})")
        args += values
    for name in ("google_search", "image_search", "offline"):
        value = getattr(q, name)
        if value is not None:
            terms.append(f"r.{name} = ?")
            args.append(int(bool(value)))
    if q.grid is not None:
        terms.append("r.kind = 'grid'" if q.grid else "r.kind != 'grid'")
    for bound, op in ((q.since, ">="), (q.until, "<")):
        if bound is not None:
            terms.append(f"r.at {op} ?")
            args.append(when(bound))
    for bound, op in ((q.min_cost, ">="), (q.max_cost, "<=")):
        if bound is not None:
            terms.append(f"r.cost {op} ?")
            args.append(float(bound))
    if q.text:
        match = fts_match(q.text)
        if match:
            terms.append("r.rid IN (SELECT rowid FROM runs_fts WHERE runs_fts MATCH ?)")
            args.append(match)
    return (" WHERE " + " AND ".join(terms) if terms else ""), args


def fts_match(text: str) -> str:
    """Each word of ``text`` as a quoted FTS5 prefix term, all required: no FTS syntax leaks."""
    return " ".join(f'"{w}"*' for w in _WORD.findall(text))


def when(value: Any) -> str:
    """A time bound as records write it (``2026-11-22T08:14:34.423Z``): ``7d``, ``12h``,
    ``30m``, ``2w`` ago, an ISO date or datetime, a ``date`` or ``datetime``."""
    if isinstance(value, str) and (m := _AGO.fullmatch(value.strip().lower())):
        value = datetime.now(timezone.utc) - timedelta(**{_UNITS[m[2]]: float(m[1])})
    elif isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                f"find: {value!r} is not a time; use 7d, 12h, 30m, 2w or an ISO date",
                field="since", value=value, allowed="7d | 12h | 30m | 2w | 2026-11-01",
            ) from None  # fmt: skip
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if not isinstance(value, datetime):
        raise ValidationError(
            f"find: {value!r} is not a time", field="since", value=repr(value),
            allowed="7d | 12h | 30m | 2w | an ISO date | a datetime",
        )  # fmt: skip
    if value.tzinfo is None:
        value = value.astimezone()  # a naive time is the machine's local time
    stamp = value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _normal(name: str, value: Any) -> Any:
    if name == "model" and isinstance(value, str):
        try:
            return models.resolve_model(value).id
        except ValidationError:
            return value  # another model's runs (a chain step): matched as written
    if name == "resolution" and isinstance(value, str):
        return value.upper()
    if name == "output_format" and isinstance(value, str):
        return {"jpeg": "jpg"}.get(value.lower(), value.lower())
    return value
