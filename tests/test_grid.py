import pytest

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.errors import BudgetExceededError, ValidationError

from .sigint import sigint_when


@pytest.fixture
def live(emulator, backend, tmp_path):
    return nb2.Session(backend=backend, store=tmp_path / "runs")


def test_plan_counts_cached_cells(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    s.generate("a kite", resolution="1K")
    g = s.compare(prompt=["a kite", "a boat"], resolution=["1K", "2K"], google_search=[False, True])
    plan = g.plan()
    assert (plan.cells, plan.cached, plan.new_calls) == (8, 1, 7)
    assert plan.offline and plan.cost == 0


def test_plan_estimates_cost_and_time(live):
    g = live.compare(prompt="x", resolution=["1K", "2K", "4K"], repeat=2)
    plan = g.plan(max_concurrency=2)
    assert plan.cells == 6 and plan.cost == pytest.approx(2 * (0.067 + 0.101 + 0.151))
    assert plan.seconds == 3 * 35.0  # three waves, each as slow as its slowest (4K) cell
    assert "est. cost:     $0.64" in repr(plan)


def test_mixed_models_are_checked_at_plan_time(live, emulator):
    # a cross-model grid refuses a cell for its own model only (issue 16): nano-banana has no
    # resolution input, so its cell is refused before any call and the plan names it
    g = live.compare(prompt="x", model=["nano-banana-2", "nano-banana"], resolution=["2K"])
    refused = [c for c in g.cells if c.status == "refused"]
    assert [c.labels["model"] for c in refused] == ["nano-banana"]
    assert "resolution" in refused[0].error and "nano-banana" in repr(g.plan())
    assert g.plan().new_calls == 1 and emulator.requests == []
    with pytest.raises(ValidationError, match=r"cell \[resolution=8K\]"):  # one model: the grid
        live.compare(prompt="x", resolution=["8K"])


def test_fan_out_is_bounded_and_parallel(live, emulator):
    emulator.faults.latency = 0.5
    g = live.compare(prompt=[f"p{i}" for i in range(16)], output_format="jpg")
    g.run()  # the default: 8 at once
    assert g.counts() == {"succeeded": 16}
    assert 2 <= emulator.in_flight_max <= 8  # parallel, and bounded (speed: benchmarks/)
    emulator.in_flight_max = 0
    live.compare(prompt=[f"q{i}" for i in range(4)], output_format="jpg").run(max_concurrency=1)
    assert emulator.in_flight_max == 1


def test_budget_refuses_and_caps(live, emulator):
    g = live.compare(prompt=["a", "b", "c", "d"])
    with pytest.raises(BudgetExceededError, match="over the budget"):
        g.run(budget=0.10)  # the estimate, 4 x $0.067, is over: nothing starts
    assert emulator.created == []
    # the estimate fits, but the price turns out higher (re-priced mid-run): the spend cap
    # stops launching new cells once $0.30 is reached, and keeps the finished ones
    nb2.models.set_price("nano-banana-2", "1K", 0.067)
    g.run(
        max_concurrency=1,
        budget=0.30,
        on_progress=lambda grid: nb2.models.set_price("nano-banana-2", "1K", 0.20),
    )
    # $0.067, then $0.20 (0.267 < 0.30: go on), then $0.20 (0.467: stop)
    assert g.counts() == {"succeeded": 3, "pending": 1} and len(emulator.created) == 3
    assert g.spent == pytest.approx(0.067 + 0.20 + 0.20)


def test_failed_and_blocked_cells_stay_and_retry(live, emulator):
    emulator.faults.fail_next = 1
    g = live.compare(prompt=["one", "two", "[flag] three"])
    g.run(max_concurrency=1)
    assert g.counts() == {"failed": 1, "succeeded": 1, "blocked": 1}
    assert "E005" in next(c.error for c in g.cells if c.status == "blocked")
    g.retry_failed(max_concurrency=1)
    assert g.counts() == {"succeeded": 2, "blocked": 1}
    assert [r["status"] for r in g.records()] == ["succeeded", "succeeded", "blocked"]


def test_size_guard(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt="x", aspect_ratio=["1:1", "3:2", "2:3"], confirm_cells=2)
    with pytest.raises(ValidationError, match="confirm=True"):
        g.run()
    assert g.run(confirm=True).counts() == {"succeeded": 3}


def test_interrupt_mid_grid_cancels_in_flight_and_keeps_finished(live, backend, emulator):

    # longer than the sync hold, so predictions are still running when they are polled
    emulator.faults.latency = 1.2
    backend.wait = 1
    g = live.compare(prompt=[f"cell {i}" for i in range(8)], output_format="jpg")

    def one_done_one_running() -> bool:
        done = any(c.status == "succeeded" for c in g.cells)
        return done and len(emulator.created) > 1 + len(emulator.canceled)

    with sigint_when(one_done_one_running), pytest.raises(KeyboardInterrupt):
        g.run(max_concurrency=2)
    counts = g.counts()
    assert counts.get("succeeded", 0) >= 1 and counts.get("canceled", 0) >= 1
    assert emulator.canceled and set(emulator.canceled) <= set(emulator.created)
    for cell in g.cells:  # what finished is stored and readable
        if cell.status == "succeeded":
            assert live.store.lookup(cell.params.cache_key)["run_id"] == cell.result.id


def test_replay_with_a_missing_cell_names_it_and_starts_nothing(tmp_path, monkeypatch):
    from nb2.errors import ReplayMissError

    made = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    made.generate("a kite", resolution="1K")
    monkeypatch.setenv("NB2_CACHE", "replay")  # as a notebook would be re-run
    replay = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    g = replay.compare(prompt=["a kite"], resolution=["1K", "2K"])
    with pytest.raises(ReplayMissError, match=r"1 of 2 cells .*\[prompt=P1, resolution=2K\]"):
        g.run()
    assert replay.backend.calls == 0 and g.counts() == {"pending": 2}
    one = replay.compare(prompt=["a kite"], resolution=["1K"]).run()
    assert one.counts() == {"cached": 1} and replay.backend.calls == 0


def test_a_cell_answered_by_a_run_the_session_holds_is_cached(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    s.generate("a kite", resolution="1K")
    g = s.compare(prompt="a kite", resolution=["1K", "2K"]).run()
    assert g.counts() == {"cached": 1, "succeeded": 1}
    assert [r["cost"] for r in g.records()] == [0.0, 0.0]


def test_an_offline_render_never_answers_a_live_session(tmp_path, emulator):
    from .conftest import TOKEN

    off = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    off.generate("a kite", resolution="1K")
    backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url)
    live = nb2.Session(backend=backend, store=tmp_path / "runs")
    assert live.compare(prompt="a kite", resolution=["1K"]).plan().cached == 0
    r = live.generate("a kite", resolution="1K")
    assert not r.cached and not r.offline and len(emulator.created) == 1
    # the live run now answers the request, offline sessions included
    again = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    assert again.generate("a kite", resolution="1K").cached
