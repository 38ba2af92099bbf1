"""The validated request a session's verb sends: ``generate``'s and ``edit``'s.

An edit on Replicate is stateless: the image being edited goes first, with "Using image 1 as
the base image". On the Gemini API an edit is a turn of its branch's conversation: the earlier
turns go back as they were (the model's with their thought signatures), up to
``HISTORY_TURNS`` of them; a branch whose last turn has no stored model turn (made on Replicate,
offline, or imported without one) starts a new conversation with the image as its input.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .. import models
from ..anymodel import fields as anymodel
from ..backends import serves
from ..errors import ValidationError
from ..request.inputs import ModelInput
from ..request.params import Params
from ..request.references import EDIT_ROLE, Reference
from ..request.turns import Exchange

if TYPE_CHECKING:
    from .result import Result
    from .session import Session

HISTORY_TURNS = 8  # earlier turns an edit sends back (each is paid as input tokens again)
_OPTIONAL = ("resolution", "aspect_ratio", "output_format", "google_search", "image_search")


def generate_params(
    session: Session, prompt: str, references: list[Any] | None, repeat: int,
    options: dict[str, Any],
) -> Params | ModelInput:  # fmt: skip
    given = set(options)
    fields = {k: options.pop(k, v) for k, v in session.defaults.items()}
    fields = {k: (session.defaults[k] if v is None else v) for k, v in fields.items()}
    refs = session.references if references is None else references
    if isinstance(refs, (str, bytes, os.PathLike, Reference)) or not hasattr(refs, "__iter__"):
        refs = [refs]  # one reference, not a list of its characters
    fields["model"] = models.canonical_id(fields["model"])
    if fields["model"] not in models.MODELS:  # any other model: checked by its own schema
        return anymodel.build(session, fields, prompt, list(refs), repeat, options)
    spec = served(session, fields["model"])
    for name in _OPTIONAL:  # a session default applies where the model has the field
        if name not in given and name not in spec.fields:
            fields[name] = None
    return Params(prompt=prompt, references=tuple(refs), repeat=repeat, options=options, **fields)


def edit_params(
    session: Session, base: Result, instruction: str, references: list[Any] | None,
    options: dict[str, Any],
) -> Params:  # fmt: skip
    bp = base.params
    table = isinstance(bp, Params)  # else a chain step's: edit it with the session's model
    model = bp.model if table else session.defaults["model"]
    spec = served(session, model)
    remember = options.pop("remember", True)
    fields = {
        "model": model,
        "resolution": bp.resolution,
        "aspect_ratio": models.MATCH_INPUT,
        "output_format": session.defaults["output_format"] if "output_format" in spec.fields
        else None,
        "google_search": bp.google_search,
        "image_search": bp.image_search,
    }  # fmt: skip
    fields.update({k: options.pop(k) for k in list(options) if k in fields})
    history = conversation(base) if remember and spec.api == "gemini" else None
    if history is not None:  # a turn of the conversation: the model has the image already
        if fields["aspect_ratio"] == models.MATCH_INPUT:  # nothing sent would mean 1:1
            fields["aspect_ratio"] = models.nearest_ratio(spec, *base.size)
        refs = tuple(references or ())
        return Params(prompt=instruction, references=refs, options=options, history=history,
                      **fields)  # fmt: skip
    extra = [r for r in bp.references if r.role != EDIT_ROLE and table]
    extra = extra if references is None else list(references)
    source = Reference(base.path, role=EDIT_ROLE)
    return Params(prompt=instruction, references=(source, *extra), options=options, **fields)


def conversation(base: Result) -> tuple[Exchange, ...] | None:
    """The turns an edit of ``base`` sends back: ``base``'s own conversation and ``base``
    itself, the last ``HISTORY_TURNS``; None when ``base`` has no stored model turn."""
    bp, turn = base.params, base.record.get("turn")
    if not isinstance(bp, Params) or not turn or bp.spec.api != "gemini":
        return None
    mine = Exchange(base.id, bp.composed_prompt, bp.references, turn, base.store.read_image)
    return (*bp.history, mine)[-HISTORY_TURNS:]


def served(session: Session, model: str) -> models.ModelSpec:
    """The model's spec, when this session's backend serves it (offline serves every one)."""
    spec = models.resolve_model(model)
    if not serves(session.backend, spec):
        api = session.backend.name
        served_here = sorted(m for m, s in models.MODELS.items() if s.api == api)
        raise ValidationError(
            f"model: {spec.id} is served by {_WHO[spec.api]}, and this session's backend is "
            f"{_WHO[api]}; pick one of {', '.join(served_here)}, or a session with "
            f"backend={spec.api!r}",
            field="model", value=spec.id, allowed=served_here,
        )  # fmt: skip
    return spec


_WHO = {"gemini": "Google's Gemini API", "replicate": "Replicate"}
