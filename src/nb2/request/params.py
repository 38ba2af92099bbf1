"""``Params``: one frozen, validated request, its canonical form and its cache key."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .. import models
from ..errors import ValidationError
from .references import MAX_PROMPT_CHARS, Reference, as_reference, check_text, compose_prompt
from .turns import Exchange

# Fields every model has; the rest are looked up in the model's spec.
_GROUNDING = ("google_search", "image_search")
_EXTRA_FIELDS = ("safety_filter_level", "allow_fallback_model", "thinking", "seed")


@dataclass(frozen=True)
class Params:
    """One request to one model, checked against that model's schema on construction.

    ``None`` means "the model's default" and is replaced by it, so two requests that mean the
    same thing compare (and cache) equal. ``repeat`` picks one of several samples of an
    otherwise identical request: each index is its own cache entry.
    """

    prompt: str
    references: tuple[Reference, ...] = ()
    resolution: str | None = None
    aspect_ratio: str | None = None
    output_format: str | None = None
    google_search: bool | None = None
    image_search: bool | None = None
    model: str = models.DEFAULT_MODEL
    repeat: int = 0
    options: dict[str, Any] = field(default_factory=dict)  # model-specific extras (pro)
    # a Gemini API edit's conversation: the branch's earlier turns, oldest first
    history: tuple[Exchange, ...] = ()

    def __post_init__(self) -> None:
        spec = models.resolve_model(self.model)
        put = object.__setattr__
        put(self, "model", spec.id)
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValidationError(
                f"prompt: {self.prompt!r} is empty; write what the image should show",
                field="prompt",
                value=self.prompt,
                allowed="non-empty text",
            )
        if len(self.prompt) > MAX_PROMPT_CHARS:
            raise ValidationError(
                f"prompt: {len(self.prompt)} characters, more than the {MAX_PROMPT_CHARS} allowed",
                field="prompt",
                value=self.prompt[:40] + "…",
                allowed=f"at most {MAX_PROMPT_CHARS} characters",
            )
        check_text("prompt", self.prompt)
        refs = self.references
        if (
            refs is None
            or isinstance(refs, (str, bytes, Reference))
            or not hasattr(refs, "__iter__")
        ):
            refs = () if refs is None else (refs,)
        refs = tuple(as_reference(r, i) for i, r in enumerate(refs))
        if len(refs) > spec.max_references:
            raise ValidationError(
                f"references: {len(refs)} images, but {spec.id} takes at most "
                f"{spec.max_references}",
                field="references",
                value=len(refs),
                allowed=f"0 to {spec.max_references} images",
            )
        for i, ref in enumerate(refs):
            try:
                ref.load()
            except ValidationError as exc:
                raise ValidationError(
                    f"references[{i}]: {exc}",
                    field=f"references[{i}]",
                    value=ref.name_hint(),
                    allowed=exc.allowed,
                ) from None
        put(self, "references", refs)
        for name in ("resolution", "aspect_ratio", "output_format", *_GROUNDING):
            put(self, name, _check(spec, name, getattr(self, name)))
        if self.image_search:  # the API turns web search on with it; say so in the request
            put(self, "google_search", True)
        if not isinstance(self.repeat, int) or isinstance(self.repeat, bool) or self.repeat < 0:
            raise ValidationError(
                f"repeat: {self.repeat!r} is not a sample index",
                field="repeat",
                value=self.repeat,
                allowed="an integer >= 0",
            )
        opts = dict(self.options or {})
        for name in opts:
            if name not in _EXTRA_FIELDS or name not in spec.fields:
                allowed = [f for f in _EXTRA_FIELDS if f in spec.fields]
                raise ValidationError(
                    f"{name}: not an input of {spec.id}; extra inputs allowed: "
                    f"{', '.join(allowed) or 'none'}",
                    field=name,
                    value=opts[name],
                    allowed=allowed,
                )
        for name in _EXTRA_FIELDS:
            if name in spec.fields:
                opts[name] = _check(spec, name, opts.get(name))
        put(self, "options", opts)
        put(self, "history", tuple(self.history or ()))
        if self.history and spec.api != "gemini":
            raise ValidationError(
                f"history: {spec.id} is stateless; only a Gemini API model takes a conversation",
                field="history", value=len(self.history), allowed="no history",
            )  # fmt: skip

    # -- derived -------------------------------------------------------------------------------
    @property
    def spec(self) -> models.ModelSpec:
        return models.MODELS[self.model]

    @property
    def composed_prompt(self) -> str:
        """The prompt as sent: the text plus one sentence per reference with a role."""
        return compose_prompt(self.prompt, self.references)

    @property
    def is_edit(self) -> bool:
        from .references import EDIT_ROLE

        return bool(self.references) and self.references[0].role == EDIT_ROLE

    def pixel_size(self) -> tuple[int, int]:
        """The output size the model gives for this request."""
        ratio = self.effective_aspect_ratio()
        return self.spec.size(self.resolution, ratio)

    def effective_aspect_ratio(self) -> str:
        """The concrete ratio: match_input_image follows image 1 (1:1 when there is none)."""
        if self.aspect_ratio != models.MATCH_INPUT:
            return str(self.aspect_ratio)
        if not self.references:
            return "1:1"
        first = self.references[0].load()
        return models.nearest_ratio(self.spec, first.width, first.height)

    def scalar_input(self) -> dict[str, Any]:
        """The API input without image_input (the backend decides how images travel)."""
        data: dict[str, Any] = {"prompt": self.composed_prompt}
        for name in ("aspect_ratio", "output_format", "resolution", *_GROUNDING):
            if name in self.spec.fields:
                data[name] = getattr(self, name)
        data.update(self.options)
        return data

    def api_input(self, uris: list[str]) -> dict[str, Any]:
        """The API input with the references' URIs (in order) as ``image_input``."""
        data = self.scalar_input()
        if uris:
            data["image_input"] = list(uris)
        return data

    def canonical(self) -> dict[str, Any]:
        """Everything that can change the output, in a stable JSON-able form."""
        return {
            "model": self.model,
            "input": self.scalar_input(),
            "references": [{"sha256": r.sha256, "role": r.role} for r in self.references],
            "repeat": self.repeat,
            **({"history": [e.canonical() for e in self.history]} if self.history else {}),
        }

    @functools.cached_property  # frozen: made once (a 10,000-cell plan asked twice a cell)
    def cache_key(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def replace(self, **changes: Any) -> Params:
        """A new, re-validated request with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for records; references by hash, role and name."""
        return {
            "model": self.model,
            "prompt": self.prompt,
            "composed_prompt": self.composed_prompt,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "output_format": self.output_format,
            "google_search": self.google_search,
            "image_search": self.image_search,
            "repeat": self.repeat,
            "options": dict(self.options),
            "references": [
                {"sha256": r.sha256, "role": r.role, "name": r.name} for r in self.references
            ],
            **({"history": [e.to_dict() for e in self.history]} if self.history else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], load_image: Any) -> Params:
        """Rebuild from :meth:`to_dict`; ``load_image(sha256)`` returns each reference's bytes."""
        refs = tuple(
            Reference(load_image(r["sha256"]), role=r.get("role"))
            for r in data.get("references", [])
        )
        return cls(
            prompt=data["prompt"],
            references=refs,
            resolution=data.get("resolution"),
            aspect_ratio=data.get("aspect_ratio"),
            output_format=data.get("output_format"),
            google_search=data.get("google_search"),
            image_search=data.get("image_search"),
            model=data["model"],
            repeat=data.get("repeat", 0),
            options=data.get("options") or {},
            history=tuple(Exchange.from_dict(e, load_image) for e in data.get("history") or []),
        )

    def __repr__(self) -> str:
        bits = [f"{self.prompt[:60]!r}", f"model={self.model.split('/')[-1]!r}"]
        for name in ("resolution", "aspect_ratio", "output_format"):
            if getattr(self, name) is not None:
                bits.append(f"{name}={getattr(self, name)!r}")
        if self.google_search:
            bits.append("google_search=True")
        if self.image_search:
            bits.append("image_search=True")
        if self.references:
            bits.append(f"references={len(self.references)}")
        if self.repeat:
            bits.append(f"repeat={self.repeat}")
        if self.history:
            bits.append(f"turns={len(self.history)}")
        return f"Params({', '.join(bits)})"

    def __hash__(self) -> int:
        return hash(self.cache_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Params) and self.cache_key == other.cache_key


def _check(spec: models.ModelSpec, name: str, value: Any) -> Any:
    """A field's value for ``spec``: the default for None, else checked against the enum."""
    f = spec.fields.get(name)
    if f is None:
        if value in (None, False):
            return None
        raise ValidationError(
            f"{name}: {value!r} given, but {spec.id} has no {name} input",
            field=name,
            value=value,
            allowed=[],
        )
    if value is None:
        return f.default
    if f.type is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(
            f"{name}: {value!r} is not a whole number", field=name, value=value,
            allowed="an integer",
        )  # fmt: skip
    if f.type is bool and not isinstance(value, bool):
        raise ValidationError(
            f"{name}: {value!r} is not a boolean; allowed: True, False",
            field=name,
            value=value,
            allowed=[False, True],
        )
    if f.choices is not None and value not in f.choices:
        hint = ""
        if isinstance(value, str) and value.upper() in f.choices:
            hint = f" (did you mean {value.upper()!r}? the K is upper-case)"
        elif others := models.models_with(name, value, spec.api):
            states = {m: models.lifecycle(m)["state"] for m in others}
            named = [m if states[m] in ("GA", "served") else f"{m}, {states[m]}" for m in others]
            hint = f" ({value!r} is served by {'; '.join(named)})"
        raise ValidationError(
            f"{name}: {value!r} is not allowed for {spec.id}; allowed: "
            f"{', '.join(map(str, f.choices))}{hint}",
            field=name,
            value=value,
            allowed=list(f.choices),
        )
    return value
