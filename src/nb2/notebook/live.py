"""Live output in a notebook: one display updated in place (status lines, then the result),
and text that shows as lines rather than a quoted string."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def run_live(progress: bool, work: Callable[[Any, Callable[[str], None]], Any]) -> Any:
    """Run ``work(cancel, on_status)`` with one status line updated in place."""
    handle = Handle(progress, "nb2: queued")
    started = time.monotonic()
    last = [0.0]
    lock = threading.Lock()

    def say(status: str) -> None:
        now = time.monotonic()
        with lock:
            if now - last[0] < 0.25:
                return
            last[0] = now
        handle.say(f"nb2: {status}, {now - started:.0f} s")

    try:
        result = work(None, say)
    except BaseException as exc:
        if _says_itself(exc):  # its one line follows; a status line before it is noise
            handle.clear()
        else:
            handle.say(f"nb2: not done ({type(exc).__name__})")
        raise
    handle.show(result)
    return result


def _says_itself(exc: BaseException) -> bool:
    from IPython.core.error import UsageError

    from ..errors import Nb2Error

    return isinstance(exc, (Nb2Error, UsageError))


class Lines(str):
    """Text a line magic returns: shown as lines in the notebook, not as a quoted string."""

    def __repr__(self) -> str:
        return str(self)


class Handle:
    """One output updated in place: status lines, then the result. With progress off, only
    the result is displayed (and a failure's status line, since there is no result)."""

    def __init__(self, live: bool, first: str) -> None:
        from IPython.display import display

        self.live = live
        self.handle = display(Text(first), display_id=True) if live else None

    def say(self, text: str) -> None:
        if self.handle is not None:
            self.handle.update(Text(text))

    def clear(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)

    def show(self, value: Any) -> None:
        from IPython.display import display

        if self.handle is not None:
            self.handle.update(value)
        else:
            display(value)


class Text:
    """Something that shows as one line in both text and HTML."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from ..views.html import status_html

        return status_html(self.text)
