"""``GeminiBackend``: Google's Gemini API directly, over the official ``google-genai`` SDK.

The SDK makes the call (its ``HttpOptions`` set the base URL, API version and timeout; its own
retries stay off, so every wait here is bounded and gives way to a Stop). A 429's RetryInfo is
one bounded wait, a 5xx a bounded retry; nothing else is sent twice. generateContent cannot be
canceled at Google: a Stop or Ctrl-C waits for the answer (bounded by ``timeout``), and the image
is kept, since it is paid either way.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ... import errors, models
from ...models.gemini import NB21
from .. import Output, StatusCallback
from . import batch, wire
from .answers import mapped, retry_delay
from .batch import GEMINI_URL

if TYPE_CHECKING:
    from ...request.params import Params

KEY_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


class GeminiBackend:
    """Gemini API image models (``gemini-nano-banana-2.1`` by default).

    ``api_key`` defaults to ``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``; ``base_url`` to
    ``GOOGLE_GEMINI_BASE_URL``, else Google's. ``model`` is the session's default model;
    ``model_ids`` maps nb2's model names to the ids sent, so a renamed id needs no release
    (``{"gemini-nano-banana-2.1": "gemini-nano-banana-2.1-002"}``). ``api_version`` is the
    SDK's (3.x: ``v1``). ``timeout`` bounds one call in seconds; ``max_retry_after`` caps a
    429's wait; ``retries`` is how many times a 5xx or a 429 is tried again; ``batch_poll`` is
    how often a Batch API job is looked at while it runs.
    """

    name = "gemini"
    offline = False

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        model: str = NB21,
        model_ids: dict[str, str] | None = None,
        api_version: str | None = None,
        timeout: float = 300.0,
        max_retry_after: float = 60.0,
        retries: int = 2,
        batch_poll: float = 2.0,
    ) -> None:
        key = api_key or next((os.environ[v] for v in KEY_VARS if os.environ.get(v)), None)
        if not key:
            raise errors.AuthenticationError(
                "no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass api_key="
            )
        spec = models.resolve_model(model)
        if spec.api != "gemini":
            raise errors.ValidationError(
                f"model: {model!r} is served by Replicate, not the Gemini API",
                field="model", value=model, allowed=sorted(m for m, s in models.MODELS.items()
                                                           if s.api == "gemini"),
            )  # fmt: skip
        try:
            from google import genai
            from google.genai import types
        except ImportError:  # the SDK is an extra: say how to get it
            raise errors.Nb2Error(
                "GeminiBackend needs Google's SDK: pip install 'nb2[gemini]'"
            ) from None
        errors.secret(key)
        self._key = key  # for the one read the SDK cannot do (batch.state); never shown
        self.model = spec.id
        self.model_ids = dict(model_ids or {})
        self.base_url = (base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or "").rstrip("/")
        for cred in re.findall(r"//([^/@\s]+)@", self.base_url):  # a key in the URL is one too
            errors.secret(cred.partition(":")[2] or cred)
        self.api_version = api_version
        self.timeout = float(timeout)
        self.max_retry_after = float(max_retry_after)
        self.retries = int(retries)
        self.batch_poll = float(batch_poll)  # seconds between looks at a running batch job
        options = types.HttpOptions(base_url=self.base_url or None, api_version=api_version,
                                    timeout=int(self.timeout * 1000))  # fmt: skip
        self.client = genai.Client(api_key=key, http_options=options)

    def __repr__(self) -> str:
        url = errors.safe_url(self.base_url or GEMINI_URL)
        return f"GeminiBackend(base_url={url!r}, model={self.model!r})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "base_url": errors.safe_url(self.base_url or GEMINI_URL),
                "api_version": self.api_version or "sdk default", "offline": False}  # fmt: skip

    def api_headers(self) -> dict[str, str]:
        """The key as the API wants it, for the one read the SDK cannot do (batch.state)."""
        return {"x-goog-api-key": self._key}

    def served_models(self) -> list[str]:
        """The image models the API lists now (``models.list``), by id: what nb2.models.check()
        holds nb2's table against."""
        try:
            found = [str(m.name).removeprefix("models/") for m in self.client.models.list()]
        except Exception as exc:
            raise mapped(exc) from None
        return sorted(m for m in found if "image" in m or "banana" in m)

    def api_id(self, model: str) -> str:
        return self.model_ids.get(model, model)

    # -- the Batch API (batch.py): half the price, file input and output ----------------------
    def batch_submit(self, model: str, requests: dict[str, Params], name: str) -> str:
        models.check_served(model)
        return batch.submit(self, model, requests, name)

    def batch_state(self, job: str) -> dict[str, Any]:
        return batch.state(self, job)

    def batch_results(self, file: str) -> dict[str, Any]:
        return batch.results(self, file)

    def batch_find(self, name: str) -> str | None:
        return batch.find(self, name)

    def batch_cancel(self, job: str) -> None:
        batch.cancel(self, job)

    def run(
        self,
        params: Params,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        on_created: Callable[[str], None] | None = None,
    ) -> Output:
        if params.spec.api != "gemini":
            raise errors.ValidationError(
                f"model: {params.model} is a Replicate model; this session's backend is the "
                "Gemini API (pick a gemini-* model, or a Replicate session)",
                field="model", value=params.model, allowed=[self.model],
            )  # fmt: skip
        models.check_served(params.model)  # a shut-down id: a named error, nothing sent
        contents, config = wire.sdk_request(params, int(self.timeout * 1000))
        started = wire.now()
        body = self.ask(self.api_id(params.model), contents, config, cancel=cancel,
                        on_status=on_status)  # fmt: skip
        return wire.read(body, started)

    def ask(
        self, model: str, contents: Any, config: Any, *, cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """One generateContent call (``model``: the id sent), its 429s and 5xx tried again as
        the backend's settings say; the raw answer as Google sent it. The judge asks this too.
        ``config`` must ask for the raw answer (``should_return_http_response``)."""
        cancel = cancel or threading.Event()
        for attempt in itertools.count():
            if cancel.is_set():  # nothing sent yet on this attempt: nothing is paid
                raise errors.CanceledError("stopped before the request was sent")
            if on_status:
                on_status("processing")
            try:
                answer = self.client.models.generate_content(
                    model=model, contents=contents, config=config
                )
            except Exception as exc:
                wait = self._retry_wait(exc, attempt)
                if wait is None:
                    raise mapped(exc, model) from None
                if cancel.wait(wait):
                    raise errors.CanceledError("stopped while waiting to try again") from None
                continue
            return _body(answer)
        raise AssertionError("unreachable")  # itertools.count never ends

    def _retry_wait(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None: a 429 (its RetryInfo, capped) or a
        5xx, while tries are left. Anything else, a lost answer included, is not sent again:
        it may have been made, and Google's API cannot be asked whether it was."""
        code = getattr(exc, "code", None)
        if attempt >= self.retries or not isinstance(code, int):
            return None
        if code == 429:
            delay = retry_delay(getattr(exc, "details", None))
            if delay is not None and delay > self.max_retry_after:
                return None  # longer than we wait: the caller hears it now
            return min(delay if delay is not None else 2.0**attempt, self.max_retry_after)
        if code in (500, 502, 503, 504):
            return min(2.0**attempt, self.max_retry_after)
        return None


def _body(answer: Any) -> dict[str, Any]:
    http = getattr(answer, "sdk_http_response", None)
    text = getattr(http, "body", None)
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise errors.GenerationError(
            f"the Gemini API's answer is not JSON ({len(text or '')} bytes); it may have been "
            "billed, and the API keeps no copy to collect"
        )
    return body
