"""A shared limiter for prediction creates: a token bucket that every thread draws from."""

from __future__ import annotations

import threading
import time

from ..errors import CanceledError, RateLimitError


class RateLimiter:
    """``per_minute`` creates with bursts of up to ``burst``; a 429 pauses everyone.

    Replicate allows 600 creates a minute (6 with a burst of 1 on accounts with under $5).
    """

    def __init__(self, per_minute: float = 600, burst: int | None = None) -> None:
        self.per_minute = float(per_minute)
        self.burst = max(1, int(burst if burst is not None else max(1, per_minute // 6)))
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, cancel: threading.Event | None = None, deadline: float | None = None) -> None:
        """Wait for a create slot (or raise CanceledError if ``cancel`` is set meanwhile, and
        RateLimitError if the slot would come after ``deadline``, a ``time.monotonic()``)."""
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(
                    self.burst, self._tokens + (now - self._stamp) * self.per_minute / 60
                )
                self._stamp = now
                wait = self._paused_until - now
                if wait <= 0 and self._tokens >= 1:
                    self._tokens -= 1
                    return
                if wait <= 0:
                    wait = (1 - self._tokens) * 60 / self.per_minute
            if deadline is not None and now + wait > deadline:
                raise RateLimitError(
                    f"the run's time ran out waiting {wait:.1f} s for the rate limit",
                    retry_after=wait,
                )
            if cancel is not None:
                if cancel.wait(wait):
                    raise CanceledError("stopped while waiting for the rate limit")
            else:
                time.sleep(wait)

    def pause(self, seconds: float) -> None:
        """The server said "slow down": nobody creates for ``seconds``, and the bucket empties."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._tokens = 0.0
