"""The models the emulator serves: the three Gemini models (from nb2's hand-checked table) and the
offline stand-ins (``backends/offline/standins.py``). ``GET /v1/models/{owner}/{name}`` answers
with the model object the API documents (``schemas_model_response``: url, owner, name, description,
visibility, github_url, paper_url, license_url, run_count, cover_image_url, default_example,
is_official, latest_version with id, created_at, cog_version and openapi_schema); creates are
checked against the same schema and run by the same code as offline.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import models
from ..backends.offline import standins
from ..models import schemas

_CREATED = "2026-11-01T00:00:00.000000Z"  # when the emulated versions were "pushed"


def served(model: str) -> bool:
    return model in models.MODELS or model in standins.MODELS


def official(model: str) -> bool:
    return model in models.MODELS or standins.OFFICIAL.get(model, False)


def version_id(model: str) -> str:
    """The latest version's id: the stand-in's pinned one, else a stable 64-hex digest."""
    fixed = standins.VERSIONS.get(model)
    return fixed or hashlib.sha256(f"nb2-emulator:{model}".encode()).hexdigest()


def by_version(ref: str) -> str | None:
    """The model a create's ``version`` names: ``owner/name``, ``owner/name:id`` or ``id``."""
    name, _, vid = ref.partition(":") if "/" in ref else ("", "", ref)
    for model in (*models.MODELS, *standins.MODELS):
        if name and name != model:
            continue
        if not vid or vid == version_id(model):
            return model
    return None


def openapi(model: str) -> dict[str, Any]:
    if model in standins.MODELS:
        return standins.openapi(model)
    spec = models.MODELS[model]
    props: dict[str, Any] = {}
    comps: dict[str, Any] = {}
    for i, f in enumerate(spec.fields.values()):
        p: dict[str, Any] = {"x-order": i, "title": f.name.replace("_", " ").title()}
        if f.type is list:
            p.update(type="array", items={"type": "string", "format": "uri"}, default=[])
        elif f.choices is not None and f.type is str:
            comps[f.name] = {
                "enum": list(f.choices),
                "type": "string",
                "title": f.name,
                "description": "An enumeration.",
            }
            p.update(allOf=[{"$ref": f"#/components/schemas/{f.name}"}], default=f.default)
        else:
            p["type"] = {bool: "boolean", str: "string"}.get(f.type, "string")
            if f.default is not None:
                p["default"] = f.default
        props[f.name] = p
    required = [f.name for f in spec.fields.values() if f.required]
    comps["Input"] = {"type": "object", "title": "Input", "required": required, "properties": props}
    comps["Output"] = {"type": "string", "title": "Output", "format": "uri"}
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "components": {"schemas": comps},
    }


def model_json(model: str) -> dict[str, Any]:
    owner, name = model.split("/", 1)
    about = standins.ABOUT.get(model) or models.MODELS[model].title
    return {
        "url": f"https://replicate.com/{model}",
        "owner": owner,
        "name": name,
        "description": about,
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": 0,
        "cover_image_url": None,
        "default_example": None,
        "is_official": official(model),
        "latest_version": {
            "id": version_id(model),
            "created_at": _CREATED,
            "cog_version": "0.9.4",
            "openapi_schema": openapi(model),
        },
    }


def check(model: str, inp: dict[str, Any]) -> list[dict[str, Any]]:
    """What the API would refuse in ``inp`` for ``model``, in ``invalid_fields`` shape."""
    if model in models.MODELS:
        return models.check_input(model, inp)
    schema = schemas.from_openapi(model, version_id(model), openapi(model))
    return schemas.check(schema, inp)


def image_inputs(model: str, inp: dict[str, Any]) -> dict[str, list[str]]:
    """The image URIs of an input, by field."""
    if model in models.MODELS:
        return {"image_input": list(inp.get("image_input") or [])}
    schema = schemas.from_openapi(model, version_id(model), openapi(model))
    out = {}
    for name in schema.image_fields():
        value = inp.get(name)
        if value:
            out[name] = list(value) if isinstance(value, list) else [value]
    return out


def run(model: str, inp: dict[str, Any], images: dict[str, list[bytes]]) -> bytes | list[bytes]:
    """The prediction's output bytes: one file, or a list when the schema's output is a list."""
    if model in standins.MODELS:
        outs = standins.run(model, inp, images)
        is_list = standins.openapi(model)["components"]["schemas"]["Output"]["type"] == "array"
        return outs if is_list else outs[0]
    from ..backends.offline.render import render

    return render(inp, images.get("image_input", []), model=model)
