"""``ModelInput``: one validated request to any Replicate model, checked against its schema.

The Nano Banana models go through :class:`nb2.Params` (hand-checked tables); every other model
goes through this, with the inputs its fetched schema (:mod:`nb2.models.schemas`) names. It
speaks the same small language as ``Params`` where the engine needs it (``model``,
``references``, ``cache_key``, ``scalar_input``, ``api_input``, ``to_dict``), so the store, the
runner and the backends take either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from ..models import schemas
from .references import Reference, as_reference

LATENCY_GUESS_S = 10.0  # a plan's time for a model nb2 has no figure for (said as a guess)


@dataclass(frozen=True)
class _Timing:
    """What a grid's plan asks of a model's spec: a latency guess, no resolution tiers."""

    latency_s: dict[str, float]
    has_resolution: bool = False


@dataclass(frozen=True, eq=False)
class ModelInput:
    """A request to ``schema.model``: scalar ``values`` and ``images`` by input name."""

    schema: schemas.ModelSchema
    values: dict[str, Any] = field(default_factory=dict)
    images: dict[str, tuple[Reference, ...]] = field(default_factory=dict)
    repeat: int = 0
    notes: tuple[str, ...] = ()  # shared fields this model left out (shown in plans)

    def __post_init__(self) -> None:
        s = self.schema
        images = {}
        for name, refs in dict(self.images).items():
            if name not in s.image_fields():
                _refuse(s, name, "<image>", f"not an image input of {s.model}")
            if isinstance(refs, (str, bytes, Reference)) or not hasattr(refs, "__iter__"):
                refs = (refs,)
            refs = tuple(as_reference(r, i) for i, r in enumerate(refs))
            if not s.takes_list(name) and len(refs) != 1:
                _refuse(s, name, len(refs), f"takes one image, not {len(refs)}")
            for ref in refs:
                ref.load()  # a bad file is named now, not at the server
            images[name] = refs
        object.__setattr__(self, "images", images)
        values = dict(self.values)
        for name, value in values.items():
            spec = s.inputs.get(name)
            if spec is None:
                _refuse(s, name, value, f"not an input of {s.model}")
            elif name in s.image_fields():
                _refuse(s, name, value, "is an image input: pass it as an image")
            why = schemas.value_problem(spec, value) if spec is not None else None
            if why and why[0] == "enum":
                _refuse(s, name, value, f"is not allowed for {s.model}", s.choices(name))
            elif why:
                _refuse(s, name, value, why[1], schemas.allowed_text(spec or {}))
        for name in s.required:
            if name not in values and name not in images:
                _refuse(s, name, None, "is required", schemas.allowed_text(s.inputs[name]))
        object.__setattr__(self, "values", values)
        if not isinstance(self.repeat, int) or isinstance(self.repeat, bool) or self.repeat < 0:
            raise ValidationError(
                f"repeat: {self.repeat!r} is not a sample index",
                field="repeat",
                value=self.repeat,
                allowed="an integer >= 0",
            )

    # -- what the engine reads ----------------------------------------------------------------
    @property
    def model(self) -> str:
        return self.schema.model

    @property
    def references(self) -> tuple[Reference, ...]:
        return tuple(r for refs in self.images.values() for r in refs)

    @property
    def prompt(self) -> str:
        return str(self.values.get("prompt") or "")

    composed_prompt = prompt
    resolution = None
    google_search = None
    image_search = None
    is_edit = False

    @property
    def aspect_ratio(self) -> Any:
        return self.scalar_input().get("aspect_ratio")

    def effective_aspect_ratio(self) -> str:
        """The ratio asked for, when the model takes one ("" when it does not)."""
        return str(self.aspect_ratio or "")

    @property
    def output_format(self) -> str:
        inp = self.scalar_input()
        fmt = str(inp.get("output_format") or inp.get("format") or "png")
        return "jpg" if fmt == "jpeg" else fmt

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.values)

    @property
    def spec(self) -> _Timing:
        return _Timing({"1K": LATENCY_GUESS_S})

    def scalar_input(self) -> dict[str, Any]:
        """The input as sent, without images: every default the schema names, then the values
        given (so two requests that mean the same thing cache equal)."""
        data = {
            n: s["default"]
            for n, s in self.schema.inputs.items()
            if "default" in s and n not in self.schema.image_fields()
        }
        data.update(self.values)
        return data

    def api_input(self, uris: list[str]) -> dict[str, Any]:
        """The input with the images' URIs (in :attr:`references` order) in their fields."""
        data = self.scalar_input()
        it = iter(uris)
        for name, refs in self.images.items():
            sent = [next(it) for _ in refs]
            data[name] = sent if self.schema.takes_list(name) else sent[0]
        return data

    def canonical(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.schema.version,
            "input": self.scalar_input(),
            "images": {n: [r.sha256 for r in refs] for n, refs in self.images.items()},
            "repeat": self.repeat,
        }

    @property
    def cache_key(self) -> str:
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for records; images by hash and name; the schema it was checked
        against travels with it, so the record rebuilds without asking the API."""
        return {
            "model": self.model,
            "prompt": self.prompt,
            "output_format": self.output_format,
            "aspect_ratio": self.aspect_ratio,
            "resolution": None,
            "input": self.scalar_input(),
            "values": dict(self.values),
            "images": {
                n: [{"sha256": r.sha256, "name": r.name} for r in refs]
                for n, refs in self.images.items()
            },
            "references": [
                {"sha256": r.sha256, "role": None, "name": r.name} for r in self.references
            ],
            "repeat": self.repeat,
            "schema": self.schema.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], load_image: Any) -> ModelInput:
        images = {
            n: tuple(Reference(load_image(r["sha256"])) for r in refs)
            for n, refs in (data.get("images") or {}).items()
        }
        return cls(
            schemas.ModelSchema.from_dict(data["schema"]),
            values=dict(data.get("values") or {}),
            images=images,
            repeat=int(data.get("repeat") or 0),
        )

    def replace(self, **changes: Any) -> ModelInput:
        fields = {"values": self.values, "images": self.images, "repeat": self.repeat}
        fields.update({k: changes.pop(k) for k in list(changes) if k in fields})
        values = {**fields["values"], **changes}  # anything else is an input value
        return ModelInput(self.schema, values, fields["images"], fields["repeat"], self.notes)

    def __repr__(self) -> str:
        bits = [f"model={self.model.split('/')[-1]!r}"]
        bits += [f"{k}={_short(v)!r}" for k, v in self.values.items()]
        bits += [f"{k}=<{len(v)} image(s)>" for k, v in self.images.items()]
        if self.repeat:
            bits.append(f"repeat={self.repeat}")
        return f"ModelInput({', '.join(bits)})"

    def __hash__(self) -> int:
        return hash(self.cache_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelInput) and self.cache_key == other.cache_key


def is_model_input(data: dict[str, Any]) -> bool:
    """Whether a record's ``params`` dict was written by :meth:`ModelInput.to_dict`."""
    return isinstance(data.get("schema"), dict)


def _short(value: Any, n: int = 40) -> Any:
    return value[: n - 1] + "…" if isinstance(value, str) and len(value) > n else value


def _refuse(s: schemas.ModelSchema, name: str, value: Any, why: str, allowed: Any = None) -> None:
    if allowed is None:
        allowed = [n for n in s.inputs if n not in s.image_fields()] if "not an" in why else ""
    shown = allowed if isinstance(allowed, str) else ", ".join(map(str, allowed))
    raise ValidationError(
        f"{name}: {_short(value)!r} {why}" + (f"; allowed: {shown}" if shown else ""),
        field=name,
        value=value,
        allowed=allowed,
    )
