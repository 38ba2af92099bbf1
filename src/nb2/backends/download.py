"""Outputs fetched at once with no credentials (the file host is not the API host), bounded in
size and in time: a host that trickles bytes or sends gigabytes cannot hold the kernel."""

from __future__ import annotations

import base64
import time
from typing import Any

from .. import errors

MAX_OUTPUT_BYTES = 256 * 1024 * 1024  # a real 4K PNG is tens of MB; 8:1 at 4K stays far below


class DownloadError(errors.UncollectedError):
    """The output exists at the server but could not be fetched (it may be collected later)."""


def download(
    http: Any,
    url: str,
    prediction_id: str,
    *,
    deadline: float,
    max_bytes: int = MAX_OUTPUT_BYTES,
    tries: int = 3,
) -> bytes:
    """The bytes at ``url``, by ``deadline`` (``time.monotonic()``), at most ``max_bytes``.

    A 4xx is final; a 5xx or a broken connection is tried again while time is left. There is
    no cancel: an output that finished is fetched even after a Stop, since it was paid for.
    """
    import httpx

    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1])
    last = "no attempt"
    for attempt in range(tries):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        timeout = httpx.Timeout(min(left, 30.0), connect=min(left, 10.0))
        try:
            with http.stream("GET", url, timeout=timeout) as r:
                if r.status_code == 200:
                    data = _read(r, prediction_id, deadline, max_bytes)
                    if isinstance(data, bytes):
                        return data
                    last = data
                    break  # out of time: no point in another try
                last = f"HTTP {r.status_code}"
                if r.status_code < 500:
                    break
        except httpx.TransportError as exc:
            last = type(exc).__name__
        pause = min(0.5 * 2**attempt, max(0.0, deadline - time.monotonic()))
        if pause and attempt < tries - 1:
            time.sleep(pause)
    raise DownloadError(
        f"prediction {prediction_id} succeeded but its output could not be downloaded ({last}); "
        "it is recorded for nb2.recover() while the API keeps it (about an hour)",
        prediction_id=prediction_id,
    )


def _read(r: Any, prediction_id: str, deadline: float, max_bytes: int) -> bytes | str:
    """The body, read as each network read arrives (so the clock is checked between reads);
    a reason instead when time ran out. Over ``max_bytes`` is an error, never held whole."""
    size = r.headers.get("content-length", "")
    if size.isdigit() and int(size) > max_bytes:
        raise _too_big(prediction_id, int(size), max_bytes)
    buf = bytearray()
    for chunk in r.iter_bytes():
        buf += chunk
        if len(buf) > max_bytes:
            raise _too_big(prediction_id, len(buf), max_bytes)
        if time.monotonic() > deadline:
            return f"still downloading when the run's time was up ({len(buf)} B)"
    return bytes(buf)


def _too_big(prediction_id: str, size: int, limit: int) -> errors.GenerationError:
    return errors.GenerationError(
        f"prediction {prediction_id}: the output is over {limit} bytes ({size}); not an image "
        "this model makes, so it was not kept",
        prediction_id=prediction_id,
    )
