"""The model registry: fields, enums, defaults, limits, pixel sizes and prices.

Facts come from ``shared/reference/nano-banana-2.md`` (Replicate's published schemas and Google's
size tables). Prices are not published by any API, so the table is local, dated, says where its
numbers came from, and can be overridden with :func:`set_price`.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelDeprecationWarning, ModelUnavailableError, ValidationError
from . import gemini as gm
from . import replicate as rm

MAX_REFERENCES = 14
RESOLUTIONS = ("1K", "2K", "4K")
MATCH_INPUT = "match_input_image"


@dataclass(frozen=True)
class FieldSpec:
    """One input field of a model's schema."""

    name: str
    type: type
    default: Any = None
    choices: tuple[Any, ...] | None = None
    required: bool = False


@dataclass(frozen=True)
class ModelSpec:
    """What one Replicate model accepts and produces."""

    id: str
    title: str
    fields: dict[str, FieldSpec]
    sizes: dict[str, dict[str, tuple[int, int]]]
    latency_s: dict[str, float]
    max_references: int = MAX_REFERENCES
    notes: tuple[str, ...] = field(default=())
    api: str = "replicate"  # who serves it: "replicate" | "gemini" (Google's API directly)

    @property
    def has_resolution(self) -> bool:
        return "resolution" in self.fields

    @property
    def has_grounding(self) -> bool:
        return "google_search" in self.fields

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        return self.fields["aspect_ratio"].choices or ()

    def default(self, name: str) -> Any:
        return self.fields[name].default

    def size(self, resolution: str | None, aspect_ratio: str) -> tuple[int, int]:
        """Output pixel size (width, height) for a concrete ratio (not match_input_image)."""
        tier = self.sizes[resolution or "1K"] if self.has_resolution else self.sizes["1K"]
        return tier[aspect_ratio]


def _common(ratios: tuple[str, ...]) -> dict[str, FieldSpec]:
    return {
        "prompt": FieldSpec("prompt", str, required=True),
        "image_input": FieldSpec("image_input", list, default=()),
        "aspect_ratio": FieldSpec("aspect_ratio", str, MATCH_INPUT, (MATCH_INPUT, *ratios)),
        "output_format": FieldSpec("output_format", str, "jpg", ("jpg", "png")),
    }


MODELS: dict[str, ModelSpec] = {
    "google/nano-banana-2": ModelSpec(
        id="google/nano-banana-2",
        title="Nano Banana 2 (Gemini 3.1 Flash Image)",
        fields={
            **_common(("1:1", "1:4", "1:8", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4",
                       "8:1", "9:16", "16:9", "21:9")),
            "resolution": FieldSpec("resolution", str, "1K", RESOLUTIONS),
            "google_search": FieldSpec("google_search", bool, False, (False, True)),
            "image_search": FieldSpec("image_search", bool, False, (False, True)),
        },
        sizes=rm.NB2_SIZES,
        latency_s={"1K": 20.0, "2K": 25.0, "4K": 35.0},
        notes=("image_search turns google_search on too",),
    ),
    "google/nano-banana": ModelSpec(
        id="google/nano-banana",
        title="Nano Banana (Gemini 2.5 Flash Image)",
        fields=_common(rm.TEN_RATIOS),
        sizes=rm.NB_SIZES,
        latency_s={"1K": 12.0},  # UNVERIFIED estimate
    ),
    "google/nano-banana-pro": ModelSpec(
        id="google/nano-banana-pro",
        title="Nano Banana Pro (Gemini 3 Pro Image)",
        fields={
            **_common(rm.TEN_RATIOS),
            "resolution": FieldSpec("resolution", str, "2K", RESOLUTIONS),
            "safety_filter_level": FieldSpec(
                "safety_filter_level", str, "block_only_high",
                ("block_low_and_above", "block_medium_and_above", "block_only_high"),
            ),
            "allow_fallback_model": FieldSpec("allow_fallback_model", bool, False, (False, True)),
        },
        sizes=rm.PRO_SIZES,
        latency_s={"1K": 30.0, "2K": 35.0, "4K": 50.0},  # UNVERIFIED estimate
    ),
}  # fmt: skip


def _gemini(
    id: str, title: str, ratios: tuple[str, ...], sizes: dict[str, Any], **more: FieldSpec
) -> ModelSpec:
    tiers = tuple(sizes)
    fields = {
        "prompt": FieldSpec("prompt", str, required=True),
        "image_input": FieldSpec("image_input", list, default=()),
        # nothing sent: the output follows the input image, else 1:1 (as the API does)
        "aspect_ratio": FieldSpec("aspect_ratio", str, MATCH_INPUT, (MATCH_INPUT, *ratios)),
        "seed": FieldSpec("seed", int),  # recorded; the API does not promise determinism
        **({"resolution": FieldSpec("resolution", str, "1K", tiers)} if len(tiers) > 1 else {}),
        **more,
    }
    latency = {t: 15.0 + 5 * i for i, t in enumerate(tiers)}  # UNVERIFIED estimate
    return ModelSpec(id, title, fields, sizes, latency, api="gemini")


_SEARCH = FieldSpec("google_search", bool, False, (False, True))
_IMAGE_SEARCH = FieldSpec("image_search", bool, False, (False, True))


def _thinking(model: str) -> FieldSpec:
    return FieldSpec("thinking", str, gm.THINKING_DEFAULT[model], gm.THINKING[model])


GEMINI_MODELS = {
    gm.NB21: _gemini(
        gm.NB21, "Nano Banana 2.1 (Google's API)", gm.FLASH_RATIOS, gm.NB21_SIZES,
        google_search=_SEARCH, image_search=_IMAGE_SEARCH, thinking=_thinking(gm.NB21),
    ),
    gm.FLASH: _gemini(
        gm.FLASH, "Gemini 3.1 Flash Image (Google's API)", gm.FLASH_RATIOS, gm.FLASH_SIZES,
        google_search=_SEARCH, image_search=_IMAGE_SEARCH, thinking=_thinking(gm.FLASH),
    ),
    gm.PRO: _gemini(gm.PRO, "Gemini 3 Pro Image (Google's API)", gm.TEN_RATIOS, gm.PRO_SIZES,
                    google_search=_SEARCH),
    gm.FLASH_25: _gemini(gm.FLASH_25, "Gemini 2.5 Flash Image (Google's API)", gm.TEN_RATIOS,
                         gm.FLASH_25_SIZES),
}  # fmt: skip
MODELS.update(GEMINI_MODELS)
token_cost = gm.token_cost  # the exact USD of a Gemini API answer, from its tokens
ALIASES = {m.split("/", 1)[1]: m for m in MODELS if "/" in m}
DEFAULT_MODEL = "google/nano-banana-2"

# USD per image. UNVERIFIED third-party figures; Replicate publishes no pricing endpoint.
PRICE_SOURCE = (
    "third-party price tables, 2026; nano-banana-2 matches $60 per million output image tokens "
    "x 1120/1680/2520 tokens (1K/2K/4K). UNVERIFIED: override with nb2.models.set_price()."
)
PRICE_AS_OF = "2026-11-01"
_DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "google/nano-banana-2": {"1K": 0.067, "2K": 0.101, "4K": 0.151},
    "google/nano-banana": {"1K": 0.039},
    "google/nano-banana-pro": {"1K": 0.15, "2K": 0.15, "4K": 0.30},
    **gm.GEMINI_PRICES,
}
PRICES: dict[str, dict[str, float]] = {m: dict(p) for m, p in _DEFAULT_PRICES.items()}


def resolve_model(name: str) -> ModelSpec:
    """The spec for ``name`` ("google/nano-banana-2" or the short "nano-banana-2")."""
    spec = MODELS.get(ALIASES.get(name, name)) if isinstance(name, str) else None
    if spec is None and isinstance(name, str) and name.removeprefix("models/") in gm.LIFECYCLE:
        gone = name.removeprefix("models/")
        raise ModelUnavailableError(
            _gone(gone), model=gone, replacement=gm.LIFECYCLE[gone]["replacement"]
        )
    if spec is None:
        allowed = sorted(MODELS)
        raise ValidationError(
            f"model: {name!r} is not a known model; allowed: {', '.join(allowed)}",
            field="model",
            value=name,
            allowed=allowed,
        )
    return spec


def lifecycle(model: str) -> dict[str, str | None]:
    """What the provider says of ``model``: state (GA | deprecated | shut down), since,
    replacement and source (``gemini.LIFECYCLE``); a Replicate model is "served"."""
    found = gm.LIFECYCLE.get(model)
    if found is None:
        return {"state": "served", "since": None, "replacement": None, "source": None}
    return dict(found)


def _gone(model: str) -> str:
    life = gm.LIFECYCLE[model]
    use = f"; use {life['replacement']!r} instead" if life["replacement"] else ""
    return (
        f"model: {model!r} was shut down by Google on {life['since']} ({life['source']}){use}. "
        "Runs already stored still replay from the cache; nothing was sent"
    )


def models_with(field: str, value: Any, api: str) -> list[str]:
    """The models of one provider, not shut down, whose ``field`` allows ``value``: where to
    go for what this one lacks (512 on 2.1: 3.1 Flash)."""
    return [m for m, s in MODELS.items() if s.api == api and field in s.fields
            and value in (s.fields[field].choices or ())
            and lifecycle(m)["state"] != gm.SHUT_DOWN]  # fmt: skip


_warned: set[str] = set()


def check_served(model: str) -> None:
    """Before any call to the provider: a shut-down model is a named error naming its
    replacement; a deprecated one warns once a process."""
    life = gm.LIFECYCLE.get(model)
    if life is None or life["state"] == gm.GA:
        return
    if life["state"] == gm.SHUT_DOWN:
        raise ModelUnavailableError(_gone(model), model=model, replacement=life["replacement"])
    if model not in _warned:
        _warned.add(model)
        text = f"{model} is deprecated by Google (since {life['since']}); use "
        warnings.warn(text + f"{life['replacement']!r}: {life['source']}",
                      ModelDeprecationWarning, stacklevel=3)  # fmt: skip


def price(model: str, resolution: str | None = None) -> float | None:
    """Estimated USD for one run (see PRICE_SOURCE); None when nb2 does not know the model's
    price (any model outside the hand-checked table, until :func:`set_price` names one)."""
    table = PRICES.get(canonical_id(model))
    if not table:
        return None
    found = table.get(resolution or "1K", table.get("1K", table.get("*")))
    return None if found is None else float(found)


def set_price(model: str, resolution: str | float, usd: float | None = None) -> None:
    """Set the price of one run of any model, e.g. from Replicate's billing page:
    ``set_price("google/nano-banana-2", "2K", 0.10)``, or for a model with no resolution tiers
    ``set_price("philz1337x/clarity-upscaler", 0.02)``."""
    if usd is None:
        resolution, usd = "*", float(resolution)
    PRICES.setdefault(canonical_id(model), {})[str(resolution)] = float(usd)


def canonical_id(model: str) -> str:
    """ "google/nano-banana-2" for "nano-banana-2"; a Gemini API model by its name
    ("gemini-3.1-flash-image"); any other "owner/name" as it is."""
    if isinstance(model, str) and ALIASES.get(model, model) in MODELS:
        return ALIASES.get(model, model)
    if isinstance(model, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", model):
        return model
    return resolve_model(model).id  # raises the named error


def reset_prices() -> None:
    PRICES.clear()
    for m, p in _DEFAULT_PRICES.items():
        PRICES[m] = dict(p)


def nearest_ratio(spec: ModelSpec, width: int, height: int) -> str:
    """The preset ratio closest (in log space) to a picture's shape: match_input_image."""
    target = math.log(width / height)
    return min(
        (r for r in spec.aspect_ratios if r != MATCH_INPUT),
        key=lambda r: abs(_ratio_value(r) - target),
    )


def _ratio_value(ratio: str) -> float:
    return math.log(int(ratio.split(":")[0]) / int(ratio.split(":")[1]))


def check_input(model: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Problems with a raw API input for ``model``, in the API's ``invalid_fields`` shape.

    Shared by :class:`nb2.Params` and the emulator so both refuse the same inputs.
    """
    spec = resolve_model(model)
    problems: list[dict[str, Any]] = []

    def bad(name: str, kind: str, description: str) -> None:
        problems.append({"type": kind, "field": f"input.{name}", "description": description})

    for name in data:
        if name not in spec.fields:
            bad(name, "additional_property", f"{name} is not an input of {spec.id}")
    for f in spec.fields.values():
        if f.name not in data:
            if f.required:
                bad(f.name, "required", f"{f.name} is required")
            continue
        value = data[f.name]
        if f.type is bool and not isinstance(value, bool):
            bad(f.name, "invalid_type", f"{f.name} must be a boolean")
        elif f.type is str and not isinstance(value, str):
            bad(f.name, "invalid_type", f"{f.name} must be a string")
        elif f.type is list and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            bad(f.name, "invalid_type", f"{f.name} must be a list of URI strings")
        elif f.choices is not None and value not in f.choices:
            bad(f.name, "enum", f"{f.name} must be one of: {', '.join(map(str, f.choices))}")
    prompt = data.get("prompt")
    if isinstance(prompt, str) and not prompt.strip():
        bad("prompt", "min_length", "prompt must not be empty")
    images = data.get("image_input")
    if isinstance(images, list) and len(images) > spec.max_references:
        bad("image_input", "max_items", f"at most {spec.max_references} images")
    return problems


# -- the table against the API ------------------------------------------------------------------
# How check() reaches the Gemini API when given no backend: set by the package root (nb2's
# __init__), the one place that may join the leaves to the backends.
LIVE_LISTER: Any = None
LIVE = {None: "not asked", True: "served", False: "not listed"}


@dataclass
class ModelCheck:
    """nb2's model table beside what the Gemini API serves now (``live``; None: not asked)."""

    rows: list[dict[str, Any]]
    live: list[str] | None
    drift: list[str]
    read_on: str = gm.READ_ON

    def __repr__(self) -> str:  # a notebook shows it as text: one table, then the drift
        cols = ("model", "state", "since", "replacement", "tiers", "usd_1k", "live")
        lines = [" | ".join(cols)]
        lines += [
            " | ".join(str(r[c] if r[c] is not None else "-") for c in cols) for r in self.rows
        ]
        asked = "not asked (no key)" if self.live is None else f"{len(self.live)} image models"
        lines += [f"table read {self.read_on}; the API: {asked}"]
        lines += [f"drift: {d}" for d in self.drift] or ["drift: none"]
        return "\n".join(lines)


def check(backend: Any = None) -> ModelCheck:
    """nb2's table (state, since, tiers, price per 1K image, per model) against the image
    models the Gemini API lists now (``backend.served_models()``; with no backend, a
    GeminiBackend when a key is set). Without a key: the table and its dates alone."""
    if backend is None and LIVE_LISTER is not None:
        backend = LIVE_LISTER()  # None without a key
    live = None if backend is None else sorted(backend.served_models())
    ids = [*MODELS, *(m for m in gm.LIFECYCLE if m not in MODELS)]
    ids += [m for m in live or () if m not in ids]
    rows, drift = [], []
    for m in ids:
        spec, life = MODELS.get(m), lifecycle(m)
        is_gemini = (spec.api == "gemini") if spec else True
        listed = None if live is None or not is_gemini else m in live
        known = m in MODELS or m in gm.LIFECYCLE
        tiers = spec.fields["resolution"].choices if spec and spec.has_resolution else ("1K",)
        rows.append({"model": m, "state": life["state"] if known else "not in nb2's table",
                     "since": life["since"], "replacement": life["replacement"],
                     "tiers": "/".join(tiers or ()) if spec else None,
                     "usd_1k": price(m, "1K") if spec else None,
                     "live": LIVE[listed] if is_gemini else "Replicate"})  # fmt: skip
        if listed is None:
            continue
        if not known:
            drift.append(f"{m}: the API serves it; nb2's table does not know it")
        elif listed and life["state"] == gm.SHUT_DOWN:
            drift.append(f"{m}: nb2 says shut down ({life['since']}); the API still lists it")
        elif not listed and life["state"] != gm.SHUT_DOWN:
            drift.append(f"{m}: nb2 says {life['state']}; the API no longer lists it (shut down?)")
    return ModelCheck(rows, live, drift)
