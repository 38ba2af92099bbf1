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
from ..backends.gemini.batch import UNREAD
from ..models.gemini import BATCH_DISCOUNT
from ..request.params import Params
from ..store import Store
from .outputs import close, fill, priced, store_siblings
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
    holds: list[Any] = []  # this kernel's runs while it follows them: no other recover takes them
    try:
        return _send(store, backend, model, group, session, cancel, on_progress, poll, name,
                     runs, holds)  # fmt: skip
    finally:
        for held in holds:
            held.close()


def _send(
    store: Store, backend: Any, model: str, group: list[Params], session: str,
    cancel: threading.Event, on_progress: Progress | None, poll: float, name: str,
    runs: dict[str, tuple[dict[str, Any], Params]], holds: list[Any],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    try:
        for i, params in enumerate(group):
            record = new_record(params, "grid", None, session, backend)
            cost = record.get("estimated_cost")
            half = None if cost is None else round(cost * BATCH_DISCOUNT, 6)
            batch = {"name": name, "key": f"k{i}", "job": None}
            record.update(status="pending", batch=batch, estimated_cost=half)
            holds.append(store.hold(record["run_id"]))
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
    """Store each answer of the job's responses file (a line that cannot be read, an image that
    is none, fails its own run alone); close the runs it has none for, as not billed only when
    the job's counts say so. ``read``: responses files already downloaded (recover settles a
    job's runs one by one)."""
    read = {} if read is None else read
    file = state.get("file")
    if file and file not in read:
        read[file] = backend.batch_results(file)
    answers = read.get(file, {}) if file else {}
    unread = int(answers.get(UNREAD, 0))
    made = sum(1 for k, v in answers.items() if k != UNREAD and not isinstance(v, errors.Nb2Error))
    missing = max(0, int(state.get("succeeded") or 0) - made)  # made at Google, not handed back
    for key, (record, _) in runs.items():
        got = answers.get(key)
        if got is None and not state["done"]:
            continue  # still running (a Ctrl-C's cancel not yet ended): recover collects it
        try:
            if isinstance(got, errors.Nb2Error):
                if isinstance(getattr(got, "usage", None), dict):
                    priced(record, got.usage, image=False)  # type: ignore[attr-defined]
                close(store, record, status_of(got), str(got))
            elif got is not None:
                fill(record, got, wall, store)
                if got.more:  # two final images: the second is a sibling result
                    store_siblings(record, got, wall, store)
                store.save(record)
            else:
                close(store, record, *_unanswered(state, unread, missing))
        except OSError as exc:
            if getattr(exc, "errno", None) is not None:  # the disk: the run stays pending
                raise errors.StoreError(
                    f"the store at {store.root} cannot be written ({exc.strerror or exc}); "
                    f"batch job {state.get('job') or ''} stays pending: nb2.recover() collects it"
                ) from None
            close(store, record, "failed", f"the answer could not be stored ({exc}); billed")
        except (ValueError, TypeError, KeyError) as exc:  # an answer of the wrong shape
            close(store, record, "failed", f"the answer could not be read ({exc}); billed")


def _unanswered(state: dict[str, Any], unread: int, missing: int) -> tuple[str, str]:
    """How a run the ended job has no answer for ends: (status, why)."""
    ended = state["state"]
    if unread:
        return "failed", (f"its answer was among {unread} unreadable lines of the job's output; "
                          "it may have been billed")  # fmt: skip
    if missing:  # the job's counts say more succeeded than it handed back: this may be one
        return "lost", (f"batch job ended {ended}; it says {state.get('succeeded')} requests "
                        f"succeeded, {missing} of them with no answer returned: this one may "
                        "have been billed")  # fmt: skip
    if ended == "JOB_STATE_CANCELLED":
        return "canceled", "canceled before it ran (not billed)"
    if ended == "JOB_STATE_EXPIRED":
        return "failed", "the job expired before it ran (not billed)"
    return "failed", f"no answer ({ended})"


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
