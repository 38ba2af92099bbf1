"""What nb2's widgets (the panel, the gallery, the duel, the grid explorer) share: commands
arrive as ``{id, kind, ...}`` and each gets ``{id, kind: "ok" | "error", ...}`` back (quak's
pattern), so a bad message shows as a readable error in the widget instead of a log line."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from ..errors import Nb2Error

log = logging.getLogger("nb2")
STATIC = Path(__file__).parent.parent / "static"
Handler = Callable[[dict[str, Any]], dict[str, Any]]
# a handler that reads the message's binary buffers and answers with its own
BufferHandler = Callable[[dict[str, Any], list[bytes]], tuple[dict[str, Any], list[bytes]]]


class MessageWidget(anywidget.AnyWidget):
    """An anywidget whose front end sends commands over the model's message channel."""

    _channel = t.Unicode().tag(sync=True)

    def __init__(self, handlers: Mapping[str, Handler] | None = None, **kwargs: Any) -> None:
        super().__init__(_channel=uuid.uuid4().hex, **kwargs)
        self._handlers: dict[str, BufferHandler] = {
            kind: _without_buffers(h) for kind, h in (handlers or {}).items()
        }
        self.on_msg(self._dispatch)

    def _dispatch(self, _widget: Any, content: Any, buffers: list[bytes]) -> None:
        if not isinstance(content, dict):
            return self.send(
                {"id": None, "kind": "error", "message": "a message must be an object"}
            )
        mid, kind = content.get("id"), content.get("kind")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            allowed = ", ".join(sorted(self._handlers))
            return self._error(mid, f"unknown message kind {kind!r}; allowed: {allowed}", "kind")
        try:
            reply, out = handler(content, buffers)
        except Nb2Error as exc:
            return self._error(mid, str(exc), getattr(exc, "field", None))
        except (KeyError, TypeError, ValueError, t.TraitError) as exc:
            return self._error(mid, f"{kind}: {exc}", None)
        except Exception as exc:  # a bug: answered all the same, so the front end never hangs
            log.exception("nb2 %s: the %r message %r failed", type(self).__name__, kind, mid)
            return self._error(mid, f"{kind}: {type(exc).__name__}: {exc}", None)
        self.send({"id": mid, "kind": "ok", "of": kind, **reply}, out or None)

    def _error(self, mid: Any, message: str, field: str | None) -> None:
        self.send({"id": mid, "kind": "error", "message": message, "field": field})


def _without_buffers(handler: Handler) -> BufferHandler:
    return lambda msg, _buffers: (handler(msg), [])
