"""Backends turn one :class:`nb2.Params` into image bytes. They know nothing of sessions."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..params import Params

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


def auto_backend() -> Backend:
    """Replicate when REPLICATE_API_TOKEN is set, else the offline stand-in."""
    if os.environ.get("REPLICATE_API_TOKEN"):
        from .replicate import ReplicateBackend

        return ReplicateBackend()
    from .offline import OfflineBackend

    return OfflineBackend()
