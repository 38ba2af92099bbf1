"""What the rooms under the session core read of a session and its results.

Grids, judging and other models are opened by the session's own verbs (``s.compare``,
``r.diff``, ``r.then``, ``r.manifest``), so they sit below ``nb2.session`` and never import it:
they name here the part of it they use, as the views name theirs in ``views/types.py``.
``nb2.Session`` and ``nb2.Result`` have these shapes.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .backends import Backend, StatusCallback
    from .models.schemas import ModelSchema
    from .request.inputs import ModelInput
    from .request.params import Params
    from .store import Store


class ResultShape(Protocol):
    """One stored run as a user holds it (``nb2.Result``)."""

    record: dict[str, Any]
    store: Store
    number: int
    cached: bool

    @property
    def id(self) -> str: ...

    @property
    def params(self) -> Params: ...

    @property
    def path(self) -> Path: ...

    @property
    def cost(self) -> float: ...


class SchemasShape(Protocol):
    """Other models' input schemas for a session (``anymodel.modelschemas.Schemas``)."""

    def get(self, model: str, *, refresh: bool = False) -> ModelSchema: ...


class SessionShape(Protocol):
    """A session as grids and chains drive it (``nb2.Session``)."""

    store: Store
    backend: Backend
    cache: str
    defaults: dict[str, Any]
    schemas: SchemasShape

    def params(
        self, prompt: str, *, references: list[Any] | None = None, repeat: int = 0, **options: Any
    ) -> Params | ModelInput: ...

    def edit_params(
        self,
        instruction: str,
        *,
        parent: ResultShape | None = None,
        references: list[Any] | None = None,
        **options: Any,
    ) -> tuple[ResultShape, Params]: ...

    def lookup(self, params: Params) -> dict[str, Any] | None: ...

    def judge(
        self,
        items: list[tuple[dict[str, str], Any]],
        judge: Any = None,
        *,
        plan: bool = False,
        on_progress: Any = None,
        max_concurrency: int = 8,
    ) -> Any: ...

    def batch_result(self, record: dict[str, Any], params: Params) -> ResultShape: ...

    def run_batch(
        self,
        params: list[Params],
        *,
        cancel: threading.Event | None = None,
        on_progress: Any = None,
    ) -> dict[str, dict[str, Any]]: ...

    def run(
        self,
        params: Params,
        *,
        kind: str = "generate",
        parent: ResultShape | None = None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        fresh: bool = False,
        checkout: bool = True,
    ) -> ResultShape: ...
