"""The real backend: Replicate's API over the official ``replicate`` client's session (1.x).

Not ``replicate.run()``: it returns None on a ``processing`` answer and never cancels on
Ctrl-C. A run here: create in sync mode (``Prefer: wait``) with ``Cancel-After`` set to the
run's time, so an orphan dies at the server; hand the prediction id to ``on_created`` (the
session writes it to disk) before any waiting; poll to a terminal status, or take the output
at once when the answer already carries it; download it with no credentials. One deadline
bounds it all. Money rules: a create that may have reached the server is never sent again
until the server's list shows it was not made (see lost.py); a Stop cancels at the server,
even mid-create; a prediction that finished anyway is downloaded.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ... import errors
from .. import Output, StatusCallback, ratelimit
from ..download import MAX_OUTPUT_BYTES, download
from ..worker import call
from .answers import map_answer, moderation
from .api import Answer, Api, Prediction, Unreadable
from .create import CANCEL_UNCONFIRMED, Creating
from .lost import Claims

if TYPE_CHECKING:
    from ...request.params import Params
    from ...request.references import Reference

log = logging.getLogger("nb2.replicate")
_UPLOAD_TTL = 23 * 3600  # the Files API keeps uploads 24 h; reuse them a little less long
_RETRYABLE = (429, 500, 502, 503, 504)


class _Timeout(Exception):
    pass


class ReplicateBackend(Creating):
    """Replicate's hosted models.

    ``api_token`` defaults to ``REPLICATE_API_TOKEN``; ``base_url`` (an origin, no ``/v1``) points
    at another server such as ``nb2.emulator``. ``wait`` is the sync-mode hold in seconds (1-60):
    the answer comes the moment the image is ready. ``timeout`` bounds a whole run end to end
    (create, holds, polls, retries, download) and is sent as ``Cancel-After``.
    ``max_retry_after`` caps what a 429 may ask to wait; ``max_output_bytes`` caps a download.
    ``creates_per_minute`` is the account's limit (600; under $5 of credit, 6 with ``burst=1``:
    without ``burst`` all of a minute's creates may leave at once): every backend on the same
    token and setting in this process shares one limiter.
    """

    name = "replicate"
    offline = False

    def __init__(
        self,
        api_token: str | None = None,
        *,
        base_url: str | None = None,
        wait: int = 10,
        timeout: float = 600.0,
        poll_interval: float = 0.5,
        creates_per_minute: float = 600,
        burst: int | None = None,
        create_retries: int = 6,
        data_uri_limit: int = 256 * 1024,
        lost_create_grace: float = 1.0,
        max_retry_after: float = 60.0,
        max_output_bytes: int = MAX_OUTPUT_BYTES,
    ) -> None:
        token = api_token or os.environ.get("REPLICATE_API_TOKEN")
        if not token:
            raise errors.AuthenticationError(
                "no Replicate API token: pass ReplicateBackend(api_token=...) or set "
                "REPLICATE_API_TOKEN (or use nb2.OfflineBackend() to work without one)"
            )
        errors.secret(token)  # never in a message or a record, whatever a server echoes
        self.wait = _number("wait", wait, 1, 60, integer=True)
        self.timeout = _number("timeout", timeout, 1, 86400)
        self.poll_interval = _number("poll_interval", poll_interval, 0.01, 60)
        self.max_retry_after = _number("max_retry_after", max_retry_after, 0, 3600)
        self.lost_create_grace = _number("lost_create_grace", lost_create_grace, 0, 60)
        self.create_retries = int(_number("create_retries", create_retries, 0, 100, integer=True))
        self.data_uri_limit = int(data_uri_limit)
        self.max_output_bytes = int(max_output_bytes)
        self.base_url = base_url or os.environ.get("REPLICATE_BASE_URL") or None
        for cred in re.findall(r"//([^/@\s]+)@", self.base_url or ""):  # a key in the URL too
            errors.secret(cred.partition(":")[2] or cred)
        # one limiter per account and setting: several backends, sessions or background
        # grids on this token share the account's minute
        per_minute = _number("creates_per_minute", creates_per_minute, 0.1, 100_000)
        if burst is not None:
            burst = int(_number("burst", burst, 1, 100_000, integer=True))
        self.limiter = ratelimit.for_account(
            token, self.base_url or "https://api.replicate.com", per_minute, burst
        )
        self.claims = Claims()
        self.api = Api(token, self.base_url)
        self._uploads: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._http: Any = None  # one credential-free client for downloads (see _downloader)

    def __repr__(self) -> str:
        url = errors.safe_url(self.base_url) if self.base_url else None
        return f"ReplicateBackend(base_url={url!r}, token=set)"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "offline": False,
            "base_url": errors.safe_url(self.base_url or "https://api.replicate.com").rstrip("/"),
        }

    # -- a run ----------------------------------------------------------------------------------
    def run(
        self,
        params: Params,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        on_created: Callable[[str], None] | None = None,
    ) -> Output:
        cancel = cancel or threading.Event()
        # Called on the main thread (directly, not from a session's worker), a Ctrl-C during
        # the sync hold must cancel at the server before it propagates, as a Stop does.
        return call(
            lambda: self._run(params, cancel, on_status, on_created), cancel, keep_finished=True
        )

    def _run(
        self,
        params: Params,
        cancel: threading.Event,
        on_status: StatusCallback | None,
        on_created: Callable[[str], None] | None,
    ) -> Output:
        say = on_status or (lambda s: None)
        deadline = time.monotonic() + self.timeout
        images = [self._image_uri(ref) for ref in params.references]
        data = params.api_input([uri for uri, _ in images])
        say("queued")
        pred = self._create(route(params), data, cancel, deadline)
        if on_created is not None:
            try:
                on_created(pred.id)  # the journal: the id is on disk before any waiting
            except BaseException:
                self._cancel(pred.id)  # it cannot be recorded, so it must not run on
                raise
        return self._follow(pred, str(params.output_format or "jpg"), cancel, deadline, say,
                            [how for _, how in images])  # fmt: skip

    def collect(
        self, prediction_id: str, output_format: str, *, running: str = "leave",
        timeout: float | None = None,
    ) -> Output | None:  # fmt: skip
        """A recorded prediction's output now (for ``nb2.recover``): downloaded if it
        succeeded; if still running, waited for (``running="wait"``), canceled ("cancel") or
        left (None). Raises the run's error if it failed, was canceled or its data is gone."""
        limit = timeout or self.timeout
        deadline = time.monotonic() + limit
        try:
            pred = self._poll(Prediction(prediction_id, "unknown"), threading.Event(), deadline)
        except _Timeout:  # the API never answered: nothing is known, so it stays pending
            raise errors.UncollectedError(
                f"prediction {prediction_id} could not be read within {limit:.0f} s; "
                "left for a later nb2.recover()",
                prediction_id=prediction_id,
            ) from None
        if not (pred.ready or pred.terminal):
            if running == "leave":
                return None
            if running == "cancel":
                final = self._cancel(prediction_id)
                if final is None:  # it may run on: nothing is settled
                    raise errors.UncollectedError(
                        f"prediction {prediction_id} is still running and its cancel got no "
                        "answer; left for a later nb2.recover()",
                        prediction_id=prediction_id,
                    )
                pred = final
                if not pred.ready:
                    raise errors.CanceledError(
                        f"prediction {prediction_id} was still running; canceled",
                        prediction_id=prediction_id,
                    )
        return self._follow(pred, output_format, threading.Event(), deadline, lambda s: None, [])

    def _follow(
        self, pred: Prediction, fmt: str, cancel: threading.Event, deadline: float,
        say: StatusCallback, how: list[str],
    ) -> Output:  # fmt: skip
        try:
            while not (pred.ready or pred.terminal):
                say(pred.status)
                if cancel.is_set():
                    raise errors.CanceledError("stopped", prediction_id=pred.id)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _Timeout
                if not cancel.wait(min(self.poll_interval, left)):
                    pred = self._poll(pred, cancel, deadline)
        except (errors.CanceledError, KeyboardInterrupt) as exc:
            final = self._cancel(pred.id)
            if final is None and isinstance(exc, errors.CanceledError):
                raise errors.CanceledError(
                    f"stopped{CANCEL_UNCONFIRMED}", prediction_id=pred.id, unsettled=True
                ) from None
            if final is None or not final.ready:
                raise
            pred = final  # it finished before the cancel arrived: it is paid for, so keep it
            log.info("prediction %s finished before its cancel; downloading it", pred.id)
        except _Timeout:
            final = self._cancel(pred.id)
            if final is None:
                raise errors.UncollectedError(
                    f"prediction {pred.id} outlived the run's {self.timeout:.0f} s and could "
                    "not be canceled; recorded for nb2.recover()",
                    prediction_id=pred.id,
                ) from None
            if not final.ready:
                raise errors.GenerationError(
                    f"prediction {pred.id} took longer than {self.timeout:.0f} s; canceled",
                    prediction_id=pred.id,
                ) from None
            pred = final
        return self._finish(pred, fmt, how, say, deadline)

    def _finish(
        self, pred: Prediction, fmt: str, how: list[str], say: StatusCallback, deadline: float
    ) -> Output:
        if pred.status == "canceled":
            raise errors.CanceledError(f"prediction {pred.id} was canceled", prediction_id=pred.id)
        if not pred.ready:
            message = str(pred.error or pred.status)
            if pred.status == "aborted":
                message = "aborted: its deadline (Cancel-After) passed before it started"
            cls = errors.ModerationError if moderation(message) else errors.GenerationError
            raise cls(
                f"prediction {pred.id} {pred.status}: {message}",
                prediction_id=pred.id,
                logs=pred.logs,
            )
        url = pred.output_url
        if url is None:
            raise errors.GenerationError(
                f"prediction {pred.id} succeeded with no output (data removed?)",
                prediction_id=pred.id,
                logs=pred.logs,
            )
        say("downloading")
        data, *more = [
            download(self._downloader(), u, pred.id, deadline=deadline,
                     max_bytes=self.max_output_bytes)
            for u in pred.output_urls
        ]  # fmt: skip
        return Output(
            data=data,
            more=more,
            format=fmt,
            prediction_id=pred.id,
            model_version=pred.version,
            created_at=pred.created_at,
            started_at=pred.started_at,
            completed_at=pred.completed_at,
            predict_time=pred.metrics.get("predict_time"),
            logs=pred.logs,
            image_inputs=how,
        )

    def model_schema(self, model: str) -> Any:
        """The model's latest input schema, through the official client's ``models.get``."""
        from .schema_fetch import fetch

        return fetch(self.api.client, model)

    def _downloader(self) -> Any:
        """A shared httpx client with no credentials: building one costs ~20 ms of CPU (its
        TLS context), which a grid of cells on few cores would otherwise pay per image."""
        import httpx

        with self._lock:
            if self._http is None:
                self._http = httpx.Client(follow_redirects=True)
            return self._http

    # -- polls and cancels ------------------------------------------------------------------------
    def _poll(self, pred: Prediction, cancel: threading.Event, deadline: float) -> Prediction:
        """The prediction now; transient failures are tried again until the deadline."""
        import httpx

        backoff = 0.5
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout
            a: Answer | None = None
            with contextlib.suppress(httpx.TransportError):
                a = self.api.request("GET", f"/v1/predictions/{pred.id}", timeout=min(10.0, left))
            if a is not None and a.ok:
                try:
                    return Prediction.parse(a.body)
                except Unreadable:
                    pass
            elif a is not None and a.status not in _RETRYABLE:
                raise map_answer(a, pred.id)
            asked = a.retry_after() if a is not None else None
            pause = min(asked if asked is not None else backoff, self.max_retry_after, 5.0)
            backoff = min(backoff * 2, 5.0)
            if cancel.wait(min(pause, max(0.0, deadline - time.monotonic()))):
                return pred

    def _cancel(self, prediction_id: str) -> Prediction | None:
        """Cancel at the server; the prediction as the cancel's answer shows it (None if no
        answer could be had: then it may run on, and the caller says so)."""
        for attempt in range(3):
            try:
                a = self.api.request("POST", f"/v1/predictions/{prediction_id}/cancel", timeout=3.0)
                if a.ok:
                    return Prediction.parse(a.body)
                if a.status not in _RETRYABLE:
                    break
            except Exception:
                pass
            time.sleep(0.2 * (attempt + 1))
        log.warning("could not cancel prediction %s", prediction_id)
        return None

    # -- images in ------------------------------------------------------------------------------
    def _image_uri(self, ref: Reference) -> tuple[str, str]:
        """A URI for a reference: a data URI when small, else an upload (reused by hash)."""
        img = ref.load()
        if len(img.data) <= self.data_uri_limit:
            return img.data_uri(), "data_uri"
        with self._lock:
            hit = self._uploads.get(img.sha256)
            if hit and hit[1] > time.monotonic():
                return hit[0], "upload_reused"
        try:
            f = self.api.client.files.create(
                io.BytesIO(img.data),
                filename=f"{img.sha256[:16]}.{img.ext}",
                content_type=img.mime,
            )
        except Exception as exc:
            status = getattr(exc, "status", None)
            if isinstance(status, int):
                raise map_answer(
                    Answer(status, None, {}, str(getattr(exc, "detail", "")))
                ) from None
            raise errors.GenerationError(f"uploading {ref.name} failed: {exc}") from None
        url = (f.urls or {}).get("get") or ""
        with self._lock:
            self._uploads[img.sha256] = (url, time.monotonic() + _UPLOAD_TTL)
        return url, "upload"


def route(params: Any) -> str:
    """What a create names: ``owner/name`` (sent to the model's own endpoint: the Gemini
    models, official ones), or ``owner/name:version`` when a fetched schema pins the version
    it was checked against (sent to /v1/predictions, as any other model must be)."""
    version = getattr(getattr(params, "schema", None), "version", None)
    return f"{params.model}:{version}" if version else str(params.model)


def _number(name: str, value: Any, low: float, high: float, integer: bool = False) -> float:
    try:
        f = float(value)
        ok = math.isfinite(f) and low <= f <= high and (not integer or f == int(f))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or isinstance(value, bool):
        kind = "a whole number" if integer else "a number"
        raise errors.ValidationError(
            f"{name}: {value!r} is not {kind} from {low:g} to {high:g}",
            field=name,
            value=value,
            allowed=f"{kind} from {low:g} to {high:g}",
        )
    return int(f) if integer else f
