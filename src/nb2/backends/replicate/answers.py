"""Replicate's error answers as nb2's named errors (never carrying the token)."""

from __future__ import annotations

import re

from ... import errors
from .api import Answer

_MODERATION = re.compile(r"E005|flagged as sensitive", re.I)


def moderation(message: str) -> bool:
    """A moderation block ends a prediction ``failed`` with E005: not a crash, not retryable."""
    return bool(_MODERATION.search(message))


def map_answer(a: Answer, prediction_id: str | None = None) -> errors.Nb2Error:
    detail = a.detail()
    if a.status == 401:
        return errors.AuthenticationError(f"Replicate refused the token (401): {detail}")
    if a.status == 402:
        return errors.InsufficientCreditError(f"Replicate: insufficient credit (402): {detail}")
    if a.status == 422:
        body = a.body if isinstance(a.body, dict) else {}
        fields = body.get("invalid_fields") or []
        fields = [f for f in fields if isinstance(f, dict)]
        names = ", ".join(str(f.get("field", "?")) for f in fields) or "input"
        return errors.ValidationError(
            f"Replicate refused the input (422) at {names}: {detail}",
            field=names,
            invalid_fields=fields,
        )
    if a.status == 429:
        return errors.RateLimitError(
            f"Replicate is throttling: {detail}", retry_after=a.retry_after()
        )
    if a.status == 404 and prediction_id:
        return errors.GenerationError(
            f"prediction {prediction_id} is not found at Replicate (404): {detail}",
            prediction_id=prediction_id,
        )
    return errors.GenerationError(
        f"Replicate error {a.status}: {detail}", prediction_id=prediction_id
    )
