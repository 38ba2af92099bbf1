"""The path of a request, top to bottom, for one call and for a Batch API job alike:

1. plan and dedupe: the store first (a hit is the answer); an identical request in flight, in
   this kernel or another, is waited for and read from the store; earlier runs of it are
   settled (``recover.before_sending``: it may be made, and paid, already); one lost after it
   may have been billed is said (``PaidAgainWarning``);
2. to 4. journal, send, settle and store: ``runner.execute`` (one call) or ``batch.run`` (a job);
5. show: the session adds the record to its tree (``Session._add``), the one step it keeps.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from ..backends import Backend, StatusCallback
from ..errors import CanceledError, ModerationError, PaidAgainWarning, ReplayMissError
from ..request.params import Params
from ..store import Store
from . import batch, recover, runner
from .outputs import sibling_records


def obtain(
    store: Store, backend: Backend, params: Params, *, cache: str, fresh: bool, kind: str,
    parent: str | None, session: str, cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> tuple[list[dict[str, Any]], bool]:  # fmt: skip
    """The records that answer ``params`` (the run, then its siblings: ``with_siblings``), and
    whether they came from the store (a hit)."""
    flight = inflight(store)
    mine = None  # the cache key this call makes, when it is the one in flight
    while cache != "off" and not fresh:
        record = lookup(store, backend, params)
        if record is not None:
            return with_siblings(store, record), True
        if cache == "replay":
            break
        # One create per request at a time: an identical request already in flight here
        # (another cell, another grid, the panel) is waited for, then read from the store.
        if flight.claim(params.cache_key, cancel):
            mine = params.cache_key
            break
    if cache == "replay":  # the notebook runs from the store alone
        raise ReplayMissError(
            f"replay: the store at {store.root} holds no result for {params!r} "
            f"(key {params.cache_key[:12]}); run with cache='auto' to make it",
            key=params.cache_key,
        )
    try:
        if mine is not None:  # an earlier run of it may be paid for: settled first
            recover.before_sending(store, backend, params.cache_key, cancel=cancel)
            if (record := lookup(store, backend, params)) is not None:
                return with_siblings(store, record), True
            warn_paid_before(store, backend, [params])
        record = runner.execute(store, backend, params, kind=kind, parent=parent,
                                session=session, cancel=cancel, on_status=on_status)  # fmt: skip
    except ModerationError:
        flight.blocked(params.cache_key)  # identical waiters are not sent again
        raise
    finally:
        if mine is not None:
            flight.release(mine)
    return with_siblings(store, record), False


def with_siblings(store: Store, record: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's record, then its siblings' (a list output's other files) still in the store."""
    return [record, *sibling_records(store, record)]


def obtain_batch(
    store: Store, backend: Backend, params: list[Params], session: str, *,
    cancel: threading.Event | None = None, on_progress: Any = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Step 1 for a Batch API job (earlier runs settled with one look: a job may take a day;
    UncollectedError while one still runs), then the job itself; each record by cache key."""
    for p in params:
        recover.before_sending(store, backend, p.cache_key, wait=False)
    fresh = [p for p in params if lookup(store, backend, p) is None]
    warn_paid_before(store, backend, fresh)
    return batch.run(store, backend, fresh, session, cancel=cancel, on_progress=on_progress)


def lookup(store: Store, backend: Backend, params: Params) -> dict[str, Any] | None:
    """The stored record that answers ``params`` for ``backend``, or None.

    A live backend takes only results made at its own endpoint: an offline render, or the
    emulator's, never answers the real API (the cache key is the request, not who answered).
    """
    if backend.offline:  # any stored result beats a stand-in; the stand-in's own too
        return store.lookup(params.cache_key)
    return store.lookup(params.cache_key, endpoint=endpoint(backend.describe()))


def endpoint(described: dict[str, Any]) -> str:
    """Where results come from: ``offline``, or the API's base URL (the real one, the
    emulator, another). A result from one endpoint never answers a request made to another."""
    return Store.endpoint_of(described)


class InFlight:
    """Requests being made now, by cache key: a second identical request waits for the first
    and then reads the store, so it is paid for once; one blocked by moderation is not sent
    again by those waiting on it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}
        self._blocked: set[str] = set()

    def claim(self, key: str, cancel: threading.Event | None) -> bool:
        """True: the caller makes ``key`` (and must ``release`` it). False: an identical
        request was in flight and has now settled; look in the store again."""
        with self._lock:
            first = self._running.get(key)
            if first is None:
                self._running[key] = threading.Event()
                return True
        while not first.wait(0.05):
            if cancel is not None and cancel.is_set():
                raise CanceledError("stopped while an identical request was in flight")
        with self._lock:
            if key in self._blocked:
                raise ModerationError(f"an identical request (key {key[:12]}) was just blocked")
        return False

    def blocked(self, key: str) -> None:
        with self._lock:
            self._blocked.add(key)

    def release(self, key: str) -> None:
        with self._lock:
            done = self._running.pop(key, None)
        if done is not None:
            done.set()


_SHARED: dict[str, InFlight] = {}
_SHARED_LOCK = threading.Lock()


def inflight(store: Store) -> InFlight:
    """The one InFlight of ``store`` in this process: two Sessions (two notebooks' worth of
    code in one kernel) on one store wait for each other as two cells of one do."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(str(store.root), InFlight())


def warn_paid_before(store: Store, backend: Backend, params: list[Any]) -> None:
    """Say so when requests about to be paid for were paid for once already, maybe: an
    earlier run of theirs was lost (see :meth:`Store.lost`)."""
    if getattr(backend, "offline", False):
        return
    lost = [(p, ids) for p in params if (ids := store.lost(p.cache_key))]
    if lost:
        p, ids = lost[0]
        warnings.warn(
            f"{len(lost)} request(s) sent again had an earlier run lost after it may have "
            f"been billed (first: {p!r}, run {ids[-1]}); they are paid for again",
            PaidAgainWarning,
            stacklevel=5,
        )
