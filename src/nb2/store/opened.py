"""``nb2.open``: an image file read back into its request and lineage.

:func:`open` gives an :class:`Opened`: its request as :class:`~nb2.request.params.Params`, the
chain of requests from the root to it, and the embedded record (written by ``codec.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import MissingReferenceError, NoMetadataError
from ..imaging import open_file
from ..request.inputs import ModelInput, is_model_input
from ..request.params import Params
from ..request.references import Reference
from . import codec
from .codec import read
from .runs import Store


# -- what comes out -------------------------------------------------------------------------
class Step(NamedTuple):
    """One request of a chain: what kind, the prompt (or edit instruction), the params dict."""

    kind: str
    prompt: str
    params: dict[str, Any]
    run_id: str | None


@dataclass
class Opened:
    """An image file read back by :func:`open`.

    ``params`` rebuilds the request (references from the store, by hash); pass it to
    ``session.run(opened.params)`` to repeat the run (a cache hit when that store holds it; add
    ``fresh=True`` to ask the backend again).
    """

    path: Path
    metadata: dict[str, Any]
    stores: list[Store] = field(default_factory=list, repr=False)
    _params: Params | ModelInput | None = field(default=None, repr=False)
    _found: dict[str, bytes] = field(default_factory=dict, repr=False)  # sha -> bytes

    @property
    def record(self) -> dict[str, Any]:
        """The embedded record (run id, model, version, params, grounding, nb2 version...)."""
        return self.metadata

    @property
    def run_id(self) -> str | None:
        return self.metadata.get("run_id")

    @property
    def kind(self) -> str:
        return str(self.metadata.get("kind") or "generate")

    @property
    def parent(self) -> str | None:
        return self.metadata.get("parent")

    @property
    def grounded_at(self) -> str | None:
        return self.metadata.get("grounded_at")

    @property
    def chain(self) -> list[Step]:
        """From the root request to this image's."""
        steps = [*self.metadata.get("ancestors", []), codec.step(self.metadata)]
        return [
            Step(s.get("kind", "?"), s.get("prompt") or "", s.get("params") or {}, s.get("run_id"))
            for s in steps
        ]

    @property
    def params(self) -> Params | ModelInput:
        if self._params is None:
            self._params = self.to_params()
        return self._params

    def to_params(self, references: list[Any] | None = None) -> Params | ModelInput:
        """The request, with the references found on disk or given here (replacing them)."""
        data = dict(self.metadata["params"])
        if is_model_input(data):  # a request to another model, checked by its stored schema
            if references is not None:
                raise ValueError("references= applies to Gemini requests; pass images by name")
            self._require(data)
            return ModelInput.from_dict(data, lambda sha: self._found[sha])
        if references is not None:
            bare = Params.from_dict({**data, "references": []}, lambda sha: b"")
            return bare.replace(references=tuple(references))
        self._require(data)
        return Params.from_dict(data, lambda sha: self._found[sha])

    def _require(self, data: dict[str, Any]) -> None:
        """Every image the request used found on disk, else a named error listing them."""
        missing = [r for r in data.get("references", []) if self._find(r) is None]
        if missing:
            names = ", ".join(f"{r.get('name')} ({r['sha256'][:12]})" for r in missing)
            raise MissingReferenceError(
                f"{self.path.name}: {len(missing)} image(s) its request used are not on disk: "
                f"{names}; pass store= (the store that made it) to nb2.open, or give "
                "references=[...] to to_params()",
                missing=[
                    {"sha256": r["sha256"], "name": r.get("name"), "role": r.get("role")}
                    for r in missing
                ],
            )

    def _find(self, ref: dict[str, Any]) -> bytes | None:
        """A reference's bytes: from a store by hash, else a same-named file whose hash matches."""
        found = self._found
        sha = ref["sha256"]
        if sha in found:
            return found[sha]
        for store in self.stores:
            path = store.image_path(sha)
            if path is not None:
                found[sha] = path.read_bytes()
                return found[sha]
        name = Path(str(ref.get("name") or "")).name
        for folder in (self.path.parent, Path.cwd()):
            candidate = folder / name
            if name and candidate.is_file() and Reference(candidate).sha256 == sha:
                found[sha] = candidate.read_bytes()
                return found[sha]
        return None

    @property
    def image(self) -> Any:
        return open_file(self.path)

    def __repr__(self) -> str:
        lines = [f"nb2.open({str(self.path)!r}): run {self.run_id}, {self.kind}"]
        for i, step in enumerate(self.chain):
            p = step.params
            res = p.get("resolution") or "-"
            lines.append(
                f"  {i + 1}. {step.kind:<8} {step.prompt[:60]!r} "
                f"({str(p.get('model', '')).split('/')[-1]}, {res}, {p.get('aspect_ratio')})"
            )
        if self.grounded_at:
            lines.append(f"  grounded: a snapshot of the web at {self.grounded_at}")
        return "\n".join(lines)


def open(  # shadows the builtin in this module only: nb2.open is the public name
    path: str | os.PathLike[str],
    store: Any = None,
) -> Opened:
    """Read the parameters and lineage nb2 wrote into an image file.

    References (and the image an edit started from) are looked up by hash in ``store`` (a
    Store, a Session or a folder), then in the store the file sits in, then in the default
    store (``NB2_STORE``, else ``./nb2-runs``); failing that, a file of the same name next to
    the image or in the current folder whose hash matches. If one is still missing, ``.params``
    raises :class:`MissingReferenceError`, while ``.chain`` and ``.record`` still work.
    """
    path = Path(path)
    meta = read(path)
    if meta is None:
        raise NoMetadataError(
            f"{path.name}: no nb2 metadata in this file (not made by nb2, or a tool removed it)"
        )
    stores: list[Store] = []
    if store is not None:
        given = getattr(store, "store", store)  # a Session's store
        stores.append(given if isinstance(given, Store) else Store(given))
    for root in (Store.root_of(path), Store.default_root(), Store.default_root(env=False)):
        if root is not None and Store.is_store(root) and all(s.root != root for s in stores):
            stores.append(Store(root))
    return Opened(path, meta, stores)
