"""Chains: a result fed into another model (``r.then("owner/model", **inputs)``), and a
result's provenance step by step (``r.manifest()``).

The step's request holds the parent's stored file as its image input, so its cache key follows
the parent's bytes: a chain made once replays from the store with no call. A Gemini target is an
edit of the parent on that model (a ``prompt=`` is its instruction).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import models
from .._version import __version__
from ..backends import StatusCallback
from ..errors import ValidationError
from ..request.inputs import ModelInput
from ..request.params import Params
from ..request.references import Reference

if TYPE_CHECKING:
    from ..shapes import ResultShape as Result
    from ..shapes import SessionShape as Session


def then(
    session: Session,
    base: Result,
    model: str,
    *,
    image: str | None = None,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
    fresh: bool = False,
    **inputs: Any,
) -> Result:
    """Run ``model`` on ``base``'s image; the new result's parent is ``base``."""
    params = then_params(session, base, model, image=image, **inputs)
    return session.run(
        params, kind="chain", parent=base, cancel=cancel, on_status=on_status, fresh=fresh
    )


def then_params(
    session: Session, base: Result, model: str, *, image: str | None = None, **inputs: Any
) -> Params | ModelInput:
    """The validated request of a chain step (nothing is sent)."""
    model = models.canonical_id(model)
    if model in models.MODELS:
        prompt = inputs.pop("prompt", None)
        if not prompt:
            raise ValidationError(
                f"then: {model} edits the image by an instruction: pass prompt='...'",
                field="prompt",
                value=prompt,
                allowed="non-empty text",
            )
        _, params = session.edit_params(prompt, parent=base, references=[], model=model, **inputs)
        return params
    schema = session.schemas.get(model)
    slots = schema.image_fields()
    if not slots:
        raise ValidationError(
            f"then: {model} takes no image input, so there is nothing to feed it; its "
            f"inputs: {', '.join(schema.inputs)}",
            field="model",
            value=model,
            allowed="a model with an image input",
        )
    if image is None:
        required = [s for s in slots if s in schema.required]
        if len(required) == 1 or len(slots) == 1:
            image = (required or slots)[0]
        else:
            raise ValidationError(
                f"then: {model} has several image inputs ({', '.join(slots)}); name one with "
                "image='...'",
                field="image",
                value=None,
                allowed=slots,
            )
    elif image not in slots:
        raise ValidationError(
            f"image: {image!r} is not an image input of {model}; allowed: {', '.join(slots)}",
            field="image",
            value=image,
            allowed=slots,
        )
    source = Reference(base.path)
    return ModelInput(schema, dict(inputs), {image: (source,)})


def chain_manifest(result: Any, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A result's provenance as JSON: every step from the root request down to it (run id,
    kind, model, version, the input as sent, images by hash, the output's hash), sorted keys;
    written to ``path`` when given. Read from the store, so it works for replays too."""
    steps: list[dict[str, Any]] = []
    rec: dict[str, Any] | None = result.record
    seen: set[str] = set()
    while rec is not None and rec["run_id"] not in seen:
        seen.add(rec["run_id"])
        p = rec.get("params") or {}
        images = p.get("images") or (
            {"image_input": p.get("references")} if p.get("references") else {}
        )
        steps.append({
            "run_id": rec["run_id"],
            "parent": rec.get("parent"),
            "kind": rec.get("kind"),
            "model": rec.get("model"),
            "version": rec.get("version"),  # as the backend reported it ("offline" offline)
            "schema_version": (p.get("schema") or {}).get("version"),  # what it was checked on
            "input": rec.get("input"),
            "images": {k: [i.get("sha256") for i in v or []] for k, v in images.items()},
            "output_sha256": (rec.get("output") or {}).get("sha256"),
            "prediction_id": rec.get("prediction_id"),
            "backend": (rec.get("backend") or {}).get("name"),
            "estimated_cost": rec.get("estimated_cost"),
        })  # fmt: skip
        parent = rec.get("parent")
        rec = result.store.get(parent) if parent else None
    steps.reverse()
    out = {"format": "nb2-chain/1", "nb2_version": __version__, "made_at": _now(), "steps": steps}
    if path is not None:
        Path(path).write_text(json.dumps(out, indent=1, sort_keys=True, default=str))
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
