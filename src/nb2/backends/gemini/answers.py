"""What the Gemini API's errors mean: nb2's own errors (the key never in them), and a 429's
RetryInfo as seconds."""

from __future__ import annotations

import re
from typing import Any

from ... import errors, models
from ...models.gemini import NB21


def retry_delay(details: Any) -> float | None:
    """The RetryInfo ``retryDelay`` ("25s", "1.5s") of an error body, in seconds."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in (error or {}).get("details") or []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            found = re.fullmatch(r"([\d.]+)s", str(item.get("retryDelay", "")))
            if found:
                return float(found.group(1))
    return None


def mapped(exc: Exception, model: str | None = None) -> errors.Nb2Error:
    """An SDK or transport error as nb2's own (the key never in it); ``model`` is the id the
    call named, so a 404 for it says the id is gone and what replaces it."""
    code, status = getattr(exc, "code", None), getattr(exc, "status", None)
    message = str(getattr(exc, "message", None) or exc)[:500]
    if code == 404 and model:
        use = models.lifecycle(model)["replacement"] or (NB21 if model != NB21 else None)
        return errors.ModelUnavailableError(
            f"model: the Gemini API answers 404 NOT_FOUND for {model!r} ({message}): it no "
            "longer serves this id" + (f"; use {use!r} instead" if use else "")
            + ". Nothing was billed, and it is not tried again",
            model=model, replacement=use,
        )  # fmt: skip
    if code is None:  # httpx: the answer never came (timeout, reset)
        lost = errors.GenerationError(
            f"no answer from the Gemini API ({type(exc).__name__}: {message}); the image may "
            "have been made and billed, and Google's API keeps no copy to collect"
        )
        lost.answer_lost = True  # type: ignore[attr-defined]  (a batch create: look it up)
        return lost
    if code in (401, 403) or (code == 400 and "API key" in message):
        return errors.AuthenticationError(f"Gemini API {code} {status}: {message}")
    if code == 429:
        delay = retry_delay(getattr(exc, "details", None))
        return errors.RateLimitError(f"Gemini API 429 {status}: {message}", retry_after=delay)
    return errors.GenerationError(f"Gemini API {code} {status}: {message}")
