"""``g.run(batch=True)``: a grid's new cells as one Batch API job (the Gemini API).

Cells already in the store are read from it; the others go to the session as one batch (its
records are on disk, and the job's name on them, before any waiting); each cell then takes its
run from the store, so a batch cell is a Result like any other. A Stop (``g.stop()``) or a
Ctrl-C cancels the job at Google; what had finished is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cells import Cell
    from .cells import GridShape as Grid

log = logging.getLogger("nb2")
_STATUS = {"succeeded": "succeeded", "blocked": "blocked", "canceled": "canceled",
           "pending": "pending", "running": "pending"}  # fmt: skip


def run(grid: Grid, todo: list[Cell], on_progress: Callable[[Grid], None] | None = None) -> Grid:
    """``todo``: the cells this run sends (``Grid.run`` chose them; see there)."""
    session = grid.session
    new = []
    for cell in todo:  # one pass: a cell the store answers is read from it, the rest go
        if session.cache != "off" and session.lookup(cell.params):
            cell.result, cell.status = session.run(cell.params, kind="grid"), "cached"
        else:
            cell.status = "running"
            new.append(cell)

    def progress(state: dict[str, Any]) -> None:
        log.info("nb2: batch %s: %s of %s done", state["state"], state.get("succeeded", 0),
                 state.get("requests", len(new)))  # fmt: skip
        if on_progress:
            on_progress(grid)

    records: dict[str, dict[str, Any]] = {}
    failure: BaseException | None = None
    try:
        if new:
            records = session.run_batch([c.params for c in new], cancel=grid.stopping,
                                        on_progress=progress)  # fmt: skip
    except BaseException as exc:
        failure = exc
        raise
    finally:  # after a Ctrl-C too: each cell says what became of its run
        journaled = _journaled(grid) if failure is not None else set()
        for cell in new:
            record = records.get(cell.params.cache_key)
            if record is None and failure is not None and cell.params.cache_key not in journaled:
                # never on disk, so never sent (a full or read-only store): say why
                record = {"status": "failed", "error": f"not sent: {failure}"}
            _settle(grid, cell, record)
    return grid


def _journaled(grid: Grid) -> set[str]:
    """The cache keys with a run on disk not settled yet (a job may hold them)."""
    return {str(r.get("cache_key")) for r in grid.session.store.unsettled()}


def _settle(grid: Grid, cell: Any, record: dict[str, Any] | None) -> None:
    session = grid.session
    stored = session.lookup(cell.params)
    if stored is not None:  # stored: the cell's Result comes from there
        # this batch's own answer (after a Ctrl-C, what it collected) is new and paid; one
        # another kernel stored meanwhile is a cache hit like any other
        mine = record is None or stored.get("run_id") == record.get("run_id")
        if mine:
            cell.result, cell.status = session.batch_result(stored, cell.params), "succeeded"
            grid.spent += cell.result.cost
        else:
            cell.result, cell.status = session.run(cell.params, kind="grid"), "cached"
        return
    status = str((record or {}).get("status") or ("canceled" if grid.stopping.is_set() else
                                                  "pending"))  # fmt: skip
    cell.status = _STATUS.get(status, "failed")
    cell.error = (record or {}).get("error")
