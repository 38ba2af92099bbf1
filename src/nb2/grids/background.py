"""``g.run(background=True)``: a grid in a thread of its own, so the kernel runs other cells.

A kernel interrupt (Ctrl-C, the Stop of a notebook) only ever reaches the main thread, so it
stops the cell it was aimed at and never this grid: :meth:`Background.cancel` does, and it
cancels what is in flight at the server, as a Stop does. A kernel that shuts down leaves the
grid's runs in the store's journal, each with its prediction id, for ``nb2.recover()``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import frontends

if TYPE_CHECKING:
    from .cells import GridShape as Grid

log = logging.getLogger("nb2")
FINISHED = ("succeeded", "cached")
FAILED = ("failed", "error", "blocked", "refused")
ENDED = (*FINISHED, *FAILED, "canceled")


@dataclass(frozen=True)
class Progress:
    """Where a background grid is: counts of its cells, money spent, time gone and left."""

    cells: int
    done: int  # made or read from the store
    running: int
    failed: int  # failed, blocked by moderation, refused for its model
    spent: float
    elapsed: float
    left: float | None  # seconds, from the pace so far (None before anything finished)
    state: str  # "running", "stopping", "done", "canceled", "failed"
    offline: bool = False
    canceled: int = 0  # stopped by a cancel (in flight: at the server too), or never sent

    @property
    def pending(self) -> int:
        return self.cells - self.done - self.running - self.failed - self.canceled

    def text(self) -> str:
        spent = "offline" if self.offline else f"${self.spent:.2f} spent"
        parts = [f"{self.done} of {self.cells} done", f"{self.running} running"]
        parts.append(f"{self.failed} failed")
        parts += [f"{self.canceled} canceled"] if self.canceled else []
        parts += [spent, f"{self.elapsed:.0f} s"]
        if self.state in ("running", "stopping") and self.left is not None:
            parts.append(f"~{self.left:.0f} s left" if self.left >= 1 else "finishing")
        return f"grid {self.state}: " + ", ".join(parts)


class Background:
    """A grid running in the background: ``done``, ``progress()``, ``wait()``, ``cancel()``.

    The grid's cells fill in as they finish (``h.grid``, or ``g`` itself, shows them so far).
    Listeners (``on_change``) are told from the grid's thread after each cell and at the end.
    """

    def __init__(self, grid: Grid, work: Callable[[], Any], todo: int = 0) -> None:
        """``todo``: how many of the grid's cells this run sends (the others are kept)."""
        self.grid = grid
        self.started = time.monotonic()
        self.finished: float | None = None
        self.error: BaseException | None = None
        self._work = work
        self._ended = threading.Event()
        self._listeners: list[Callable[[Background], None]] = []
        self._before = len(grid.cells) - todo  # ended before this run, and kept
        self._cached_before = sum(c.status == "cached" for c in grid.cells)
        self._final: str | None = None  # the state this run ended in (a later run's is its own)
        self._seen = (self._before, self.started)  # cells ended, and when that was first read
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="nb2-grid", daemon=True)

    def start(self) -> Background:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # kept for wait(), which raises it in the caller's thread
            log.exception("nb2: a background grid ended with an error")
            self.error = exc
        finally:
            stopped = self.grid.stopping.is_set()
            with self._lock:
                self._final = "failed" if self.error else "canceled" if stopped else "done"
                self.finished = time.monotonic()
                self._ended.set()
            self.changed()

    def on_change(self, listener: Callable[[Background], None]) -> None:
        with self._lock:  # told once at the end, whether it ends before or after this
            self._listeners.append(listener)
            ended = self.done
        if ended:
            listener(self)

    def changed(self) -> None:
        """Tell the listeners (the grid's thread does after each cell, and at the end)."""
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # a display that failed must not stop the grid
                log.exception("nb2: a background grid's listener failed")

    # -- where it is ------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._ended.is_set()

    @property
    def state(self) -> str:
        if self._final is not None:
            return self._final
        return "stopping" if self.grid.stopping.is_set() else "running"

    def progress(self) -> Progress:
        counts: dict[str, int] = {}
        for cell in self.grid.cells:
            counts[cell.status] = counts.get(cell.status, 0) + 1
        done = sum(counts.get(s, 0) for s in FINISHED)
        failed = sum(counts.get(s, 0) for s in FAILED)
        canceled = counts.get("canceled", 0)
        now = self.finished or time.monotonic()
        # the pace of this run up to its latest ended cell (not of earlier runs): the time left
        # counts down between cells instead of growing while none ends
        with self._lock:
            if done + failed + canceled != self._seen[0]:
                self._seen = (done + failed + canceled, time.monotonic())
            ended, when = self._seen
        # a cache hit ends at once: counted in the pace, it would promise far too soon an end
        cached_here = counts.get("cached", 0) - self._cached_before
        ended_here = ended - self._before - cached_here
        left_cells = len(self.grid.cells) - done - failed - canceled
        left = None
        if ended_here > 0:
            left = max(0.0, when + (when - self.started) / ended_here * left_cells - now)
        offline = bool(getattr(self.grid.session.backend, "offline", False))
        return Progress(len(self.grid.cells), done, counts.get("running", 0), failed,
                        self.grid.spent, now - self.started, left, self.state, offline,
                        canceled)  # fmt: skip

    # -- waiting and stopping ---------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> Grid:
        """The grid, once every cell has ended. A Ctrl-C here stops the waiting, not the
        grid (``cancel()`` does); past ``timeout`` seconds, TimeoutError and the grid runs on."""
        until = None if timeout is None else time.monotonic() + timeout
        try:
            while not self._ended.wait(0.05):  # short waits: Ctrl-C lands on the main thread
                if until is not None and time.monotonic() >= until:
                    raise TimeoutError(f"the grid is still running after {timeout} s: {self}")
        except KeyboardInterrupt:
            log.warning("nb2: stopped waiting; the grid runs on (h.cancel() stops it)")
            raise
        if self.error is not None:
            raise self.error
        return self.grid

    def cancel(self, wait: bool = True, timeout: float | None = None) -> Grid:
        """Stop the grid: nothing new is sent and what is in flight is canceled at the server
        (a run the server will not cancel stays in the journal for ``nb2.recover()``). A handle
        of a run that has ended stops nothing (a later run of the grid has its own)."""
        if self.done:
            return self.grid
        self.grid.stop()
        self.changed()
        if wait and threading.current_thread() is not self._thread:  # a hook of its own: no
            self._ended.wait(timeout)
        return self.grid

    async def wait_async(self) -> Grid:
        """``await`` the grid; cancelling the awaiting task cancels the grid."""
        import asyncio  # only for async code: not in the grids' import

        try:
            while not self._ended.is_set():
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            self.cancel(wait=False)
            raise
        if self.error is not None:
            raise self.error
        return self.grid

    def __repr__(self) -> str:
        return f"<nb2 background {self.progress().text()}>"

    def _ipython_display_(self) -> None:  # a live view in a notebook, else the line
        frontends.show("progress", self, again=True)
