"""Earlier turns of a conversation with a model that remembers (Google's Gemini API).

An edit on the Gemini API sends its branch of the tree back: each earlier user turn, and each
model turn exactly as it came (thought parts and thought signatures included). A model turn is
kept in the store as JSON beside its images (``images/<sha>.json``): its parts in the API's own
camelCase, each image by hash (``inlineData: {mimeType, sha256}``) rather than inline, so the
record stays small and a signature never reaches a notebook output.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .references import Reference

MIME_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
EXT_MIME = {ext: mime for mime, ext in MIME_EXT.items()}


@dataclass(frozen=True)
class Exchange:
    """One earlier turn: what was asked (text as sent, references) and what the model said.

    ``model`` is the hash of the stored model turn; ``load`` reads it (and its images) from the
    store. Its ``parts`` (the turn as it goes back to the API: images inline, base64) are read
    only when a request is sent: a history of many results, each showing its params, reads none
    of them."""

    run_id: str
    prompt: str
    references: tuple[Reference, ...]
    model: str
    load: Callable[[str], bytes] = field(compare=False, repr=False)

    @property
    def parts(self) -> list[dict[str, Any]]:
        return sent_parts(json.loads(self.load(self.model)).get("parts") or [], self.load)

    def canonical(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "references": [r.sha256 for r in self.references],
            "model": self.model,
        }

    def to_dict(self) -> dict[str, Any]:
        refs = [{"sha256": r.sha256, "role": r.role, "name": r.name} for r in self.references]
        return {"run_id": self.run_id, "prompt": self.prompt, "references": refs,
                "model": self.model}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], load: Callable[[str], bytes]) -> Exchange:
        refs = tuple(Reference(load(r["sha256"]), role=r.get("role"))
                     for r in data.get("references", []))  # fmt: skip
        return cls(data["run_id"], data["prompt"], refs, data["model"], load)


def stored_parts(
    parts: list[dict[str, Any]], put: Callable[[bytes, str], str]
) -> list[dict[str, Any]]:
    """A model turn's parts for the store: each inline image written with ``put(data, ext)``
    (which returns its hash) and named by that hash."""
    out = []
    for part in parts:
        blob = part.get("inlineData")
        if blob and "data" in blob:
            mime = str(blob.get("mimeType") or "image/png")
            sha = put(base64.b64decode(blob["data"]), MIME_EXT.get(mime, "bin"))
            part = {**part, "inlineData": {"mimeType": mime, "sha256": sha}}
        out.append(part)
    return out


def sent_parts(parts: list[dict[str, Any]], load: Callable[[str], bytes]) -> list[dict[str, Any]]:
    """Stored parts as they go back to the API: images inline again (base64)."""
    out = []
    for part in parts:
        blob = part.get("inlineData")
        if blob and "sha256" in blob:
            data = base64.b64encode(load(blob["sha256"])).decode()
            part = {**part, "inlineData": {"mimeType": blob["mimeType"], "data": data}}
        out.append(part)
    return out
