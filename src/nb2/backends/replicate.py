"""The real backend: Replicate's API through the official ``replicate`` client (1.x).

Not ``replicate.run()``: it drops sync mode, returns None on a ``processing`` answer and never
cancels on Ctrl-C. This backend creates with ``models.predictions.create(..., wait=N)``, polls to
a terminal status, cancels remotely on a Stop or an interrupt, retries 429s by the server's
``retry_after`` without ever creating twice, and downloads the output with no credentials.
"""

from __future__ import annotations

import io
import logging
import os
import re
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import errors
from . import Output, StatusCallback
from .download import download as _download
from .download import parse_time as _parse_time
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from ..params import Params
    from ..references import Reference

log = logging.getLogger("nb2.replicate")
TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_MODERATION = re.compile(r"E005|flagged as sensitive", re.I)
_RETRY_TEXT = re.compile(r"~\s*(\d+(?:\.\d+)?)\s*s", re.I)
_UPLOAD_TTL = 23 * 3600  # the Files API keeps uploads 24 h; reuse them a little less long


class ReplicateBackend:
    """Replicate's hosted Nano Banana models.

    ``api_token`` defaults to ``REPLICATE_API_TOKEN``; ``base_url`` (an origin, no ``/v1``) points
    at another server such as ``nb2.emulator``. ``wait`` is the sync-mode hold in seconds (1-60):
    the answer comes the moment the image is ready, and a Stop during it takes effect when it
    ends. ``timeout`` bounds a whole prediction. A create whose connection dropped is looked
    up, and sent again only if the server still lists no such prediction after
    ``lost_create_grace`` seconds.
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
    ) -> None:
        import replicate

        token = api_token or os.environ.get("REPLICATE_API_TOKEN")
        if not token:
            raise errors.AuthenticationError(
                "no Replicate API token: pass ReplicateBackend(api_token=...) or set "
                "REPLICATE_API_TOKEN (or use nb2.OfflineBackend() to work without one)"
            )
        if not 1 <= int(wait) <= 60:
            raise errors.ValidationError(
                f"wait: {wait!r} is outside the API's range",
                field="wait",
                value=wait,
                allowed="1 to 60 seconds",
            )
        self.base_url = base_url or os.environ.get("REPLICATE_BASE_URL") or None
        self.wait = int(wait)
        self.timeout = float(timeout)
        self.poll_interval = float(poll_interval)
        self.create_retries = int(create_retries)
        self.data_uri_limit = int(data_uri_limit)
        self.lost_create_grace = float(lost_create_grace)
        self.limiter = RateLimiter(creates_per_minute, burst)
        self._local = threading.local()  # the last error body, per thread (see _on_response)
        self._uploads: dict[str, tuple[str, float]] = {}
        self._uploads_lock = threading.Lock()
        self._http: Any = None  # one credential-free client for downloads (see _downloader)
        self._client = replicate.Client(
            api_token=token,
            base_url=self.base_url,
            event_hooks={"response": [self._on_response]},
        )

    def __repr__(self) -> str:
        return f"ReplicateBackend(base_url={self.base_url!r}, token=set)"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "offline": False,
            "base_url": self.base_url or "https://api.replicate.com",
        }

    # -- the run ----------------------------------------------------------------------------
    def run(
        self,
        params: Params,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> Output:
        cancel = cancel or threading.Event()
        say = on_status or (lambda s: None)
        deadline = time.monotonic() + self.timeout
        images = [self._image_uri(ref) for ref in params.references]
        data = params.scalar_input()
        if images:
            data["image_input"] = [uri for uri, _ in images]
        say("queued")
        pred = None
        try:
            pred = self._create(params.model, data, cancel)
            while pred.status not in TERMINAL:
                say(pred.status)
                if cancel.is_set():
                    raise errors.CanceledError("stopped", prediction_id=pred.id)
                if time.monotonic() > deadline:
                    raise TimeoutError
                cancel.wait(self.poll_interval)
                if not cancel.is_set():
                    pred = self._reload(pred)
        except TimeoutError:
            self._cancel(pred)
            raise errors.GenerationError(
                f"prediction {pred.id if pred else '?'} took longer than {self.timeout:.0f} s; "
                "it was canceled",
                prediction_id=pred.id if pred else None,
            ) from None
        except (errors.CanceledError, KeyboardInterrupt):
            self._cancel(pred)
            raise
        return self._finish(pred, params, [how for _, how in images], say)

    def _finish(self, pred: Any, params: Params, how: list[str], say: StatusCallback) -> Output:
        if pred.status == "canceled":
            raise errors.CanceledError(f"prediction {pred.id} was canceled", prediction_id=pred.id)
        if pred.status != "succeeded":
            message = str(pred.error or pred.status)
            cls = errors.ModerationError if _MODERATION.search(message) else errors.GenerationError
            raise cls(
                f"prediction {pred.id} {pred.status}: {message}",
                prediction_id=pred.id,
                logs=pred.logs,
            )
        url = pred.output[0] if isinstance(pred.output, list) else pred.output
        if not isinstance(url, str) or not url:
            raise errors.GenerationError(
                f"prediction {pred.id} succeeded with no output (data removed?)",
                prediction_id=pred.id,
                logs=pred.logs,
            )
        say("downloading")
        metrics = pred.metrics or {}
        return Output(
            data=_download(self._downloader(), url, pred.id),
            format=str(params.output_format or "jpg"),
            prediction_id=pred.id,
            model_version=pred.version,
            created_at=pred.created_at,
            started_at=pred.started_at,
            completed_at=pred.completed_at,
            predict_time=metrics.get("predict_time"),
            logs=pred.logs,
            image_inputs=how,
        )

    def _downloader(self) -> Any:
        """A shared httpx client with no credentials: building one costs ~20 ms of CPU (its
        TLS context), which a grid of cells on few cores would otherwise pay per image."""
        import httpx

        with self._uploads_lock:
            if self._http is None:
                self._http = httpx.Client(
                    follow_redirects=True, timeout=httpx.Timeout(60.0, connect=10.0)
                )
            return self._http

    # -- create, with the rules for retrying ------------------------------------------------
    def _create(self, model: str, data: dict[str, Any], cancel: threading.Event) -> Any:
        import httpx
        from replicate.exceptions import ReplicateError

        backoff = 1.0
        for attempt in range(self.create_retries + 1):
            self.limiter.acquire(cancel)
            self._local.body, self._local.headers = None, None
            since = datetime.now(timezone.utc)
            try:
                return self._client.models.predictions.create(
                    model=model, input=data, wait=self.wait
                )
            except ReplicateError as exc:
                if exc.status == 429 and attempt < self.create_retries:
                    pause = self._retry_after(exc) or backoff
                    backoff = min(backoff * 2, 30)
                    log.info("throttled on create; waiting %.1f s", pause)
                    self.limiter.pause(pause)
                    continue
                if exc.status and exc.status >= 500:
                    found = self._find(model, data, since)
                    if found is not None:
                        return found
                    if attempt < self.create_retries:
                        time.sleep(min(backoff, 5))
                        backoff *= 2
                        continue
                raise self._map_error(exc) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # the request never reached the server: a retry cannot double-bill
                if attempt >= self.create_retries:
                    raise errors.GenerationError(f"cannot reach Replicate: {exc}") from None
                time.sleep(min(backoff, 5))
                backoff *= 2
            except (httpx.TransportError, KeyboardInterrupt) as exc:
                # it may have reached the server: find that prediction, never make another
                found = self._find(model, data, since)
                if isinstance(exc, KeyboardInterrupt):
                    self._cancel(found)
                    raise
                if found is None and attempt < self.create_retries:
                    # A server still handling the request lists it a moment later; only a
                    # create that stays unlisted after that grace was never made, and is sent
                    # again (a dropped keep-alive connection is the common case).
                    if cancel.wait(self.lost_create_grace):
                        self._cancel(self._find(model, data, since))  # made after all? stop it
                        raise errors.CanceledError("stopped") from None
                    found = self._find(model, data, since, sure=True)
                    if found is None:
                        log.info("create lost before the server made it; sending it again")
                        continue
                if found is not None:
                    return found
                raise errors.GenerationError(
                    f"the create request failed after it was sent ({type(exc).__name__}) and no "
                    "prediction was found for it; not retried, so nothing is billed twice"
                ) from None
        raise errors.RateLimitError("still throttled after retrying")  # pragma: no cover

    def _find(
        self, model: str, data: dict[str, Any], since: datetime, *, sure: bool = False
    ) -> Any:
        """The prediction a lost create made, if the server lists one with our exact input.

        ``sure``: None must mean "not made", so an unreadable list raises instead.
        """
        page = None
        for attempt in range(3 if sure else 1):
            try:
                page = self._client.predictions.list()
                break
            except Exception:
                time.sleep(0.2 * (attempt + 1))
        if page is None:
            if sure:
                raise errors.GenerationError(
                    "the create request failed after it was sent and the prediction list "
                    "could not be read; not retried, so nothing is billed twice"
                )
            return None
        for pred in page.results or []:
            created = _parse_time(pred.created_at)
            if pred.input == data and created and created >= since.replace(microsecond=0):
                return pred
        return None

    def _reload(self, pred: Any) -> Any:
        import httpx
        from replicate.exceptions import ReplicateError

        for attempt in range(6):
            try:
                return self._client.predictions.get(pred.id)
            except ReplicateError as exc:
                if not (exc.status and exc.status >= 500) or attempt == 5:
                    raise self._map_error(exc, pred.id) from None
            except httpx.TransportError:
                if attempt == 5:
                    raise errors.GenerationError(
                        f"lost contact with Replicate while waiting for {pred.id}",
                        prediction_id=pred.id,
                    ) from None
            except Exception as exc:  # the client's strict parser (e.g. status "aborted")
                raise errors.GenerationError(
                    f"prediction {pred.id}: unreadable answer ({type(exc).__name__})",
                    prediction_id=pred.id,
                ) from None
            time.sleep(min(0.5 * 2**attempt, 8))
        return pred  # pragma: no cover

    def _cancel(self, pred: Any) -> None:
        if pred is None or getattr(pred, "status", None) in TERMINAL:
            return
        for attempt in range(3):  # a dropped connection must not leave it running (and billing)
            try:
                self._client.predictions.cancel(pred.id)
                return
            except Exception as exc:
                if attempt == 2:
                    log.warning("could not cancel prediction %s: %s", pred.id, type(exc).__name__)
                else:
                    time.sleep(0.2)

    # -- errors -----------------------------------------------------------------------------
    def _on_response(self, response: Any) -> None:
        # The client drops retry_after and invalid_fields from error bodies; keep them.
        if response.status_code >= 400:
            response.read()
            try:
                self._local.body = response.json()
            except ValueError:
                self._local.body = None
            self._local.headers = dict(response.headers)

    def _retry_after(self, exc: Any) -> float | None:
        body = getattr(self._local, "body", None) or {}
        if isinstance(body.get("retry_after"), (int, float)):
            return float(body["retry_after"])
        m = _RETRY_TEXT.search(exc.detail or "")
        if m:
            return float(m.group(1))
        header = (getattr(self._local, "headers", None) or {}).get("retry-after", "")
        return float(header) if header.replace(".", "", 1).isdigit() else None

    def _map_error(self, exc: Any, prediction_id: str | None = None) -> errors.Nb2Error:
        detail = (exc.detail or exc.title or "").strip()
        status = exc.status
        if status == 401:
            return errors.AuthenticationError(f"Replicate refused the token (401): {detail}")
        if status == 402:
            return errors.InsufficientCreditError(f"Replicate: insufficient credit (402): {detail}")
        if status == 422:
            body = getattr(self._local, "body", None) or {}
            fields = body.get("invalid_fields") or []
            names = ", ".join(f.get("field", "?") for f in fields) or "input"
            return errors.ValidationError(
                f"Replicate refused the input (422) at {names}: {detail}",
                field=names,
                invalid_fields=fields,
            )
        if status == 429:
            return errors.RateLimitError(
                f"Replicate is still throttling after {self.create_retries} retries: {detail}",
                retry_after=self._retry_after(exc),
            )
        return errors.GenerationError(
            f"Replicate error {status}: {detail}", prediction_id=prediction_id
        )

    # -- images in ---------------------------------------------------------------------------
    def _image_uri(self, ref: Reference) -> tuple[str, str]:
        """A URI for a reference: a data URI when small, else an upload (reused by hash)."""
        img = ref.load()
        if len(img.data) <= self.data_uri_limit:
            return img.data_uri(), "data_uri"
        with self._uploads_lock:
            hit = self._uploads.get(img.sha256)
            if hit and hit[1] > time.monotonic():
                return hit[0], "upload_reused"
        try:
            f = self._client.files.create(
                io.BytesIO(img.data),
                filename=f"{img.sha256[:16]}.{img.ext}",
                content_type=img.mime,
            )
        except Exception as exc:
            from replicate.exceptions import ReplicateError

            if isinstance(exc, ReplicateError):
                raise self._map_error(exc) from None
            raise errors.GenerationError(f"uploading {ref.name} failed: {exc}") from None
        url = f.urls.get("get") or ""
        with self._uploads_lock:
            self._uploads[img.sha256] = (url, time.monotonic() + _UPLOAD_TTL)
        return url, "upload"
