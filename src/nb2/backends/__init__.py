"""Backends turn one :class:`nb2.Params` into image bytes. They know nothing of sessions."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..request.params import Params

StatusCallback = Callable[[str], None]  # "queued", "starting", "processing", "downloading"


@dataclass
class Output:
    """What a backend hands back: the image bytes and the facts of the run."""

    data: bytes
    format: str  # "png" | "jpg"
    prediction_id: str | None = None
    model_version: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    predict_time: float | None = None
    logs: str | None = None
    image_inputs: list[str] = field(default_factory=list)  # how each image travelled
    more: list[bytes] = field(default_factory=list)  # a list output's other files, in order
    # what a Gemini API answer adds: its token counts (usageMetadata, as sent), what grounding
    # searched and read, the model's turn (parts and thought signatures, for the next edit),
    # and the text it said beside the image
    usage: dict[str, Any] | None = None
    grounding: dict[str, Any] | None = None
    turn: dict[str, Any] | None = None
    text: str | None = None


class Backend(Protocol):
    name: str
    offline: bool

    def run(
        self,
        params: Params,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        on_created: Callable[[str], None] | None = None,
    ) -> Output:
        """Make the image; raise an nb2.errors error on failure, CanceledError once stopped.

        A backend that bills calls ``on_created(prediction_id)`` as soon as the prediction
        exists and before any waiting (the session journals it); if that raises, the backend
        cancels the prediction and re-raises."""
        ...

    def describe(self) -> dict[str, Any]:
        """A JSON-able description for records. Never contains a secret."""
        ...


BACKENDS = ("replicate", "gemini", "offline")


def serves(backend: Any, spec: Any) -> bool:
    """Whether ``backend`` makes images of the model ``spec`` (a ``models.ModelSpec``): a real
    backend its own API's models, the offline stand-in (and any other) every one."""
    real = backend.name in ("replicate", "gemini") and not getattr(backend, "offline", False)
    return not real or spec.api == backend.name


def chosen_backend(name: str | None = None) -> str:
    """Which backend ``auto_backend(name)`` makes: ``name``, else ``NB2_BACKEND``, else
    Replicate when REPLICATE_API_TOKEN is set (the product's first home, so a Gemini key set
    beside it changes nothing), else the Gemini API when GEMINI_API_KEY or GOOGLE_API_KEY is,
    else the offline stand-in."""
    name = (name or os.environ.get("NB2_BACKEND") or "").strip().lower()
    if name:
        if name not in BACKENDS:
            from ..errors import ValidationError

            raise ValidationError(
                f"backend: {name!r} is not a backend; allowed: {', '.join(BACKENDS)}",
                field="backend", value=name, allowed=list(BACKENDS),
            )  # fmt: skip
        return name
    if os.environ.get("REPLICATE_API_TOKEN"):
        return "replicate"
    if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"):
        return "gemini"
    return "offline"


def auto_backend(name: str | None = None) -> Backend:
    """The backend :func:`chosen_backend` names. Each is imported when chosen (the clients
    load only then)."""
    which = chosen_backend(name)
    if which == "replicate":
        from .replicate import ReplicateBackend

        return ReplicateBackend()
    if which == "gemini":
        from .gemini import GeminiBackend

        return GeminiBackend()
    from .offline import OfflineBackend

    return OfflineBackend()
