"""A shared limiter for prediction creates, shaped like the server's: at most ``per_minute``
creates in any minute (Replicate counts throttling per time window), optionally spaced as a
token bucket (``burst``), and paced after a 429 so that one is not met by many more.

One limiter per account and setting in a process (:func:`for_account`): two backends, two
sessions or several background grids on one token draw from the same minute.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque

from ..errors import CanceledError, RateLimitError

WINDOW = 60.0
# A create is stamped when it leaves; the server stamps it when it arrives. Counting each one a
# little longer than the window keeps a late-arriving first create from making the 601st a 429.
MARGIN = 1.0


class RateLimiter:
    """``per_minute`` creates in any window of ``window`` seconds (scaled: 600 a minute is 10 in
    a 1 s window), no more than ``burst`` at once when given (tokens refill at the same rate).

    Replicate allows 600 creates a minute; accounts with under $5 get 6 with a burst of 1.
    A 429 pauses everyone once, as long as the server asks; then creates leave one at a time at
    the account's pace instead of all at once (a storm of 429s); a 429 met in that pace halves
    it (another kernel holds part of the account) and each create the server takes grows it
    back a little. A quiet window at the full pace gives the whole minute back.
    """

    def __init__(
        self,
        per_minute: float = 600,
        burst: int | None = None,
        *,
        window: float = WINDOW,
        margin: float | None = None,
    ) -> None:
        self.per_minute = float(per_minute)
        self.window = float(window)
        self.margin = float(margin if margin is not None else MARGIN if window >= WINDOW else 0)
        # a burst above the minute's share still goes at once (the bucket's own promise)
        self.capacity = max(1, round(self.per_minute * self.window / WINDOW), burst or 0)
        self.burst = max(1, int(burst)) if burst is not None else None
        self.full_pace = self.per_minute / WINDOW  # creates a second
        self.pace = self.full_pace  # after a 429: one at a time at this pace
        self._tokens = float(self.burst or 0)
        self._stamp = time.monotonic()
        self._sent: deque[float] = deque()  # when each create of the window left
        self._paused_until = 0.0
        self.paced = False  # since a 429: one at a time, until a quiet window at full pace
        self._quiet_since = 0.0  # the end of the latest 429's pause
        self._next = 0.0  # while paced: when the next create may leave
        self.throttles = 0  # 429s reported, for the figures
        self._lock = threading.Lock()

    def acquire(self, cancel: threading.Event | None = None, deadline: float | None = None) -> None:
        """Wait for a create slot (or raise CanceledError if ``cancel`` is set meanwhile, and
        RateLimitError if the slot would come after ``deadline``, a ``time.monotonic()``)."""
        while True:
            with self._lock:
                now = time.monotonic()
                wait = self._wait(now)
                if wait <= 0:
                    self._sent.append(now)
                    if self.burst is not None:
                        self._tokens -= 1
                    if self.paced:
                        self._next = now + 1 / self.pace
                    return
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

    def _wait(self, now: float) -> float:
        """Seconds until a create may leave (0: now); called with the lock held."""
        span = self.window + self.margin
        while self._sent and self._sent[0] <= now - span:
            self._sent.popleft()
        waits = [self._paused_until - now]
        if len(self._sent) >= self.capacity:  # the oldest must age out first
            waits.append(self._sent[len(self._sent) - self.capacity] + span - now)
        if self.paced and self.pace >= self.full_pace and now - self._quiet_since >= self.window:
            self.paced = False  # a quiet window at the full pace: the whole minute at once again
        if self.paced:
            waits.append(self._next - now)
        if self.burst is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.full_pace)
            self._stamp = now
            if self._tokens < 1:
                waits.append((1 - self._tokens) / self.full_pace)
        return max(waits)

    def pause(self, seconds: float) -> None:
        """The server said "slow down": nobody creates for ``seconds``, then one at a time at
        the pace (halved if this 429 came while paced, once per pause)."""
        with self._lock:
            now = time.monotonic()
            self.throttles += 1
            if self.paced and now >= self._paused_until:
                self.pace = max(self.pace / 2, 1 / self.window)
            self.paced = True
            self._paused_until = max(self._paused_until, now + seconds)
            self._quiet_since = self._next = self._paused_until
            self._tokens, self._stamp = 0.0, now  # no refill for the time before the 429

    def passed(self) -> None:
        """A create the server took: the pace grows back by a fiftieth (a 429 halves it), so a
        server that allows less than the limit (another kernel) meets a 429 now and then, not
        a wave of them each window."""
        with self._lock:
            pace = self.pace + self.full_pace / 50
            self.pace = self.full_pace if pace > self.full_pace * 0.999 else pace  # no float dust


_SHARED: dict[tuple[str, float, int | None], RateLimiter] = {}
_SHARED_LOCK = threading.Lock()


def for_account(
    secret: str, where: str, per_minute: float, burst: int | None = None
) -> RateLimiter:
    """The limiter of this account (a digest of ``secret`` and the ``where`` it is used, never
    the secret itself) at this setting: shared by every backend made for it in this process."""
    account = hashlib.sha256(f"{where.rstrip('/')}\0{secret}".encode()).hexdigest()
    key = (account, float(per_minute), burst)
    with _SHARED_LOCK:
        limiter = _SHARED.get(key)
        if limiter is None:
            limiter = _SHARED[key] = RateLimiter(per_minute, burst)
        return limiter
