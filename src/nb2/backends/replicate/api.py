"""Replicate's HTTP API, spoken through the official client's HTTP session and read defensively.

The official ``replicate`` client (1.x) builds the session: base URL, the token in the
Authorization header, its user agent. nb2 sends its requests through that session rather than
through ``models.predictions.create`` because it needs what the client's methods do not give:
the ``Cancel-After`` header, the answer's ``Date`` (the server's clock), the whole error body
(``retry_after``, ``invalid_fields``), and a parser that survives answers the client's strict
models reject (status ``aborted``, a null inside ``urls``, an HTML page).
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_RETRY_TEXT = re.compile(r"~\s*(\d+(?:\.\d+)?)\s*s|available in\s+(\d+(?:\.\d+)?)\s*second", re.I)


class Unreadable(Exception):
    """An answer that is not what the API documents (garbage, HTML, a prediction without an
    id). The request may still have had its effect at the server."""


@dataclass
class Prediction:
    """The fields nb2 uses of a prediction object; anything else in the answer is ignored."""

    id: str
    status: str
    model: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: str | None = None
    logs: str | None = None
    version: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    data_removed: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, obj: Any) -> Prediction:
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not obj["id"]:
            raise Unreadable(f"not a prediction: {str(obj)[:120]!r}")
        status = obj.get("status")
        metrics = obj.get("metrics")
        inp = obj.get("input")
        return cls(
            id=obj["id"],
            status=status if isinstance(status, str) else "unknown",
            model=_text(obj.get("model")),
            input=inp if isinstance(inp, dict) else None,
            output=obj.get("output"),
            error=None if obj.get("error") is None else str(obj.get("error")),
            logs=_text(obj.get("logs")),
            version=_text(obj.get("version")),
            created_at=_text(obj.get("created_at")),
            started_at=_text(obj.get("started_at")),
            completed_at=_text(obj.get("completed_at")),
            data_removed=bool(obj.get("data_removed")),
            metrics=metrics if isinstance(metrics, dict) else {},
        )

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def output_url(self) -> str | None:
        """The output's URL once there is one: a sync create that finished within its hold
        answers ``processing`` with the output already filled in."""
        out = self.output
        if isinstance(out, list):
            out = out[0] if out else None
        return out if isinstance(out, str) and out else None

    @property
    def output_urls(self) -> list[str]:
        """Every output URL: a model's output is one URI or a list of them."""
        out = self.output if isinstance(self.output, list) else [self.output]
        return [u for u in out if isinstance(u, str) and u]

    @property
    def ready(self) -> bool:
        return self.status == "succeeded" or (
            self.status in ("starting", "processing") and self.output_url is not None
        )


@dataclass
class Answer:
    status: int
    body: Any  # parsed JSON, or None when the body was not JSON
    headers: dict[str, str]
    text: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def detail(self) -> str:
        b = self.body if isinstance(self.body, dict) else {}
        return str(b.get("detail") or b.get("title") or self.text[:200] or self.status).strip()

    def retry_after(self) -> float | None:
        """The pause a 429 (or 503) asks for: the body's ``retry_after``, then "~Ns" or
        "available in N second(s)" in its text, then a ``Retry-After`` header (seconds or a
        date). Only finite, non-negative numbers count."""
        b = self.body if isinstance(self.body, dict) else {}
        candidates: list[Any] = [b.get("retry_after")]
        m = _RETRY_TEXT.search(str(b.get("detail") or ""))
        if m:
            candidates.append(m.group(1) or m.group(2))
        header = self.headers.get("retry-after", "").strip()
        if header:
            candidates.append(header if _number(header) is not None else _date_delta(header))
        for c in candidates:
            value = _number(c)
            if value is not None:
                return value
        return None


class Api:
    """One account's API: requests through the official client's session, the server's clock."""

    def __init__(self, token: str, base_url: str | None) -> None:
        import replicate

        self.client = replicate.Client(api_token=token, base_url=base_url)
        self.http = self.client._client  # the official client's configured httpx session
        # Its transport retries GETs on 429/503/504 by sleeping as long as Retry-After says
        # (40 s, 10 times), outside any Stop or deadline. nb2 retries itself, bounded and
        # cancellable, so that transport sends each request once.
        transport = getattr(self.http, "_transport", None)
        if hasattr(transport, "max_attempts"):
            transport.max_attempts = 1
        self._clock_lock = threading.Lock()
        self.clock_offset: float | None = None  # server minus local seconds, from Date headers

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: float,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        """One request; transport errors (httpx) propagate for the caller to judge."""
        import httpx

        t = max(0.05, timeout)
        r = self.http.request(
            method,
            path,
            json=json_body,
            headers=headers,
            timeout=httpx.Timeout(t, connect=min(t, 5.0)),
        )
        self._note_clock(r.headers.get("date"))
        text = r.text
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
        return Answer(r.status_code, body, {k.lower(): v for k, v in r.headers.items()}, text)

    def _note_clock(self, date: str | None) -> None:
        if not date:
            return
        try:
            server = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        with self._clock_lock:
            self.clock_offset = server - time.time()

    def server_now(self) -> datetime | None:
        """The server's time now, as its Date headers tell it (None before any answer)."""
        with self._clock_lock:
            offset = self.clock_offset
        if offset is None:
            return None
        return datetime.now(timezone.utc) + timedelta(seconds=offset)

    def list_since(
        self, since: datetime, *, timeout: float, max_pages: int = 50
    ) -> list[dict[str, Any]]:
        """Raw prediction objects created at or after ``since`` (server time), every page.

        Raises :class:`Unreadable` (or an httpx error) when a page cannot be read: a caller
        deciding whether a create was made must not take "unreadable" for "not there".
        """
        stamp = since.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        path = f"/v1/predictions?created_after={stamp}"
        out: list[dict[str, Any]] = []
        for _ in range(max_pages):
            a = self.request("GET", path, timeout=timeout)
            if not a.ok or not isinstance(a.body, dict):
                raise Unreadable(f"the prediction list answered {a.status}: {a.detail()}")
            results = a.body.get("results")
            if not isinstance(results, list):
                raise Unreadable("the prediction list has no results")
            out += [r for r in results if isinstance(r, dict)]
            nxt = a.body.get("next")
            if not (isinstance(nxt, str) and nxt):
                return out  # the last page (checked here: exactly max_pages pages is fine)
            path = nxt
        raise Unreadable(f"more than {max_pages} pages of predictions since {stamp}")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _date_delta(text: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - time.time())


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
