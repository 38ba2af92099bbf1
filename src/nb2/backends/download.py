"""Outputs fetched at once with no credentials (the file host is not the API host)."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any

from .. import errors


def download(http: Any, url: str, prediction_id: str) -> bytes:
    """Fetch an output at once, with no credentials (the file host is not the API host)."""
    import httpx

    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    last: Exception | None = None
    for attempt in range(4):
        try:
            r = http.get(url)
            if r.status_code == 200:
                return r.content
            last = errors.GenerationError(f"HTTP {r.status_code}")
            if r.status_code < 500:
                break
        except httpx.TransportError as exc:
            last = exc
        time.sleep(0.5 * 2**attempt)
    raise errors.GenerationError(
        f"prediction {prediction_id} succeeded but its output could not be downloaded ({last})",
        prediction_id=prediction_id,
    )


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
