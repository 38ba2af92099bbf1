"""Chains: a result fed into another model (``r.then("owner/model", **inputs)``).

The step's request holds the parent's stored file as its image input, so its cache key follows
the parent's bytes: a chain made once replays from the store with no call. A Gemini target is an
edit of the parent on that model (a ``prompt=`` is its instruction).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .. import models
from ..backends import StatusCallback
from ..errors import ValidationError
from ..inputs import ModelInput
from ..params import Params
from ..references import Reference

if TYPE_CHECKING:
    from .result import Result
    from .session import Session


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
