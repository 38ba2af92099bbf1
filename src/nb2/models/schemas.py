"""Any Replicate model's inputs, from its published OpenAPI schema.

``GET /v1/models/{owner}/{name}`` carries the latest version's OpenAPI document; its
``components.schemas.Input`` names every input (type, default, enum, bounds, ``format: uri`` for
files, ``x-order``). Cog writes enums as ``allOf: [{"$ref": "#/components/schemas/<name>"}]``;
:func:`from_openapi` resolves those once, so a :class:`ModelSchema` is flat, JSON-able and can be
cached in the store with its version and the date it was read. :func:`check` refuses what the API
would refuse, in the API's ``invalid_fields`` shape, before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool}


@dataclass(frozen=True)
class ModelSchema:
    """One model version's inputs (flattened) and output shape."""

    model: str  # owner/name
    version: str | None  # the version id the schema belongs to
    inputs: dict[str, dict[str, Any]]  # name -> flat JSON schema, in x-order
    required: tuple[str, ...] = ()
    output: dict[str, Any] = field(default_factory=dict)
    fetched_at: str | None = None
    source: str = "api"  # "api" | "stand-in" (offline, approximated from public pages)

    # -- what the engine asks ------------------------------------------------------------------
    def image_fields(self) -> list[str]:
        """Inputs that take an image (a ``uri`` string or a list of them), required first."""
        names = [n for n, s in self.inputs.items() if _is_uri(s) or _is_uri(s.get("items", {}))]
        return sorted(names, key=lambda n: n not in self.required)

    def takes_list(self, name: str) -> bool:
        return self.inputs.get(name, {}).get("type") == "array"

    def default(self, name: str) -> Any:
        return self.inputs.get(name, {}).get("default")

    def choices(self, name: str) -> list[Any] | None:
        enum = self.inputs.get(name, {}).get("enum")
        return list(enum) if isinstance(enum, list) else None

    @property
    def output_is_list(self) -> bool:
        return self.output.get("type") == "array"

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "inputs": self.inputs,
            "required": list(self.required),
            "output": self.output,
            "fetched_at": self.fetched_at,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSchema:
        return cls(
            model=str(d["model"]),
            version=d.get("version"),
            inputs={str(k): dict(v) for k, v in (d.get("inputs") or {}).items()},
            required=tuple(d.get("required") or ()),
            output=dict(d.get("output") or {}),
            fetched_at=d.get("fetched_at"),
            source=str(d.get("source") or "api"),
        )


def from_openapi(
    model: str,
    version: str | None,
    openapi: dict[str, Any],
    *,
    fetched_at: str | None = None,
    source: str = "api",
) -> ModelSchema:
    """A :class:`ModelSchema` from a version's ``openapi_schema``."""
    comps = ((openapi or {}).get("components") or {}).get("schemas") or {}
    raw = comps.get("Input") or {}
    props = raw.get("properties") or {}
    flat = {name: _flatten(spec, comps) for name, spec in props.items()}
    order = sorted(flat, key=lambda n: (flat[n].get("x-order", 1_000), n))
    output = _flatten(comps.get("Output") or {}, comps)
    return ModelSchema(
        model=model,
        version=version,
        inputs={n: flat[n] for n in order},
        required=tuple(raw.get("required") or ()),
        output=output,
        fetched_at=fetched_at,
        source=source,
    )


def _flatten(spec: dict[str, Any], comps: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in spec.items() if k not in ("allOf", "$ref")}
    refs = [spec] if "$ref" in spec else list(spec.get("allOf") or [])
    for part in refs:
        ref = part.get("$ref", "") if isinstance(part, dict) else ""
        target = comps.get(ref.rsplit("/", 1)[-1], {}) if ref.startswith("#/") else part
        for k, v in (target or {}).items():
            out.setdefault(k, v)
    if isinstance(out.get("items"), dict):
        out["items"] = _flatten(out["items"], comps)
    return out


def _is_uri(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "string" and spec.get("format") == "uri"


def check(schema: ModelSchema, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Problems with a raw API input, in the API's ``invalid_fields`` shape (empty: fine)."""
    problems: list[dict[str, Any]] = []

    def bad(name: str, kind: str, description: str) -> None:
        problems.append({"type": kind, "field": f"input.{name}", "description": description})

    for name in data:
        if name not in schema.inputs:
            bad(name, "additional_property", f"{name} is not an input of {schema.model}")
    for name in schema.required:
        if name not in data:
            bad(name, "required", f"{name} is required")
    for name, value in data.items():
        spec = schema.inputs.get(name)
        if spec is not None:
            why = value_problem(spec, value)
            if why:
                bad(name, why[0], f"{name} {why[1]}")
    return problems


def value_problem(spec: dict[str, Any], value: Any) -> tuple[str, str] | None:
    """(kind, description) when ``value`` does not fit ``spec``, else None."""
    kind = spec.get("type")
    if kind == "array":
        if not isinstance(value, list):
            return "invalid_type", "must be an array"
        if isinstance(spec.get("maxItems"), int) and len(value) > spec["maxItems"]:
            return "max_items", f"takes at most {spec['maxItems']} items"
        for item in value:
            why = value_problem(spec.get("items") or {}, item)
            if why:
                return why
        return None
    want = _TYPES.get(str(kind))
    if want is not None and (
        not isinstance(value, want) or (kind != "boolean" and isinstance(value, bool))
    ):
        return "invalid_type", f"must be of type {kind}"
    if _is_uri(spec) and not (
        isinstance(value, str) and value.startswith(("data:", "http://", "https://"))
    ):
        return "format", "Does not match format 'uri'"
    enum = spec.get("enum")
    if isinstance(enum, list) and value not in enum:
        return "enum", f"must be one of: {', '.join(map(str, enum))}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = spec.get("minimum"), spec.get("maximum")
        if isinstance(lo, (int, float)) and value < lo:
            return "minimum", f"must be greater than or equal to {lo}"
        if isinstance(hi, (int, float)) and value > hi:
            return "maximum", f"must be less than or equal to {hi}"
    limit = spec.get("maxLength")
    if isinstance(value, str) and isinstance(limit, int) and len(value) > limit:
        return "max_length", f"must be at most {spec['maxLength']} characters"
    return None


def allowed_text(spec: dict[str, Any]) -> str:
    """What a field allows, for error messages."""
    if isinstance(spec.get("enum"), list):
        return ", ".join(map(str, spec["enum"]))
    kind = str(spec.get("type") or "any")
    if _is_uri(spec):
        return "an image (a path, URL, PIL image or bytes)"
    if kind == "array":
        return "a list" + (" of images" if _is_uri(spec.get("items") or {}) else "")
    lo, hi = spec.get("minimum"), spec.get("maximum")
    if lo is not None or hi is not None:
        return (
            f"{kind} from {lo if lo is not None else '-inf'} to {hi if hi is not None else 'inf'}"
        )
    return kind
