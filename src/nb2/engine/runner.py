"""The one path every request takes: the store first, then the backend, then the record.

``lookup`` answers from the store; ``execute`` calls the backend (in a worker thread on the
main thread, so an interrupt can cancel it remotely) and writes the record, succeeded or not,
before it returns or raises. The session owns the tree; this module owns the pipeline and the
record format.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from datetime import datetime, timezone
from typing import Any

from .. import models
from .._version import __version__
from ..backends import Backend, Output, StatusCallback
from ..errors import CanceledError, ModerationError, Nb2Error
from ..imaging import image_size
from ..params import Params
from ..store import Store
from ..store import codec as metadata


def lookup(store: Store, backend: Backend, params: Params) -> dict[str, Any] | None:
    """The stored record that answers ``params`` for ``backend``, or None.

    An offline stand-in's render never answers a session with a real backend: the cache
    key is the request, and the stand-in is not the model.
    """
    record = store.lookup(params.cache_key)
    if record is None:
        return None
    if (record.get("backend") or {}).get("offline") and not backend.offline:
        return None
    return record


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

    A failure is recorded too (failed, blocked, canceled or error, with the prediction id when
    there is one) and then raised.
    """
    record = new_record(params, kind, parent, session, backend)
    for ref in params.references:  # the inputs too, so the run can be repeated from disk
        store.put_image(ref.data, ref.load().ext)
    t0 = time.perf_counter()
    try:
        out = call(backend, params, cancel, on_status)
    except BaseException as exc:
        record.update(
            status=status_of(exc),
            error=str(exc)[:2000],
            wall_time=round(time.perf_counter() - t0, 3),
            completed_at=now(),
        )
        record["prediction_id"] = getattr(exc, "prediction_id", None)
        store.save(record)
        raise
    fill(record, out, time.perf_counter() - t0, store)
    store.save(record)
    return record


def call(
    backend: Backend,
    params: Params,
    cancel: threading.Event | None,
    on_status: StatusCallback | None,
) -> Output:
    """Run the backend; on the main thread, in a worker so an interrupt can cancel it."""
    cancel = cancel or threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return backend.run(params, cancel=cancel, on_status=on_status)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["out"] = backend.run(params, cancel=cancel, on_status=on_status)
        except BaseException as exc:  # handed to the caller's thread
            box["exc"] = exc

    worker = threading.Thread(target=work, name="nb2-run", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        cancel.set()  # the backend cancels remotely, then returns; wait for that
        with contextlib.suppress(KeyboardInterrupt):
            worker.join()
        raise
    if "exc" in box:
        raise box["exc"]
    return box["out"]


# -- the record format -------------------------------------------------------------------------
def new_record(
    params: Params, kind: str, parent: str | None, session: str, backend: Backend
) -> dict[str, Any]:
    stamp = datetime.now(timezone.utc)
    offline = bool(getattr(backend, "offline", False))
    live_cost = models.price(params.model, params.resolution)
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
        "estimated_cost": 0.0 if offline else live_cost,
        "price": {"usd": live_cost, "as_of": models.PRICE_AS_OF, "source": models.PRICE_SOURCE},
        "requested_at": now(),
    }


def fill(record: dict[str, Any], out: Output, wall: float, store: Store) -> None:
    """A succeeded record: the output stored (with its metadata spliced in) and described."""
    ext = "png" if out.format == "png" else "jpg"
    if record["params"].get("google_search"):
        # a grounded image is a snapshot of the web at this moment
        record["grounded_at"] = out.completed_at or now()
    record.update(version=out.model_version)
    # the file carries its own parameters and lineage (spliced in: pixels untouched)
    data = metadata.embed(out.data, metadata.build(record, store))
    sha, path = store.put_image(data, ext)
    w, h = image_size(out.data)
    record.update(
        status="succeeded",
        error=None,
        prediction_id=out.prediction_id,
        version=out.model_version,
        created_at=out.created_at,
        started_at=out.started_at,
        completed_at=out.completed_at,
        predict_time=out.predict_time,
        wall_time=round(wall, 3),
        logs=out.logs,
        image_inputs=out.image_inputs,
        output={
            "sha256": sha,
            "file": str(path.relative_to(store.root)),
            "format": ext,
            "width": w,
            "height": h,
            "bytes": len(data),
            # the bytes as the backend delivered them: equal across runs of a
            # deterministic backend, where the file (with its run id inside) is not
            "raw_sha256": hashlib.sha256(out.data).hexdigest(),
        },
    )


def status_of(exc: BaseException) -> str:
    if isinstance(exc, ModerationError):
        return "blocked"
    if isinstance(exc, (CanceledError, KeyboardInterrupt)):
        return "canceled"
    return "failed" if isinstance(exc, Nb2Error) else "error"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
