"""A grid's plan before anything is sent: cells, cache hits, new calls, cost (known prices only:
an unknown one is said, never guessed), time, the shared fields each model left out, and the
cells refused for their own model."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import models
from ..models.gemini import BATCH_DISCOUNT
from .cells import Plan

if TYPE_CHECKING:
    from .cells import GridShape as Grid


def make_plan(grid: Grid, max_concurrency: int = 8, batch: bool = False) -> Plan:
    session = grid.session
    cache = session.cache
    live = [c for c in grid.cells if c.params is not None]
    new = [c for c in live if c.done is False and not (cache != "off" and session.lookup(c.params))]
    if cache != "off":  # identical requests are sent once (see Session.run)
        new = list({c.params.cache_key: c for c in new}.values())
    offline = bool(getattr(session.backend, "offline", False))
    prices = [models.price(c.params.model, c.params.resolution) for c in new]
    if batch:  # the Batch API bills half of every token
        prices = [None if p is None else p * BATCH_DISCOUNT for p in prices]
    unknown = sorted({c.params.model for c, p in zip(new, prices, strict=True) if p is None})
    cost = 0.0 if offline else sum(p for p in prices if p is not None)
    waves = math.ceil(len(new) / max(1, max_concurrency))
    latency = max(
        (c.params.spec.latency_s.get(c.params.resolution or "1K", 20.0) for c in new),
        default=0.0,
    )
    lost = session.store.lost
    notes = sorted({n for c in live for n in getattr(c.params, "notes", ())})
    refused = [
        ", ".join(f"{k}={v}" for k, v in c.labels.items()) + f": {c.error}"
        for c in grid.cells
        if c.status == "refused"
    ]
    return Plan(
        len(grid.cells),
        len(live) - len(new),
        len(new),
        cost,
        0.0 if offline else waves * latency,
        max_concurrency,
        offline,
        {k: [label for label, _ in v] for k, v in grid.axes.items()},
        notes=notes,
        refused=refused,
        unknown_prices=[] if offline else unknown,
        unknown_cells=0 if offline else sum(p is None for p in prices),
        batch=batch,
        paid_before=0 if offline else sum(bool(lost(c.params.cache_key)) for c in new),
    )
