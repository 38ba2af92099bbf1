"""What the Replicate emulator's request handlers and records read of it. ``server.Emulator``
is one; naming the shape here keeps the handlers (``http.py``, ``delivery.py``, ``wire.py``)
and the records (``predictions.py``, ``files.py``) below the server that builds them."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from .faults import Faults


class Clocked(Protocol):
    """What any handler's base (``wire.BaseHandler``, the Gemini one's too) reads."""

    requests: list[tuple[str, str]]
    stopping: threading.Event

    def wall(self, mono: float | None = None) -> float: ...


class Host(Clocked, Protocol):
    faults: Faults
    files: Any  # files.Files
    predictions: dict[str, Any]  # id -> predictions.Prediction
    foreign: dict[str, Any]  # id -> predictions.Foreign
    downloads: list[dict[str, str]]
    canceled: list[str]
    cancel_times: dict[str, float]
    cancel_after: dict[str, str | None]
    tokens_seen: set[str]
    schema_gets: list[str]
    refused: list[dict[str, Any]]
    hung: list[tuple[str, str]]

    @property
    def base_url(self) -> str: ...
    @property
    def delivery_url(self) -> str: ...
    def clock(self) -> float: ...
    def mono(self, wall: float) -> float: ...
    def take(self, knob: str) -> bool: ...
    def drops(self, method: str, path: str) -> bool: ...
    def throttled(self, kind: str) -> float | None: ...
    def create(self, model: str, inp: dict[str, Any], deadline: float | None) -> Any: ...
    def advance(self, pred: Any) -> None: ...
    def hold(self, pred: Any, seconds: float) -> None: ...
    def output_at(self, path: str) -> bytes | None: ...
