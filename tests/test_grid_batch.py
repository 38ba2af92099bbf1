"""A grid run as one Batch API job: its cells are new results, made and paid by that job."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import nb2
from nb2.emulator import GeminiEmulator


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    with GeminiEmulator(batch_latency=0.1, batch_pending=0.0) as emu:
        yield emu


def test_a_batch_grids_cells_are_new_results_not_cache_hits(gemu, tmp_path: Path) -> None:
    backend = nb2.GeminiBackend(api_key="emulator-key", base_url=gemu.base_url)
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    g = s.compare(prompt=["a kite", "a boat"], resolution="1K", google_search=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a grounded answer made just now: no "snapshot" note
        g.run(batch=True)
    assert g.counts() == {"succeeded": 2}
    costs = [c.result.cost for c in g.cells]
    assert all(cost > 0 for cost in costs)
    assert not any(c.result.cached for c in g.cells)
    assert g.spent == pytest.approx(sum(costs))
    assert "cached" not in repr(g.cells[0].result)
    assert '<span class="badge">cached</span>' not in g._repr_html_()
    cells = g.manifest()["cells"]
    assert [c["cached"] for c in cells] == [False, False]
    assert sum(c["cost"] for c in cells) == pytest.approx(sum(costs))
    # the same grid again is answered from the store: cache hits, nothing spent, no new job
    again = s.compare(prompt=["a kite", "a boat"], resolution="1K", google_search=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again.run(batch=True)
    assert again.counts() == {"cached": 2} and len(gemu.batches) == 1
    assert all(c.result.cached for c in again.cells) and again.spent == 0
