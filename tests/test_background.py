"""Background grids (``g.run(background=True)``, ``await g.arun()``): through the official client
over loopback HTTP against the emulator. The real kernel (another cell's SIGINT, a shutdown left
to recover) is in test_background_kernel.py; the live progress in JupyterLab in
test_browser_background.py."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import nb2
from nb2 import errors
from nb2.backends.ratelimit import RateLimiter
from nb2.emulator import Emulator
from nb2.notebook.live import Progress

from .conftest import TOKEN


def _session(emu: Emulator, tmp_path, **kw) -> nb2.Session:
    backend = nb2.ReplicateBackend(
        api_token=TOKEN, base_url=emu.base_url, wait=2, poll_interval=0.05, **kw
    )
    return nb2.Session(backend=backend, store=tmp_path / "runs")


def _creates(emu: Emulator) -> int:  # every create sent, 429s included
    return sum(1 for m, p in emu.requests if m == "POST" and p.startswith("/v1/models/"))


def _until(test, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def test_it_returns_at_once_and_the_cells_fill_in_as_they_finish(tmp_path):
    with Emulator(latency=1.0) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=[f"a lighthouse, take {i}" for i in range(12)], resolution="1K")
        h = g.run(background=True, max_concurrency=4)
        assert isinstance(h, nb2.grids.background.Background) and g.running is h
        assert not h.done and h.progress().done < 12  # returned before the grid ended
        _until(lambda: 0 < h.progress().done < 12)
        some = [c for c in g.cells if c.result is not None]
        assert some and all(c.result.path.exists() for c in some)  # kept as they finish
        p = h.progress()
        assert p.cells == 12 and p.running >= 1 and p.state == "running"  # downloads too
        assert p.left is not None and p.left > 0 and "left" in p.text()
        assert h.wait(timeout=30) is g and h.done and h.state == "done"
        assert g.counts() == {"succeeded": 12}
        assert len(emu.created) == 12 and emu.in_flight_max <= 4
        end = h.progress()
        assert (end.done, end.running, end.failed, end.state) == (12, 0, 0, "done")
        assert end.spent == pytest.approx(g.spent) and end.spent > 0
        assert "12 of 12 done" in repr(h) and "left" not in end.text()


def test_a_bad_grid_is_refused_before_it_goes_to_the_background(tmp_path):
    with Emulator() as emu:
        s = _session(emu, tmp_path)
        big = s.compare(prompt=[f"p{i}" for i in range(70)])
        with pytest.raises(errors.ValidationError, match="confirm=True") as exc:
            big.run(background=True)
        assert exc.value.field == "cells"
        g = s.compare(prompt=["a", "b"], resolution="4K")
        with pytest.raises(errors.BudgetExceededError, match="nothing was started"):
            g.run(background=True, budget=0.01)
        assert emu.requests == [] and big.running is None and g.running is None


def test_a_grid_runs_once_at_a_time(tmp_path):
    with Emulator(latency=0.5) as emu:
        g = _session(emu, tmp_path).compare(prompt=["a", "b"])
        h = g.run(background=True)
        with pytest.raises(errors.Nb2Error, match=r"already running \(in the background"):
            g.run(background=True)
        with pytest.raises(errors.Nb2Error, match="already running"):
            g.run()
        h.wait(30)
        assert len(emu.created) == 2


def test_cancel_stops_it_and_cancels_what_is_in_flight_at_the_server(tmp_path):
    with Emulator(latency=30) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=[f"a kite, take {i}" for i in range(10)])
        h = g.run(background=True, max_concurrency=3)
        _until(lambda: emu.in_flight() == 3)
        assert h.cancel(timeout=20) is g and h.done and h.state == "canceled"
        assert sorted(emu.canceled) == sorted(emu.created) and len(emu.created) == 3
        assert g.counts() == {"canceled": 10}
        assert nb2.recover(s.store, backend=s.backend) == []  # nothing left unsettled


def test_two_background_grids_make_each_distinct_request_once(tmp_path):
    with Emulator(latency=0.3) as emu:
        s = _session(emu, tmp_path)
        a = s.compare(prompt=[f"a fox, take {i}" for i in range(10)])
        b = s.compare(prompt=[f"a fox, take {i}" for i in range(5, 15)])
        ha, hb = a.run(background=True, max_concurrency=4), b.run(background=True)
        ha.wait(60), hb.wait(60)
        assert len(emu.created) == 15 == _creates(emu)  # the 5 shared ones are made once
        inputs = [emu.predictions[i].input["prompt"] for i in emu.created]
        assert len(set(inputs)) == 15
        for g in (a, b):
            assert all(c.result is not None for c in g.cells), g.counts()
        assert {c.result.id for c in a.cells[5:]} == {c.result.id for c in b.cells[:5]}


def test_two_sessions_on_one_token_share_the_accounts_minute(tmp_path):
    with Emulator(latency=0.1) as emu:
        emu.faults.rate_limit = (20, 60.0)  # the account: 20 creates a minute
        one = _session(emu, tmp_path / "one", creates_per_minute=20, timeout=8)
        two = _session(emu, tmp_path / "two", creates_per_minute=20, timeout=8)
        assert one.backend.limiter is two.backend.limiter
        ga = one.compare(prompt=[f"a boat, take {i}" for i in range(12)])
        gb = two.compare(prompt=[f"a bridge, take {i}" for i in range(12)])
        ha, hb = ga.run(background=True), gb.run(background=True)
        ha.wait(60), hb.wait(60)
        # the minute's 20 were made; the other 4 waited here (past their 8 s), never a 429
        assert len(emu.created) == 20 == _creates(emu)
        failed = [c for g in (ga, gb) for c in g.cells if c.status == "failed"]
        assert len(failed) == 4 and all("rate limit" in c.error for c in failed)


def test_a_429_storm_is_met_with_one_wait_and_a_slower_pace(tmp_path):
    with Emulator(latency=0.1) as emu:
        emu.faults.rate_limit = (5, 1.0)  # the server allows 5 a second
        s = _session(emu, tmp_path)
        # the client thinks 10 a second (another kernel has half the account, say)
        s.backend.limiter = RateLimiter(600, window=1.0, margin=0.1)
        g = s.compare(prompt=[f"a tram, take {i}" for i in range(30)])
        g.run(background=True, max_concurrency=16).wait(120)
        assert g.counts() == {"succeeded": 30}
        assert len(emu.created) == 30  # nothing made twice
        refused = _creates(emu) - 30
        # the first window's extra 5, then one at a time at a pace that halves on a 429: the
        # 25 creates after the first wave meet a few 429s, not a wave each (16 at once)
        assert 1 <= refused < 15, refused
        assert s.backend.limiter.throttles == refused


def test_await_arun_and_a_cancelled_task_cancels_the_grid(tmp_path):
    with Emulator(latency=0.2) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=["a", "b", "c"])
        assert asyncio.run(g.arun()) is g and g.counts() == {"succeeded": 3}
    with Emulator(latency=30) as emu:
        s = _session(emu, tmp_path / "2")
        g = s.compare(prompt=["d", "e"])

        async def main() -> None:
            task = asyncio.ensure_future(g.arun())
            while emu.in_flight() < 2:
                await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        g.running.wait(30)
        assert sorted(emu.canceled) == sorted(emu.created) and g.counts() == {"canceled": 2}


def test_the_progress_widget_follows_the_grid_and_its_stop_cancels(tmp_path):
    with Emulator(latency=30) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=["a <b>bold</b> prompt", "another"])
        h = g.run(background=True)
        w = Progress(h)
        _until(lambda: emu.in_flight() == 2 and w.running == 2)
        assert (w.cells, w.done, w.state) == (2, 0, "running")
        assert "&lt;b&gt;bold" in w.html and "<b>bold" not in w.html  # the prompt escaped
        assert TOKEN not in str(w.get_state())
        w._dispatch(w, {"id": "m1", "kind": "cancel"}, [])  # the front end's Stop
        _until(lambda: w.state == "canceled", 30)
        assert (w.failed, w.canceled) == (0, 2) and sorted(emu.canceled) == sorted(emu.created)
        assert "grid canceled: 0 of 2 done, 0 running, 0 failed, 2 canceled" in w.text


def test_the_progress_table_shows_the_cells_that_start_running(tmp_path, monkeypatch):
    """Shown before the grid starts, as in a notebook: the table's badges follow the cells from
    pending to running (the line's "2 running"), not only once a cell ends."""
    from nb2.grids import frontends

    shown: list[Progress] = []
    monkeypatch.setitem(
        frontends._FACTORIES, "progress", lambda h, again=False: shown.append(Progress(h)) or True
    )
    with Emulator(latency=30) as emu:
        h = _session(emu, tmp_path).compare(prompt=["a", "b"]).run(background=True)
        (w,) = shown
        _until(lambda: emu.in_flight() == 2 and w.running == 2)
        assert w.html.count(">running</span>") == 2 and ">pending<" not in w.html
        h.cancel(timeout=30)


def test_plain_python_shows_the_handle_as_a_line(tmp_path, capsys):
    s = nb2.Session(backend=nb2.OfflineBackend(), store=tmp_path / "runs")
    h = s.compare(prompt=["x", "y"]).run(background=True)
    h.wait(60)
    h._ipython_display_()  # no kernel here: the repr, not a widget
    assert "2 of 2 done" in capsys.readouterr().out and "offline" in repr(h)


def test_an_interrupt_of_the_main_thread_does_not_reach_a_background_grid(tmp_path):
    import os
    import signal

    with Emulator(latency=1.0) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=[f"a mill, take {i}" for i in range(6)])
        h = g.run(background=True, max_concurrency=3)
        _until(lambda: emu.in_flight() == 3)
        with pytest.raises(KeyboardInterrupt):  # the interrupt Jupyter sends, to this thread
            threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(5)
        assert h.wait(60) is g and g.counts() == {"succeeded": 6} and emu.canceled == []


def test_the_time_left_counts_down_while_no_cell_ends(tmp_path):
    with Emulator(latency=2.0) as emu:
        emu.faults.slow_words = {"[slow]": 30.0}
        s = _session(emu, tmp_path)
        g = s.compare(prompt=["quick one", "quick two", "a [slow] one", "another [slow] one"])
        h = g.run(background=True, max_concurrency=4)
        _until(lambda: h.progress().done == 2)
        first = h.progress().left
        time.sleep(0.5)
        later = h.progress()
        assert later.done == 2 and first is not None and later.left is not None
        assert later.left < first  # from the pace at the last end, not a growing average
        h.cancel(timeout=30)
        assert h.progress().canceled == 2 and h.progress().failed == 0


def test_a_ctrl_c_in_wait_stops_the_waiting_not_the_grid(tmp_path, caplog):
    import os
    import signal

    with Emulator(latency=1.0) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=[f"a pier, take {i}" for i in range(4)])
        h = g.run(background=True, max_concurrency=2)
        _until(lambda: emu.in_flight() == 2)
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            h.wait()
        assert not h.done and "the grid runs on" in caplog.text
        assert h.wait(60) is g and g.counts() == {"succeeded": 4} and emu.canceled == []


def test_a_display_that_fails_does_not_hold_the_grid(tmp_path, monkeypatch):
    from nb2.grids import frontends

    def broken(*_a, **_k):
        raise ImportError("no widgets here")

    monkeypatch.setitem(frontends._FACTORIES, "progress", broken)
    s = nb2.Session(backend=nb2.OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt=["x", "y"])
    assert g.run(background=True).wait(60).counts() == {"succeeded": 2}
    assert g.run() is g  # the grid is free again


def test_a_hook_that_cancels_from_the_grids_own_thread_does_not_hang(tmp_path):
    with Emulator(latency=0.3) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=[f"a crane, take {i}" for i in range(8)])
        stop = lambda grid: grid.running.cancel()  # noqa: E731  (a hook of the user's)
        h = g.run(background=True, max_concurrency=2, on_progress=stop)
        assert h.wait(30) is g and h.state == "canceled"
        assert "pending" not in g.counts() and "running" not in g.counts()


def test_each_run_keeps_its_own_state_and_a_stale_handle_stops_nothing(tmp_path):
    with Emulator(latency=30) as emu:
        s = _session(emu, tmp_path)
        g = s.compare(prompt=["a", "b"])
        first = g.run(background=True)
        _until(lambda: emu.in_flight() == 2)
        first.cancel(timeout=30)
        assert first.state == "canceled" and g.counts() == {"canceled": 2}
        emu.faults.latency = 0.3
        second = g.run(background=True)
        p = second.progress()  # the cells it sends again show as waiting, not as canceled
        assert p.canceled == 0 and p.done + p.running + p.pending == 2
        first.cancel()  # the old handle: its run is over
        assert second.wait(30) is g and second.state == "done" and first.state == "canceled"
        assert g.counts() == {"succeeded": 2}


def test_retry_failed_while_running_keeps_every_reason(tmp_path):
    with Emulator(latency=0.2) as emu:
        emu.faults.slow_words = {"[slow]": 30.0}
        emu.faults.fail_next = 1  # the first prediction fails with a model error
        s = _session(emu, tmp_path)
        g = s.compare(prompt=["breaks", "a [slow] one"])
        h = g.run(background=True, max_concurrency=1)
        _until(lambda: g.cells[0].status == "failed")
        reason = g.cells[0].error
        with pytest.raises(errors.Nb2Error, match="already running"):
            g.retry_failed()
        assert (g.cells[0].status, g.cells[0].error) == ("failed", reason) and reason
        h.cancel(timeout=30)


def test_a_limit_that_is_no_number_is_named_before_anything_is_sent():
    for name, value in (("creates_per_minute", 0), ("creates_per_minute", float("nan")),
                        ("burst", 0), ("burst", 1.5)):  # fmt: skip
        with pytest.raises(errors.ValidationError) as exc:
            nb2.ReplicateBackend(api_token=TOKEN, base_url="http://127.0.0.1:9", **{name: value})
        assert exc.value.field == name


def test_a_listener_added_at_the_end_is_told_once(tmp_path):
    s = nb2.Session(backend=nb2.OfflineBackend(), store=tmp_path / "runs")
    h = s.compare(prompt=["x"]).run(background=True)
    h.wait(60)
    told = []
    h.on_change(told.append)
    assert told == [h] and h.progress().text().startswith("grid done: 1 of 1 done")
