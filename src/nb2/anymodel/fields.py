"""Requests to models outside the hand-checked Gemini table, and the shared fields mapped on.

The fields models share (prompt, aspect ratio, output format, references) are mapped onto each
model's own inputs and enums: ``jpg`` becomes ``jpeg`` where the model says
``jpeg``; references go to the model's image input (a list input takes them all, a single one
takes one). A shared field the model lacks is left out and said in ``notes`` (a grid's plan
shows them). Anything else (resolution and grounding included) is the model's own input and is
checked against its schema: a field it lacks is a named error before any call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import models
from ..errors import ValidationError
from ..models.schemas import ModelSchema
from ..request.inputs import ModelInput

if TYPE_CHECKING:
    from ..shapes import SessionShape as Session

_FORMAT_NAMES = ("output_format", "format")
_SAME = {"jpg": "jpeg", "jpeg": "jpg"}


def build(
    session: Session,
    fields: dict[str, Any],
    prompt: str | None,
    references: list[Any],
    repeat: int,
    options: dict[str, Any],
) -> ModelInput:
    """The validated request for ``fields["model"]`` (session defaults already applied)."""
    schema = session.schemas.get(fields["model"])
    values: dict[str, Any] = {}
    notes: list[str] = []
    short = schema.model.split("/")[-1]

    def left_out(what: str) -> None:
        notes.append(f"{short}: no {what} input (left out)")

    if prompt:
        if "prompt" in schema.inputs:
            values["prompt"] = prompt
        else:
            left_out("prompt")
    ratio = fields.get("aspect_ratio")
    if ratio is not None:
        if "aspect_ratio" not in schema.inputs:
            left_out("aspect_ratio")
        elif ratio == models.MATCH_INPUT and ratio not in (schema.choices("aspect_ratio") or []):
            notes.append(f"{short}: no {ratio} (its default ratio is used)")
        else:
            values["aspect_ratio"] = _mapped(schema, "aspect_ratio", ratio)
    fmt = fields.get("output_format")
    if fmt is not None:
        name = next((n for n in _FORMAT_NAMES if n in schema.inputs), None)
        if name is None:
            left_out("output_format")
        else:
            values[name] = _mapped(schema, name, fmt)
    for name in ("resolution", "google_search", "image_search"):  # Gemini's own: checked
        value = fields.get(name)
        if value not in (None, False):
            values[name] = _mapped(schema, name, value)
    images: dict[str, tuple[Any, ...]] = {}
    refs = list(references or [])
    if refs:
        slots = schema.image_fields()
        many = [n for n in slots if schema.takes_list(n)]
        if many:
            images[many[0]] = tuple(refs)
        elif slots and len(refs) == 1:
            images[slots[0]] = (refs[0],)
        elif slots:
            raise ValidationError(
                f"references: {len(refs)} images, but {schema.model} takes one ({slots[0]})",
                field="references",
                value=len(refs),
                allowed="1 image",
            )
        else:
            left_out("image")
    values.update(options)
    return ModelInput(schema, values, images, repeat, tuple(notes))


def _mapped(schema: ModelSchema, name: str, value: Any) -> Any:
    """``value`` in the model's own enum (jpg/jpeg), else a named error listing it."""
    allowed = schema.choices(name)
    if allowed is None or value in allowed:
        return value
    if _SAME.get(value) in allowed:
        return _SAME[value]
    raise ValidationError(
        f"{name}: {value!r} is not allowed for {schema.model}; allowed: "
        f"{', '.join(map(str, allowed))}",
        field=name,
        value=value,
        allowed=allowed,
    )
