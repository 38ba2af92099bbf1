"""The one path every request takes: the store first, then the backend, then the record.

``lookup`` answers from the store; ``execute`` calls the backend (in a worker thread on the
main thread, so an interrupt can cancel it remotely) and writes the record, succeeded or not,
before it returns or raises. The session owns the tree; this module owns the pipeline and the
record format.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from datetime import datetime, timezone
from typing import Any

from .. import models
from .._version import __version__
from ..backends import Backend, StatusCallback
from ..backends.worker import call
from ..errors import (
    CanceledError,
    ModerationError,
    Nb2Error,
    PaidAgainWarning,
    StoreError,
    UncollectedError,
    scrub,
)
from ..request.params import Params
from ..store import Store
from .outputs import fill, now, priced, store_siblings

log = logging.getLogger("nb2")


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
            stacklevel=4,
        )


def execute(
    store: Store,
    backend: Backend,
    params: Params,
    *,
    kind: str,
    parent: str | None,
    session: str,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> dict[str, Any]:
    """Call the backend for ``params`` and store what comes back; returns the record.

    The record is on disk (``running``) before anything is sent, so a store that cannot be
    written stops the run before it costs anything; the prediction id joins it the moment the
    backend has one. A failure is recorded too (failed, blocked, canceled or error, with the
    prediction id), and ``pending`` when the prediction may still be collected (nb2.recover).
    """
    record = new_record(params, kind, parent, session, backend)
    held: Any = None
    try:
        held = store.hold(record["run_id"])
        store.save(record)
        for ref in params.references:  # the inputs too, so the run can be repeated from disk
            store.put_image(ref.data, ref.load().ext)
    except OSError as exc:
        error = StoreError(
            f"the store at {store.root} cannot be written ({exc.strerror or exc}); "
            "nothing was sent, nothing was spent"
        )
        if held is not None:  # not left live, nor for recover to look for: it was never sent
            held.close()
            _fail(store, record, error, 0.0)
        raise error from None
    try:
        return _settle(store, backend, params, record, cancel, on_status)
    finally:
        held.close()


def _settle(
    store: Store,
    backend: Backend,
    params: Params,
    record: dict[str, Any],
    cancel: threading.Event | None,
    on_status: StatusCallback | None,
) -> dict[str, Any]:
    cancel = cancel if cancel is not None else threading.Event()

    def created(prediction_id: str) -> None:
        record["prediction_id"] = prediction_id
        try:
            store.save(record)
        except OSError as exc:  # the backend cancels a prediction it cannot journal
            raise StoreError(
                f"the store at {store.root} cannot be written ({exc.strerror or exc}); "
                f"prediction {prediction_id} is being canceled"
            ) from None

    def work() -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            out = backend.run(params, cancel=cancel, on_status=on_status, on_created=created)
        except BaseException as exc:
            _fail(store, record, exc, time.perf_counter() - t0)
            raise
        # a backend that never said on_created still names its prediction: keep it for recover
        record["prediction_id"] = record.get("prediction_id") or out.prediction_id
        try:
            fill(record, out, time.perf_counter() - t0, store)
            if out.more:  # a list output: the other files are sibling runs
                store_siblings(record, out, time.perf_counter() - t0, store)
        except OSError as exc:  # the disk filled (or went read-only) after the money was spent
            error = StoreError(
                f"the store at {store.root} cannot be written ({exc.strerror or exc}); "
                f"prediction {out.prediction_id} is recorded as pending: free some space and "
                "run nb2.recover() within the hour to collect it without paying again"
            )
            _fail(store, record, error, time.perf_counter() - t0)
            raise error from None
        except BaseException as exc:
            _fail(store, record, exc, time.perf_counter() - t0)
            raise
        try:
            store.save(record)
        except OSError as exc:
            raise StoreError(
                f"the image of prediction {record.get('prediction_id')} is stored but its "
                f"record could not be completed ({exc.strerror or exc}); the run stays pending: "
                "nb2.recover() finishes it without paying again"
            ) from None
        return record

    return call(work, cancel)


def _fail(store: Store, record: dict[str, Any], exc: BaseException, wall: float) -> None:
    """Record how a run ended badly, as far as the disk allows."""
    pid = getattr(exc, "prediction_id", None) or record.get("prediction_id")
    # it may exist at the server: with no id, recover looks for it in the server's list
    maybe_made = isinstance(exc, UncollectedError) or getattr(exc, "unsettled", False)
    collectable = maybe_made or (isinstance(exc, (StoreError, OSError)) and pid)
    if isinstance(getattr(exc, "usage", None), dict):  # a refusal's thinking is billed too
        priced(record, exc.usage, image=False)  # type: ignore[attr-defined]
    record.update(
        status="pending" if collectable else status_of(exc),
        error=scrub(str(exc))[:2000] or type(exc).__name__,
        prediction_id=pid,
        wall_time=round(wall, 3),
        completed_at=now(),
    )
    try:
        store.save(record)
    except OSError:
        log.error(
            "nb2: run %s (prediction %s) ended %s and its record could not be written",
            record["run_id"], pid, record["status"],
        )  # fmt: skip


# -- the record format -------------------------------------------------------------------------
def new_record(
    params: Params, kind: str, parent: str | None, session: str, backend: Backend
) -> dict[str, Any]:
    stamp = datetime.now(timezone.utc)
    offline = bool(getattr(backend, "offline", False))
    live_cost = models.price(params.model, params.resolution)  # None: unknown, never guessed
    return {
        "run_id": f"{stamp:%Y%m%dT%H%M%S%f}-{os.urandom(4).hex()}",
        "nb2_version": __version__,
        "kind": kind,
        "status": "running",
        "cache_key": params.cache_key,
        "session": session,
        "parent": parent,
        "params": params.to_dict(),
        "input": params.scalar_input(),
        "model": params.model,
        "backend": backend.describe(),
        "estimated_cost": 0.0 if offline else live_cost,  # None when the price is unknown
        "price": {"usd": live_cost, "as_of": models.PRICE_AS_OF, "source": models.PRICE_SOURCE},
        "requested_at": now(),
    }


def status_of(exc: BaseException) -> str:
    if isinstance(exc, ModerationError):
        return "blocked"
    if isinstance(exc, (CanceledError, KeyboardInterrupt)):
        return "canceled"
    return "failed" if isinstance(exc, Nb2Error) else "error"


_announced = False


def announce(backend: Backend) -> None:
    global _announced
    if backend.offline and not _announced:
        _announced = True
        log.warning(
            "nb2: no REPLICATE_API_TOKEN set, so images come from the offline stand-in "
            "(local renders marked OFFLINE, not the model)."
        )
