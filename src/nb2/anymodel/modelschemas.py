"""Model schemas for a session: asked of the backend once, then read from the store.

A schema is kept per endpoint (the real API, the emulator, offline stand-ins) under
``<store>/schemas/``, with the version it describes and the date it was read; memory holds it for
the session's life. ``cache="replay"`` never asks the API: a schema not in the store is a named
error, as a missing image is.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ReplayMissError, ValidationError
from ..models.schemas import ModelSchema
from ..store import Store

if TYPE_CHECKING:
    from ..shapes import SessionShape as Session


class Schemas:
    """``get(model)``: the schema of ``model`` for this session's backend."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._mem: dict[str, ModelSchema] = {}
        self._lock = threading.Lock()
        self.fetched: list[str] = []  # models asked of the backend by this session

    def path(self, model: str) -> Path:
        where = Store.endpoint_of(self.session.backend.describe())
        slug = "offline" if where == "offline" else hashlib.sha256(where.encode()).hexdigest()[:12]
        owner, name = model.split("/", 1)
        return self.session.store.root / "schemas" / slug / owner / f"{name}.json"

    def get(self, model: str, *, refresh: bool = False) -> ModelSchema:
        with self._lock:
            if model in self._mem and not refresh:
                return self._mem[model]
        path = self.path(model)
        schema = None if refresh else _read(path)
        if schema is None:
            if self.session.cache == "replay":
                raise ReplayMissError(
                    f"replay: the store at {self.session.store.root} holds no schema for "
                    f"{model}; run with cache='auto' once to read it",
                    key=model,
                )
            fetch = getattr(self.session.backend, "model_schema", None)
            if fetch is None:
                raise ValidationError(
                    f"model: {model!r}: the backend {self.session.backend.name} cannot read "
                    "model schemas",
                    field="model",
                    value=model,
                    allowed="a backend with model_schema()",
                )
            schema = fetch(model)
            self.fetched.append(model)
            _write(path, schema)
        with self._lock:
            self._mem[model] = schema
        return schema


def _read(path: Path) -> ModelSchema | None:
    try:
        return ModelSchema.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _write(path: Path, schema: ModelSchema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(schema.to_dict(), sort_keys=True, indent=1))
    os.replace(tmp, path)


def describe(schema: ModelSchema) -> dict[str, Any]:
    """A short, JSON-able account of a schema (for plans and reprs)."""
    return {
        "model": schema.model,
        "version": schema.version,
        "fetched_at": schema.fetched_at,
        "source": schema.source,
        "inputs": list(schema.inputs),
    }
