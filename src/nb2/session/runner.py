"""A request sent: journaled, sent, settled and stored (steps 2 to 4 of ``pipeline.py``).

``execute`` writes the record before anything is sent, calls the backend (in a worker thread
on the main thread, so an interrupt can cancel it remotely) and writes the record, succeeded or
not, before it returns or raises. The record format (``new_record``) is here, for the batch path
too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
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
    StoreError,
    UncollectedError,
    scrub,
)
from ..request.params import Params
from ..store import Store
from .outputs import fill, now, priced, store_siblings

log = logging.getLogger("nb2")


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
