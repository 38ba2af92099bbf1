"""Many requests as one Batch API job (the Gemini API: half the price, results within 24 h,
usually minutes), under the money rules of a single run.

Every run's record is on disk (``pending``, with the job's display name) before the job is
created, and the job's name joins them the moment it exists, before any waiting. The job is then
followed to its end: each answer stored like a live one, or the job canceled at Google on a Stop
or Ctrl-C (what had finished is still collected), or left to ``nb2.recover()``, which finds the
job by its name (a create whose answer was lost: by its display name) and collects it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from .. import errors, models
from ..gemini_models import BATCH_DISCOUNT
from ..params import Params
from ..store import Store
from .outputs import close, fill
from .runner import new_record, status_of

log = logging.getLogger("nb2")
Progress = Callable[[dict[str, Any]], None]


def run(
    store: Store, backend: Any, params: list[Params], session: str, *,
    cancel: threading.Event | None = None, on_progress: Progress | None = None,
    poll: float | None = None,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Send ``params`` as one job per model and follow them; returns each request's record by
    cache key (succeeded, failed, blocked, canceled, or pending for recover)."""
    if not hasattr(backend, "batch_submit"):
        raise errors.ValidationError(
            f"batch: the {backend.name} backend has no Batch API; it is the Gemini API's "
            "(Session(backend='gemini'))",
            field="batch", value=True, allowed="a Gemini API session",
        )  # fmt: skip
    cancel = cancel or threading.Event()
    poll = float(getattr(backend, "batch_poll", 2.0)) if poll is None else poll
    unique = list({p.cache_key: p for p in params}.values())
    for model in {p.model for p in unique}:  # a shut-down id: named before anything is journaled
        models.check_served(model)
    out: dict[str, dict[str, Any]] = {}
    for model in sorted({p.model for p in unique}):
        group = [p for p in unique if p.model == model]
        out.update(_job(store, backend, model, group, session, cancel, on_progress, poll))
    return out


def _job(
    store: Store, backend: Any, model: str, group: list[Params], session: str,
    cancel: threading.Event, on_progress: Progress | None, poll: float,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    name = f"nb2-batch-{uuid.uuid4().hex[:12]}"
    runs: dict[str, tuple[dict[str, Any], Params]] = {}
    try:
        for i, params in enumerate(group):
            record = new_record(params, "grid", None, session, backend)
            cost = record.get("estimated_cost")
            half = None if cost is None else round(cost * BATCH_DISCOUNT, 6)
            batch = {"name": name, "key": f"k{i}", "job": None}
            record.update(status="pending", batch=batch, estimated_cost=half)
            store.save(record)
            for ref in params.references:
                store.put_image(ref.data, ref.load().ext)
            runs[f"k{i}"] = (record, params)
    except OSError as exc:
        for record, _ in runs.values():  # never sent: nothing for recover to look for
            close(store, record, "failed", "the store could not be written; nothing was sent")
        raise errors.StoreError(
            f"the store at {store.root} cannot be written ({exc.strerror or exc}); "
            "nothing was sent, nothing was spent"
        ) from None
    started = time.perf_counter()
    try:
        job = backend.batch_submit(model, {k: p for k, (_, p) in runs.items()}, name)
    except errors.Nb2Error as exc:
        if getattr(exc, "answer_lost", False):  # it may exist: recover finds it by its name
            raise errors.UncollectedError(
                f"the batch job's create got no answer ({exc}); its {len(runs)} runs stay "
                f"pending as {name}: nb2.recover() finds the job if it was made"
            ) from None
        for record, _ in runs.values():
            close(store, record, status_of(exc), str(exc))
        raise
    for record, _ in runs.values():
        record["batch"]["job"] = job
        store.save(record)
    log.info("nb2: batch job %s: %d requests sent (%s)", job, len(runs), model)
    follow(store, backend, job, runs, cancel=cancel, on_progress=on_progress, poll=poll,
           started=started)  # fmt: skip
    return {p.cache_key: record for record, p in runs.values()}


def follow(
    store: Store, backend: Any, job: str, runs: dict[str, tuple[dict[str, Any], Any]], *,
    cancel: threading.Event, on_progress: Progress | None = None, poll: float = 2.0,
    started: float | None = None, timeout: float | None = None,
    read: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Read the job until it ends, or for ``timeout`` seconds (0: one look), then store what it
    made; a Stop or Ctrl-C cancels it at Google first. Returns the job's last state."""
    started = time.perf_counter() if started is None else started
    until = None if timeout is None else time.monotonic() + timeout
    canceled = False
    try:
        while True:
            state = backend.batch_state(job)
            if on_progress:
                on_progress(state)
            left = None if until is None else until - time.monotonic()
            if state["done"] or (left is not None and left <= 0):
                break
            if cancel.wait(poll if left is None else min(poll, left)) and not canceled:
                backend.batch_cancel(job)  # requests not yet run are not run, nor billed
                canceled = True
    except KeyboardInterrupt:
        backend.batch_cancel(job)
        collect(store, backend, backend.batch_state(job), runs, time.perf_counter() - started,
                read)  # fmt: skip
        raise
    if state["done"]:
        collect(store, backend, state, runs, time.perf_counter() - started, read)
    return state


def collect(
    store: Store, backend: Any, state: dict[str, Any],
    runs: dict[str, tuple[dict[str, Any], Any]], wall: float, read: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Store each answer of the job's responses file; close the runs it has none for.
    ``read``: responses files already downloaded (recover settles a job's runs one by one)."""
    read = {} if read is None else read
    file = state.get("file")
    if file and file not in read:
        read[file] = backend.batch_results(file)
    answers = read.get(file, {}) if file else {}
    for key, (record, _) in runs.items():
        got = answers.get(key)
        if isinstance(got, errors.Nb2Error):
            close(store, record, status_of(got), str(got))
        elif got is not None:
            fill(record, got, wall, store)
            store.save(record)
        elif state["done"]:
            why = {"JOB_STATE_CANCELLED": ("canceled", "canceled before it ran (not billed)"),
                   "JOB_STATE_EXPIRED": ("failed", "the job expired before it ran")}  # fmt: skip
            status, text = why.get(state["state"], ("failed", f"no answer ({state['state']})"))
            close(store, record, status, text)


def settle(
    store: Store, record: dict[str, Any], backend: Any, running: str, timeout: float | None,
    read: dict[str, Any] | None = None,
) -> str:  # fmt: skip
    """nb2.recover for a Gemini API run: a batch job's run is collected from its job (found by
    its display name when the create's answer was lost), waited for up to ``timeout`` unless
    ``running`` is "leave"; a generateContent call whose kernel died has nothing to collect
    (Google keeps no copy), so it is closed as lost."""
    job_of = record.get("batch") or {}
    if not job_of:
        return close(store, record, "lost", "the kernel ended during a Gemini API call; it "
                     "may have been billed, and Google's API keeps no copy to collect")  # fmt: skip
    job = job_of.get("job") or backend.batch_find(job_of["name"])
    if job is None:
        return close(store, record, "lost", f"no batch job named {job_of['name']} exists")
    record["batch"]["job"] = job
    if running == "cancel":
        backend.batch_cancel(job)
    state = follow(store, backend, job, {job_of["key"]: (record, None)},
                   cancel=threading.Event(), timeout=0 if running == "leave" else timeout,
                   read=read)  # fmt: skip
    if not state["done"]:
        store.save(record)
        return f"left pending: batch job {job} is {state['state']}"
    return f"batch job {job} {state['state']}: {record['status']}"
