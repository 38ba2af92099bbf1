"""Finding the prediction a create made when its answer never arrived (or was unreadable).

A create that reached the server may have made a prediction, which is billed; sending it again
would make a second. So the server's list is read instead: predictions created since the create
was sent (by the server's clock, from its Date headers, with a margin), every page, with the same
model and input, that no request of this process holds. Identical requests (repeat samples, two
cells of one grid) are told apart by waiting until no other identical create of this process is
still waiting for its own answer: then every prediction left unheld is an orphan of a lost answer.
Another process (a second kernel) may send the same request at the same time, and its
predictions look the same: when more match than this process can have lost, none is taken,
and the run stays pending for nb2.recover(), which tells them apart by the ids on disk.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from .api import Api, Prediction, Unreadable, parse_time

CLOCK_MARGIN = 3.0  # seconds: Date headers have one-second resolution, and requests take time
NO_CLOCK_WINDOW = 120.0  # before any Date header: look this far back (claims keep it exact)


def request_key(model: str, data: dict[str, Any]) -> str:
    return model + "\n" + json.dumps(data, sort_keys=True, default=str)


class Claims:
    """Which predictions this process holds, and how many creates of each request are still
    waiting for their answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: set[str] = set()
        self._waiting: Counter[str] = Counter()
        self._looking: Counter[str] = Counter()  # lost creates of each request being looked for

    def sending(self, key: str) -> None:
        with self._lock:
            self._waiting[key] += 1

    def done_waiting(self, key: str) -> None:
        with self._lock:
            self._waiting[key] -= 1
            if self._waiting[key] <= 0:
                del self._waiting[key]

    def others_waiting(self, key: str) -> int:
        with self._lock:
            return self._waiting.get(key, 0)

    @contextlib.contextmanager
    def looking(self, key: str) -> Iterator[None]:
        with self._lock:
            self._looking[key] += 1
        try:
            yield
        finally:
            with self._lock:
                self._looking[key] -= 1
                if self._looking[key] <= 0:
                    del self._looking[key]

    def lookers(self, key: str) -> int:
        """How many lost creates of this request this backend is looking for: as many unheld
        predictions of it are its own, and any more are another process's."""
        with self._lock:
            return self._looking.get(key, 0)

    def hold(self, prediction_id: str) -> bool:
        """Take ``prediction_id``; False if this process already holds it."""
        with self._lock:
            if prediction_id in self._held:
                return False
            self._held.add(prediction_id)
            return True

    def release(self, prediction_id: str) -> None:
        """Let ``prediction_id`` go (a stopped run's, left for ``nb2.recover`` to find)."""
        with self._lock:
            self._held.discard(prediction_id)

    def holds(self, prediction_id: str) -> bool:
        with self._lock:
            return prediction_id in self._held


def since_for(api: Api) -> datetime:
    """The earliest server time a create sent now could be stamped with."""
    now = api.server_now()
    if now is None:
        return datetime.now(timezone.utc) - timedelta(seconds=NO_CLOCK_WINDOW)
    return now - timedelta(seconds=CLOCK_MARGIN)


class Ambiguous(Exception):
    """More than one unheld prediction of the request: another process (a second kernel, a
    second backend) sent the same one at about the same time, so which is ours is unknown."""


def find(
    api: Api,
    claims: Claims,
    model: str,
    data: dict[str, Any],
    since: datetime,
    *,
    timeout: float,
    mine_at_most: int | None = None,
) -> Prediction | None:
    """Claim the oldest unheld prediction of this request created since ``since``, or None.

    Raises :class:`Unreadable` or an httpx error when the list cannot be read: "unreadable" is
    never taken for "not made". With ``mine_at_most``, raises :class:`Ambiguous` when more
    unheld predictions match than can be this process's own: a run must never cancel or
    collect another process's prediction as its own.
    """
    found: list[Prediction] = []
    for raw in api.list_since(since, timeout=timeout):
        try:
            pred = Prediction.parse(raw)
        except Unreadable:  # an entry nb2 cannot read is not one of its own
            continue
        if (
            _same_input(pred.input, data)
            and pred.model in (None, model.split(":")[0])
            and not claims.holds(pred.id)
        ):
            when = parse_time(pred.created_at)
            if when is None or when >= since:
                found.append(pred)
    if mine_at_most is not None and len(found) > mine_at_most:
        raise Ambiguous(f"{len(found)} identical predictions: {', '.join(p.id for p in found)}")
    far = datetime.max.replace(tzinfo=timezone.utc)
    for pred in sorted(found, key=lambda p: parse_time(p.created_at) or far):
        if claims.hold(pred.id):
            return pred
    return None


def _same_input(got: dict[str, Any] | None, data: dict[str, Any]) -> bool:
    """``got`` is ``data``; when ``data`` has ``image_input: None`` (uploads whose URLs are
    not known any more), any image list of the same length counts."""
    if got is None:
        return False
    unknown = data.get("image_fields")  # another model's image inputs whose URLs are gone
    if unknown:
        rest = {k: v for k, v in data.items() if k not in (*unknown, "image_fields")}
        mine = {k: v for k, v in got.items() if k not in unknown}
        return mine == rest and all(got.get(k) for k in unknown)
    if data.get("image_input", ()) is not None:
        return got == data
    n = data.get("image_count", 0)
    rest = {k: v for k, v in data.items() if k not in ("image_input", "image_count")}
    return {k: v for k, v in got.items() if k != "image_input"} == rest and len(
        got.get("image_input") or []
    ) == n


def wait_for_others(
    claims: Claims, key: str, deadline: float, stop: Callable[[], bool] = lambda: False
) -> None:
    """Until no other identical create of this process awaits its answer (bounded)."""
    while claims.others_waiting(key) > 0 and time.monotonic() < deadline and not stop():
        time.sleep(0.05)
