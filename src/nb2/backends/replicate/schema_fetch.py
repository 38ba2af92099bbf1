"""A model's input schema, read from Replicate through the official client (``models.get``).

One request per model: the engine caches what this returns in the store (with its version and
the date it was read), so a notebook asks the API once per model, not once per cell.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ... import errors
from ...models import schemas


def fetch(client: Any, model: str) -> schemas.ModelSchema:
    """``GET /v1/models/{owner}/{name}``: the latest version's ``Input`` schema."""
    import httpx

    try:
        found = client.models.get(model)
    except httpx.TransportError as exc:
        raise errors.GenerationError(
            f"model {model}: its schema could not be read ({type(exc).__name__}); nothing was "
            "sent to the model"
        ) from None
    except Exception as exc:  # the client's ReplicateError carries the problem's status
        status = getattr(exc, "status", None)
        if status == 404:
            raise errors.ValidationError(
                f"model: {model!r} is not a model Replicate knows (404)",
                field="model",
                value=model,
                allowed="an existing owner/name on Replicate",
            ) from None
        if status == 401:
            raise errors.AuthenticationError("Replicate refused the token (401)") from None
        raise errors.GenerationError(
            f"model {model}: its schema could not be read ({status or type(exc).__name__}: "
            f"{getattr(exc, 'detail', '') or ''})"
        ) from None
    version = getattr(found, "latest_version", None)
    openapi = getattr(version, "openapi_schema", None)
    if not isinstance(openapi, dict):
        raise errors.ValidationError(
            f"model: {model!r} has no published version with an input schema",
            field="model",
            value=model,
            allowed="a model with a public version",
        )
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return schemas.from_openapi(model, getattr(version, "id", None), openapi, fetched_at=stamp)
