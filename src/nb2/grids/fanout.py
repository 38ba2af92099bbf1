"""A grid's new cells over a thread pool: at most ``max_concurrency`` predictions in flight (the
backend's rate limiter is shared by every grid on the account), cells kept as they finish, no
new cell launched once the budget is spent or the grid is stopped.

On the main thread a Ctrl-C stops the grid (each backend cancels at the server); off it (a
background grid) an interrupt never reaches here, and only ``grid.stop()`` does.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any

from .cells import Cell

if TYPE_CHECKING:
    from .cells import GridShape as Grid

TAIL_THREADS = 4  # threads beyond the concurrency, for downloads and store writes


def fan_out(
    grid: Grid,
    todo: list[Cell],
    max_concurrency: int,
    budget: float | None,
    on_progress: Callable[[Grid], None] | None,
) -> None:
    cancel = grid.stopping
    queue = deque(todo)  # popleft: a 10,000-cell queue is not shifted cell by cell
    main = threading.current_thread() is threading.main_thread()
    # A slot is a prediction in flight. It is given back when the prediction has finished
    # at the server (the backend says "downloading"), so the next create overlaps this
    # cell's download and store write; a few extra threads carry those tails.
    slots = threading.BoundedSemaphore(max(1, max_concurrency))
    pool = ThreadPoolExecutor(
        max_workers=max(1, max_concurrency) + TAIL_THREADS, thread_name_prefix="nb2"
    )
    running: dict[Future[Any], Cell] = {}

    def reap(timeout: float | None) -> None:
        if not running:
            return
        done, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
        for fut in done:
            cell = running.pop(fut)
            exc = fut.exception()
            if exc is not None and cell.status in ("running", "pending"):
                cell.status, cell.error = "error", f"{type(exc).__name__}: {exc}"
            if on_progress:
                on_progress(grid)

    try:
        while queue and not cancel.is_set():
            if not slots.acquire(timeout=0.05):  # short, so Ctrl-C lands on the main thread
                reap(0)
                continue
            reap(0)  # what just finished (its cost, the progress hook) counts first
            if cancel.is_set() or (budget is not None and grid.spent >= budget):
                slots.release()
                break
            cell = queue.popleft()
            cell.status = "running"
            # With a budget the slot comes back when the cell is done and its cost counted,
            # so the cap is exact; without one, as soon as its download starts.
            release = _once(slots.release)
            fut = pool.submit(grid.run_cell, cell, release if budget is None else None)
            fut.add_done_callback(lambda _f, release=release: release())
            running[fut] = cell
        while running:
            reap(0.1 if main else None)
    except KeyboardInterrupt:
        cancel.set()  # each backend cancels its prediction remotely
        wait(list(running))
        raise
    finally:
        pool.shutdown(wait=True)
        for cell in grid.cells:
            if cell.status in ("running", "pending") and cancel.is_set():
                cell.status = "canceled"
            elif cell.status == "running":
                cell.status = "pending"


def _once(fn: Callable[[], Any]) -> Callable[[], None]:
    """``fn`` on the first call only (a slot is given back once, whichever path gets there)."""
    lock = threading.Lock()
    called = False

    def call() -> None:
        nonlocal called
        with lock:
            if called:
                return
            called = True
        fn()

    return call
