"""``nb2.recover``: settle the runs that may have spent money and were never settled.

A run is journaled (``pending/`` in the store) from before its create until it is stored or has
failed. One left there means a kernel died, the disk filled, the network went away or the run
ran out of time. Within the API's retention (about an hour) a succeeded prediction's output is
still there: it is downloaded and stored like any result. A prediction still running is left,
waited for or canceled, as asked. Runs another process is still running are left alone.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta
from typing import Any

from .. import errors
from ..backends import Backend
from ..request.inputs import ModelInput, is_model_input
from ..request.params import Params
from ..store import Store
from ..store.runs import UNSETTLED
from . import batch
from .outputs import close, fill, now, store_siblings

log = logging.getLogger("nb2")
RUNNING_CHOICES = ("leave", "wait", "cancel")


def recover(
    store: Store | str | os.PathLike[str] | None = None,
    *,
    backend: Backend | None = None,
    running: str = "wait",
    timeout: float | None = 120.0,
    key: str | None = None,
) -> list[dict[str, Any]]:
    """Reconcile the store's unsettled runs; returns one line of report per run.

    ``running``: what to do with a prediction still running at the server: ``"wait"`` for it
    (up to ``timeout`` seconds), ``"cancel"`` it, or ``"leave"`` it for a later call.
    ``backend`` answers for runs made at its endpoint; other Replicate endpoints get a backend
    of their own (the token from ``REPLICATE_API_TOKEN``). ``key``: only the runs of this
    request (its cache key).
    """
    if running not in RUNNING_CHOICES:
        raise errors.ValidationError(
            f"running: {running!r} is not a choice; allowed: {', '.join(RUNNING_CHOICES)}",
            field="running",
            value=running,
            allowed=list(RUNNING_CHOICES),
        )
    store = store if isinstance(store, Store) else Store(store)
    report = []
    backends: dict[str, Backend | None] = {}
    read: dict[str, Any] = {}  # a batch job's responses file, downloaded once for all its runs
    for listed in store.unsettled():
        if key is not None and listed.get("cache_key") != key:
            continue
        run_id = listed["run_id"]
        line = {"run_id": run_id, "prediction_id": listed.get("prediction_id")}
        held = store.try_hold(run_id)  # held while settling: no other kernel runs or settles it
        if held is None:
            if store.is_live(run_id):
                report.append({**line, "outcome": "running in another process; left"})
            continue  # else it settled since the list was read
        with held:
            record = store.get(run_id)  # read again under the hold: the list may be stale
            if record is None or record.get("status") not in UNSETTLED:
                continue
            outcome = _settle(store, record, backend, backends, running, timeout, read)
        # the id as settling left it: one an orphan search found is named
        report.append({**line, "prediction_id": record.get("prediction_id"), "outcome": outcome})
    for line in report:
        log.info("nb2.recover: run %(run_id)s (prediction %(prediction_id)s): %(outcome)s", line)
    return report


def before_sending(
    store: Store, backend: Backend, key: str, *, wait: bool = True,
    cancel: threading.Event | None = None,
) -> None:  # fmt: skip
    """Settle earlier runs of the request ``key`` (a create whose answer was lost, a kernel
    that died, a batch job still running) before it is sent again: it may already be made,
    and paid for. Raises UncollectedError when one can be settled neither way, so nothing is
    paid twice. ``wait=False`` takes one look (a batch: a job may take a day). ``wait=True``
    also waits while another kernel (or Session) makes the same call now: then the caller
    reads the store again rather than paying a second time."""
    if not store.has_unsettled():
        return
    running, timeout = ("wait", None) if wait else ("leave", 0.0)
    # a batch also leaves alone what another kernel is following (its job is paid once)
    held = ("left pending",) if wait else ("left pending", "running in another process")
    for line in recover(store, backend=backend, running=running, timeout=timeout, key=key):
        if wait and line["outcome"].startswith("running in another process"):
            if (store.get(line["run_id"]) or {}).get("batch"):  # a job may take a day
                line = {**line, "outcome": "left pending: a batch job another kernel follows"}
            elif store.wait_unheld(line["run_id"], cancel):  # its call: then read the store
                continue
            else:
                raise errors.CanceledError("stopped while an identical request was in flight")
        if line["outcome"].startswith(held):
            raise errors.UncollectedError(
                f"an earlier run of this request ({line['run_id']}) may have made a prediction "
                f"that is not settled yet ({line['outcome']}); nothing was sent again. Run "
                "nb2.recover() later, or pass fresh=True to make a new one anyway",
                prediction_id=line["prediction_id"],
            )


def on_open(store: Store, backend: Backend) -> list[dict[str, Any]]:
    """What a new Session settles of what earlier kernels left unsettled (cheap when nothing
    is): finished predictions are collected, running ones left for later."""
    if not store.has_unsettled():
        return []
    return recover(store, backend=backend, running="leave", timeout=15.0)


def _settle(
    store: Store,
    record: dict[str, Any],
    given: Backend | None,
    backends: dict[str, Backend | None],
    running: str,
    timeout: float | None,
    read: dict[str, Any] | None = None,
) -> str:
    desc = record.get("backend") or {}
    pid = record.get("prediction_id")
    if desc.get("offline"):
        return close(store, record, "canceled", "interrupted; an offline render bills nothing")
    backend = _backend_for(desc, given, backends)
    if backend is None:
        return f"left pending: no {desc.get('name', 'Replicate')} key or token to collect it with"
    if desc.get("name") == "gemini":  # Google's API: a batch job, or a call with no copy kept
        return batch.settle(store, record, backend, running, timeout, read)
    if not pid:  # the kernel died during the create's sync hold: the server's list knows
        if _identical_live(store, record):  # its prediction could be taken for this run's
            return ("left pending: an identical run is live in another kernel, and the two "
                    "predictions cannot be told apart yet; recover again once it ends")  # fmt: skip
        try:
            found = _orphan(store, record, backend)
        except Exception as exc:  # an unread list proves nothing either way
            return f"left pending: the server's prediction list could not be read ({exc})"
        if found is None:
            return close(
                store,
                record,
                "lost",
                "the create's answer never arrived and the server lists no prediction for it",
            )
        pid = record["prediction_id"] = found
        store.save(record)
    fmt = str((record.get("params") or {}).get("output_format") or "jpg")
    try:
        out = backend.collect(pid, fmt, running=running, timeout=timeout)  # type: ignore[attr-defined]
    except errors.UncollectedError as exc:
        return f"left pending: {exc}"
    except errors.CanceledError as exc:
        return close(store, record, "canceled", str(exc))
    except errors.ModerationError as exc:
        return close(store, record, "blocked", str(exc))
    except errors.Nb2Error as exc:
        gone = "no output" in str(exc) or "404" in str(exc)
        return close(store, record, "lost" if gone else "failed", str(exc))
    if out is None:
        return "still running at the server; left pending (recover again, or running='wait')"
    fill(record, out, float(record.get("wall_time") or 0.0), store)
    if out.more:  # a list output: its other files become sibling runs, as in a live run
        store_siblings(record, out, float(record.get("wall_time") or 0.0), store)
    record["recovered_at"] = now()
    store.save(record)
    return "collected and stored"


def _identical_live(store: Store, record: dict[str, Any]) -> bool:
    return any(
        r["run_id"] != record["run_id"]
        and r.get("cache_key") == record.get("cache_key")
        and store.is_live(r["run_id"])
        for r in store.unsettled()
    )


def _orphan(store: Store, record: dict[str, Any], backend: Any) -> str | None:
    """The id of the prediction an unanswered create made, from the server's list: same model
    and input, created since the run was requested (less a margin for the clocks), and not
    already recorded by another run of this store."""
    # here, not at the top: the Replicate backend's modules load only when its list is read
    from ..backends.replicate.api import parse_time

    asked = parse_time(record.get("requested_at"))
    if asked is None:
        return None
    data = dict(record.get("input") or {})
    if is_model_input(record.get("params") or {}):
        return _orphan_of_model_input(store, record, backend, data, asked)
    try:
        refs = Params.from_dict(record["params"], store.read_image).references
    except Exception:
        refs = ()
    tries = [data]
    if refs:
        images = [r.load() for r in refs]
        # the dead kernel sent each image as a data URI or as an upload, by its own backend's
        # data_uri_limit, unknown here: the exact data URIs first, then the rest and the count
        # (an upload's URL is gone with the kernel)
        tries = [
            {**data, "image_input": [i.data_uri() for i in images]},
            {**data, "image_input": None, "image_count": len(images)},
        ]
    return _find_unrecorded(store, backend, record["model"], tries, asked)


def _find_unrecorded(
    store: Store, backend: Any, model: str, tries: list[dict[str, Any]], asked: Any
) -> str | None:
    known = {r.get("prediction_id") for r in store.records() if r.get("prediction_id")}
    for pid in known:
        backend.claims.hold(pid)
    for data in tries:
        found = backend.find_orphan(model, data, asked - timedelta(minutes=2))
        if found is not None:
            return str(found.id)
    return None


def _orphan_of_model_input(
    store: Store, record: dict[str, Any], backend: Any, data: dict[str, Any], asked: Any
) -> str | None:
    """As :func:`_orphan`, for a request to another model: its images sit in named inputs."""
    try:
        request = ModelInput.from_dict(record["params"], store.read_image)
    except Exception:
        request = None
    tries = [data]
    if request is not None and request.images:
        images = [r.load() for r in request.references]
        # as in _orphan: data URIs first, then uploads (any URI in those inputs counts)
        tries = [
            request.api_input([i.data_uri() for i in images]),
            {**data, "image_fields": list(request.images)},
        ]
    return _find_unrecorded(store, backend, record["model"], tries, asked)


def _backend_for(
    desc: dict[str, Any], given: Backend | None, backends: dict[str, Backend | None]
) -> Backend | None:
    url = str(desc.get("base_url") or "https://api.replicate.com").rstrip("/")
    mine = given is not None and not given.offline
    if mine and str(given.describe().get("base_url", "")).rstrip("/") == url:  # type: ignore[union-attr]
        return given
    if url not in backends:
        # here, not at the top: the clients and httpx load only when a live run is recovered
        from ..backends.gemini import GeminiBackend

        # the same: the replicate client loads only when one of its runs is recovered
        from ..backends.replicate import ReplicateBackend

        make = GeminiBackend if desc.get("name") == "gemini" else ReplicateBackend
        try:
            backends[url] = make(base_url=url)
        except errors.AuthenticationError:
            backends[url] = None
    return backends[url]
