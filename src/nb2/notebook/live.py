"""Live output in a notebook: one display updated in place (status lines, then the result),
text that shows as lines rather than a quoted string, and a background grid's live progress."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import traitlets as t

from .widgets import STATIC, MessageWidget


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


# -- a background grid's progress ----------------------------------------------------------------
LIVE_CELLS = 64  # a grid up to this size shows its cells filling in; a larger one, its counts
TICK = 0.5  # seconds between pushes while it runs (the clock and "left" move between cells)
_SHOWN: weakref.WeakKeyDictionary[Any, tuple[int, Progress]] = weakref.WeakKeyDictionary()


def show_progress(handle: Any, again: bool = False) -> bool:
    """Display ``handle``'s live progress in this kernel's notebook (False: no notebook here).
    Shown once per cell: ``h = g.run(background=True)`` shows it, and ``h`` as the same cell's
    last line does not show it twice; ``h`` in a later cell shows another live view."""
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:  # a terminal: the line
        if again:
            display(Text(repr(handle)))
        return again
    count = shell.execution_count
    seen = _SHOWN.get(handle)
    if again and seen is not None and seen[0] == count:
        return True
    widget = seen[1] if seen is not None else Progress(handle)
    _SHOWN[handle] = (count, widget)
    display(widget)
    return True


class Progress(MessageWidget):
    """The live line of a :class:`~nb2.grids.background.Background` grid, pushed from Python
    (every ``TICK`` s while it runs, and at its end); its Stop cancels the grid."""

    _esm = STATIC / "progress.js"
    _css = STATIC / "progress.css"

    cells = t.Int(0).tag(sync=True)
    done = t.Int(0).tag(sync=True)
    failed = t.Int(0).tag(sync=True)
    canceled = t.Int(0).tag(sync=True)
    running = t.Int(0).tag(sync=True)
    spent = t.Float(0.0).tag(sync=True)
    left = t.Float(None, allow_none=True).tag(sync=True)
    state = t.Unicode("running").tag(sync=True)
    text = t.Unicode("").tag(sync=True)
    html = t.Unicode("").tag(sync=True)  # the cells so far (small grids), escaped in views/html

    def __init__(self, handle: Any) -> None:
        self.handle: Any = handle  # let go once it has ended (the views keep its last state)
        self._lock = threading.Lock()
        super().__init__({"cancel": self._on_cancel})
        self.push()
        threading.Thread(target=self._tick, name="nb2-progress", daemon=True).start()

    def __repr__(self) -> str:  # the text/plain of a front end without widgets: the line
        return self.text or "nb2 background grid"

    def _on_cancel(self, _msg: dict[str, Any]) -> dict[str, Any]:
        handle = self.handle
        if handle is not None:
            handle.cancel(wait=False)
        return {}

    def _tick(self) -> None:
        handle = self.handle
        while not handle.done:
            time.sleep(TICK)
            self.push()
        self.push()
        with self._lock:  # nothing here holds the grid (its cells and images) any longer
            self.handle = None

    def push(self) -> None:
        from ..views.html import grid_html

        with self._lock:  # the ticker and a Stop may push at once
            if self.handle is None:
                return
            p = self.handle.progress()
            grid = self.handle.grid
            # a cell that starts running redraws the table too (its badge says so, as the line)
            shown = (self.done, self.failed, self.canceled, self.running, self.state)
            moved = (p.done, p.failed, p.canceled, p.running, p.state) != shown
            small = len(grid.cells) <= LIVE_CELLS
            html = grid_html(grid) if small and (moved or not self.html) else None
            with self.hold_sync():
                self.cells, self.done, self.failed = p.cells, p.done, p.failed
                self.canceled, self.running = p.canceled, p.running
                self.spent, self.left, self.state, self.text = p.spent, p.left, p.state, p.text()
                if html is not None:
                    self.html = html
