"""Real money is safe: every path that can spend ends stored, canceled at the server, or recorded
with its prediction id for nb2.recover(). Against the emulator, which answers as the real API
does (sync creates answer "processing" with the output), through the official client's session
over loopback HTTP, with real SIGINTs, real full and read-only disks, and garbage answers."""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import nb2
from nb2 import errors
from nb2.emulator import Emulator
from nb2.request.params import Params

from .conftest import TOKEN
from .sigint import sigint_at, when

CI = os.environ.get("CI") == "true"


def _backend(emu: Emulator, **kw: Any) -> nb2.ReplicateBackend:
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("wait", 5)
    return nb2.ReplicateBackend(api_token=TOKEN, base_url=emu.base_url, **kw)


def _session(emu: Emulator, store: Any, **kw: Any) -> nb2.Session:
    return nb2.Session(backend=_backend(emu, **kw), store=store)


def _images(store: nb2.Store) -> list[Path]:
    return sorted((store.root / "images").rglob("*.*"))


# -- 1. interrupts ---------------------------------------------------------------------------------
def test_random_real_sigints_never_lose_a_paid_image(tmp_path):
    """Ctrl-C at random moments: each prediction is either stored or canceled at the server;
    never recorded canceled while it succeeded there, never created twice."""
    rng = random.Random(7)
    with Emulator(latency=0.4) as emu:
        s = _session(emu, tmp_path / "runs")
        for i in range(12):
            with sigint_at(rng.uniform(0.0, 0.7)), contextlib.suppress(KeyboardInterrupt):
                s.generate(f"a lighthouse, take {i}", fresh=True)
        time.sleep(0.6)  # let every prediction reach its end at the server
        assert len(emu.created) == len(set(emu.created)) == 12
        records = {r["prediction_id"]: r for r in s.store.records()}
        for pid in emu.created:
            rec = records[pid]  # every prediction id is on disk
            server = emu.predictions[pid].status
            if rec["status"] == "succeeded":
                assert s.store.image_path(rec["output"]["sha256"]) is not None
            else:
                assert rec["status"] == "canceled", rec
                assert pid in emu.canceled and server == "canceled", (pid, server)


def test_sigint_during_the_sync_hold_cancels_within_a_second(tmp_path):
    with Emulator(latency=8.0) as emu:
        s = _session(emu, tmp_path / "runs", wait=10)
        t0 = time.monotonic()
        with sigint_at(1.0) as sent, pytest.raises(KeyboardInterrupt):
            s.generate("a slow lighthouse")
        assert time.monotonic() - t0 < 4.0  # not the 10 s hold
        (pid,) = emu.created
        assert pid in emu.canceled
        lag = emu.cancel_times[pid] - sent[0]
        assert lag < 1.0, lag
        (rec,) = s.store.records()
        assert rec["status"] == "canceled" and rec["prediction_id"] == pid


def test_an_image_that_finished_before_the_cancel_is_kept(tmp_path, monkeypatch):
    """The interrupt lands while the output downloads: the image is stored anyway."""
    with Emulator(latency=0.2, output_slow=0.0) as emu:
        s = _session(emu, tmp_path / "runs")
        from nb2.backends import download as dl

        real = dl.download

        def slow(*a: Any, **kw: Any) -> bytes:
            time.sleep(0.8)  # the interrupt arrives during this
            return real(*a, **kw)

        monkeypatch.setattr("nb2.backends.replicate.backend.download", slow)
        with sigint_at(0.5), pytest.raises(KeyboardInterrupt):
            s.generate("a lighthouse at dusk")
        (rec,) = s.store.records()
        assert rec["status"] == "succeeded" and _images(s.store)
        assert s.generate("a lighthouse at dusk").cached  # the re-run is free
        assert len(emu.created) == 1


def test_cancel_after_is_sent_with_every_create(emulator, tmp_path):
    s = _session(emulator, tmp_path / "runs", timeout=90)
    s.generate("x")
    (pid,) = emulator.created
    assert emulator.cancel_after[pid] in ("90s", "89s")


# -- 2. a store that cannot be written ------------------------------------------------------------
def test_a_read_only_store_stops_before_anything_is_spent(emulator, small_disk):
    store = nb2.Store(small_disk / "runs")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    s = _session(emulator, store)
    with pytest.raises(errors.StoreError, match="nothing was spent"):
        s.generate("a lighthouse")
    assert emulator.created == []


def test_a_full_disk_keeps_the_prediction_id_for_recover(emulator, small_disk, tmp_path):
    store = nb2.Store(small_disk / "runs")
    s = _session(emulator, store)
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 1)
    # leave room for the records, not for a 2K PNG of hundreds of KB
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    with contextlib.suppress(OSError):
        filler.write_bytes(b"\0" * max(0, free - 48 * 1024))
    with pytest.raises(errors.StoreError):
        s.generate("a lighthouse", resolution="2K")
    (pid,) = emulator.created
    rec = next(r for r in store.records() if r["prediction_id"] == pid)
    assert rec["status"] in ("pending", "running")
    filler.unlink()  # space again: collect it, without paying again
    report = nb2.recover(store, backend=s.backend)
    assert [line["outcome"] for line in report] == ["collected and stored"]
    rec = store.get(rec["run_id"])
    assert rec["status"] == "succeeded" and store.image_path(rec["output"]["sha256"])
    assert len(emulator.created) == 1


# -- 3, 4. answers that are not what they should be -----------------------------------------------
def test_an_output_that_is_not_an_image_is_refused_and_recorded(emulator, tmp_path):
    emulator.faults.output_not_image = 1
    s = _session(emulator, tmp_path / "runs")
    with pytest.raises(errors.GenerationError, match="not an image") as exc:
        s.generate("x")
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid
    (rec,) = s.store.records()
    assert rec["status"] == "failed" and rec["prediction_id"] == pid
    assert _images(s.store) == []  # the junk never reached images/


@pytest.mark.parametrize("fault", ["create_malformed", "create_html", "create_null_url"])
def test_a_garbled_create_answer_still_gets_its_image_without_a_second_create(
    emulator, tmp_path, fault
):
    setattr(emulator.faults, fault, 1)
    s = _session(emulator, tmp_path / "runs", lost_create_grace=0.2)
    r = s.generate("a lighthouse")
    assert len(emulator.created) == 1 and r.record["prediction_id"] == emulator.created[0]
    assert r.path.exists()


def test_an_aborted_create_is_a_named_error_with_its_id(emulator, tmp_path):
    emulator.faults.create_aborted = 1
    s = _session(emulator, tmp_path / "runs")
    with pytest.raises(errors.GenerationError, match="aborted") as exc:
        s.generate("x")
    assert exc.value.prediction_id == emulator.created[0]
    (rec,) = s.store.records()
    assert rec["status"] == "failed" and rec["prediction_id"] == emulator.created[0]


# -- 5. a grid never swallows an error ----------------------------------------------------------
class _Broken:
    name, offline = "broken", True

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "offline": True}

    def run(self, params: Any, **kw: Any) -> Any:
        raise RuntimeError("a bug in a backend")


def test_a_grid_reports_every_error_it_meets(tmp_path, emulator):
    g = nb2.Session(backend=_Broken(), store=tmp_path / "a").compare(prompt=["x", "y"])
    g.run()
    assert [c.status for c in g.cells] == ["error", "error"]
    assert all("RuntimeError: a bug in a backend" in c.error for c in g.cells)
    emulator.faults.output_not_image = 2
    g = _session(emulator, tmp_path / "b").compare(prompt=["x", "y"])
    g.run()
    assert [c.status for c in g.cells] == ["failed", "failed"]
    assert all("not an image" in c.error for c in g.cells)


# -- 6, 8. every wait is bounded ------------------------------------------------------------------
def test_polls_failing_forever_end_in_a_cancel_by_the_deadline(emulator, tmp_path):
    emulator.faults.latency = 30
    emulator.faults.poll_errors_forever = True
    s = _session(emulator, tmp_path / "runs", wait=1, timeout=2)
    t0 = time.monotonic()
    with pytest.raises(errors.GenerationError) as exc:
        s.generate("x")
    assert time.monotonic() - t0 < 7  # the 2 s limit, a cancel, and a loaded machine's margin
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and pid in emulator.canceled


def test_an_api_that_never_answers_is_bounded_by_the_timeout(emulator, tmp_path):
    emulator.faults.hang_requests = 10**9
    s = _session(emulator, tmp_path / "runs", wait=1, timeout=2)
    t0 = time.monotonic()
    with pytest.raises(errors.Nb2Error):
        s.generate("x")
    assert time.monotonic() - t0 < 8  # the 2 s limit (and the journal's lookups), not forever


def test_an_absurd_retry_after_is_capped_and_named(emulator, tmp_path):
    emulator.faults.throttle_creates = 1
    emulator.faults.retry_after = 1e20
    emulator.faults.retry_after_field = True
    s = _session(emulator, tmp_path / "runs", timeout=5, max_retry_after=60)
    t0 = time.monotonic()
    with pytest.raises(errors.RateLimitError, match="time limit"):
        s.generate("x")
    assert time.monotonic() - t0 < 4.5 and emulator.created == []  # inside the 5 s limit


def test_stop_acts_at_once_when_polls_ask_to_retry_after_40s(emulator, tmp_path):
    emulator.faults.latency = 30
    emulator.faults.poll_errors = 10**6
    emulator.faults.poll_retry_after = 40
    backend = _backend(emulator, wait=1)
    stop = threading.Event()
    stopped: list[float] = []
    when(lambda: emulator.created, lambda: (stopped.append(time.monotonic()), stop.set()))
    with pytest.raises(errors.CanceledError):
        backend.run(Params("x"), cancel=stop)
    assert time.monotonic() - stopped[0] < 20  # not the 40 s the polls asked for
    assert emulator.canceled == emulator.created


def test_a_trickling_download_is_bounded_and_kept_for_recover(emulator, tmp_path):
    emulator.faults.output_slow = 0.5
    s = _session(emulator, tmp_path / "runs", timeout=2)
    t0 = time.monotonic()
    with pytest.raises(errors.UncollectedError):
        s.generate("x")
    assert time.monotonic() - t0 < 6
    (rec,) = s.store.records()
    assert rec["status"] == "pending" and rec["prediction_id"] == emulator.created[0]
    emulator.faults.output_slow = 0.0
    report = nb2.recover(s.store, backend=s.backend)
    assert report[0]["outcome"] == "collected and stored"


def test_a_huge_output_is_refused_without_holding_it(emulator, tmp_path):
    emulator.faults.output_huge = 64 * 1024 * 1024
    s = _session(emulator, tmp_path / "runs", max_output_bytes=4 * 1024 * 1024)
    with pytest.raises(errors.GenerationError, match="over 4194304 bytes"):
        s.generate("x")
    assert _images(s.store) == []


# -- 7. lost creates ------------------------------------------------------------------------------
def test_a_lost_create_with_the_server_clock_behind_is_found_not_resent(emulator, tmp_path):
    emulator.faults.clock_skew = -3.0
    emulator.faults.drop_create_responses = 1
    s = _session(emulator, tmp_path / "runs", lost_create_grace=0.3)
    s.generate("warm up")  # a Date header: the client learns the server's clock
    r = s.generate("a lighthouse")
    assert len(emulator.created) == 2 and r.record["prediction_id"] == emulator.created[1]


def test_lost_answers_in_a_repeat_grid_each_find_their_own_prediction(emulator, tmp_path):
    emulator.faults.latency = 0.3
    emulator.faults.drop_create_responses = 4
    emulator.faults.page_size = 3  # the look-up must read past the first page
    emulator.add_foreign(5, status="aborted", spread=1.0)
    emulator.add_foreign(3, odd=True, spread=1.0)
    s = _session(emulator, tmp_path / "runs", lost_create_grace=0.3)
    g = s.compare(prompt="a lighthouse", repeat=8)
    g.run(max_concurrency=8)
    assert [c.status for c in g.cells] == ["succeeded"] * 8
    ids = [c.result.record["prediction_id"] for c in g.cells]
    assert len(set(ids)) == 8 and sorted(ids) == sorted(emulator.created)
    assert emulator.canceled == []


def test_an_unreadable_list_after_a_lost_create_never_sends_it_again(emulator, tmp_path):
    emulator.faults.drop_create_responses = 1
    s = _session(emulator, tmp_path / "runs", lost_create_grace=0.1)
    real = s.backend.api.list_since

    def broken(*a: Any, **kw: Any) -> Any:
        raise nb2.backends.replicate.api.Unreadable("the list is down")

    s.backend.api.list_since = broken  # type: ignore[method-assign]
    with pytest.raises(errors.UncollectedError, match="nothing is billed twice"):
        s.generate("x")
    s.backend.api.list_since = real  # type: ignore[method-assign]
    assert len(emulator.created) == 1
    # the prediction it may have made is not forgotten: the run stays pending, and recover
    # finds it in the list once the list answers, and stores its image
    (record,) = s.store.unsettled()
    assert record["status"] == "pending" and record["prediction_id"] is None
    (line,) = nb2.recover(s.store, backend=s.backend)
    assert line["outcome"] == "collected and stored", line
    assert s.store.get(record["run_id"])["prediction_id"] == emulator.created[0]
    assert len(_images(s.store)) == 1 and len(emulator.created) == 1


def _unlisted(s: nb2.Session) -> Any:
    """Make the server's list unreadable to ``s``; returns what puts it back."""
    real = s.backend.api.list_since

    def broken(*a: Any, **kw: Any) -> Any:
        raise nb2.backends.replicate.api.Unreadable("the list is down")

    s.backend.api.list_since = broken  # type: ignore[method-assign]
    return lambda: setattr(s.backend.api, "list_since", real)


def _stop_as_the_lookup_begins(s: nb2.Session, stop: threading.Event) -> None:
    """Set ``stop`` when the backend starts looking for a lost create's prediction."""
    find_lost = s.backend._find_lost

    def stopped_then_find(*a: Any, **kw: Any) -> Any:
        stop.set()
        return find_lost(*a, **kw)

    s.backend._find_lost = stopped_then_find  # type: ignore[method-assign]


@pytest.mark.parametrize("when_stopped", ["during the hold", "after the answer was lost"])
def test_a_stop_while_the_create_answer_is_missing_leaves_the_run_for_recover(
    emulator, tmp_path, when_stopped
):
    # the create reaches the server, its answer never comes back, the list cannot be read,
    # and the user stops: the prediction may run on and be billed, so nothing may call the
    # run settled; recover finds it later (here: it ran on and succeeded)
    emulator.faults.latency = 1.5
    emulator.faults.drop_create_responses = 1
    s = _session(emulator, tmp_path / "runs", wait=1, lost_create_grace=30)
    restore = _unlisted(s)
    stop = threading.Event()
    if when_stopped == "during the hold":
        when(lambda: emulator.created, stop.set)
    else:  # once the answer is known lost, as the lookup begins (in its grace)
        _stop_as_the_lookup_begins(s, stop)
    with pytest.raises(errors.CanceledError, match="stays pending") as exc:
        s.generate("x", cancel=stop)
    assert exc.value.unsettled and exc.value.prediction_id is None
    (record,) = s.store.unsettled()
    assert record["status"] == "pending" and record["prediction_id"] is None
    restore()
    (line,) = nb2.recover(s.store, backend=s.backend, running="wait")
    assert line["outcome"] == "collected and stored", line
    assert len(_images(s.store)) == 1 and len(emulator.created) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_a_stop_in_the_hold_of_a_create_answered_5xx_leaves_the_run_for_recover(
    emulator, tmp_path, status
):
    # a 5xx may come after the prediction was made (a proxy's error page): a stop with the
    # list down cannot tell, so the run stays pending, and recover finds and stores it
    emulator.faults.latency = 1.5
    emulator.faults.create_html, emulator.faults.create_html_status = 1, status
    s = _session(emulator, tmp_path / "runs", wait=1)
    restore = _unlisted(s)
    stop = threading.Event()
    when(lambda: emulator.created, stop.set)
    with pytest.raises(errors.CanceledError, match="stays pending"):
        s.generate("x", cancel=stop)
    assert s.store.unsettled()[0]["prediction_id"] is None
    restore()
    (line,) = nb2.recover(s.store, backend=s.backend, running="wait")
    assert line["outcome"] == "collected and stored", line
    assert len(_images(s.store)) == 1 and len(emulator.created) == 1


def test_a_stop_after_a_cut_create_that_made_nothing_is_settled_by_recover_as_lost(
    emulator, tmp_path
):
    # the connection is cut before the server makes anything; the stop comes as the lookup
    # begins, and the list (read at once, without the grace) shows nothing: that is not yet
    # proof, so the run stays pending, and recover, reading the list later, closes it
    emulator.faults.drop_connections = 1
    s = _session(emulator, tmp_path / "runs", lost_create_grace=30)
    stop = threading.Event()
    _stop_as_the_lookup_begins(s, stop)
    with pytest.raises(errors.CanceledError, match="stays pending") as exc:
        s.generate("x", cancel=stop)
    assert exc.value.unsettled and emulator.created == [] and emulator.dropped
    (line,) = nb2.recover(s.store, backend=s.backend)
    assert line["outcome"].startswith("recorded as lost"), line
    assert s.store.unsettled() == [] and emulator.created == []


@pytest.mark.parametrize("finished", [False, True], ids=["running", "finished"])
def test_a_create_answer_after_its_stopped_caller_gave_up_is_left_for_recover(
    emulator, tmp_path, finished
):
    # the stopped caller waits for the create's answer (up to the hold + 5 s, made immediate
    # here) and the list cannot show the prediction; the answer then comes after all. A
    # prediction still running is canceled; one that already finished is paid for: either
    # way the run stays pending and recover settles it (the finished one is stored)
    emulator.faults.latency = 0.0 if finished else 30.0
    s = _session(emulator, tmp_path / "runs", wait=1)
    restore = _unlisted(s)
    s.backend._stop_create = lambda *a: None  # type: ignore[method-assign]
    post, late = s.backend.api.request, threading.Event()

    def request(method: str, path: str, **kw: Any) -> Any:
        answer = post(method, path, **kw)
        if method == "POST" and path.endswith("/predictions"):
            late.wait(30)
        return answer

    s.backend.api.request = request  # type: ignore[method-assign]
    stop = threading.Event()
    when(lambda: emulator.created, stop.set)
    with pytest.raises(errors.CanceledError, match="stays pending"):
        s.generate("x", cancel=stop)
    (record,) = s.store.unsettled()
    assert record["status"] == "pending" and record["prediction_id"] is None
    late.set()
    for thread in threading.enumerate():
        if thread.name == "nb2-create":
            thread.join(10)
    (pid,) = emulator.created
    if not finished:  # (a finished one's answer says "processing" too, so it is also sent one)
        assert emulator.canceled == [pid]
    s.backend.api.request, _ = post, restore()  # type: ignore[method-assign]
    (line,) = nb2.recover(s.store, backend=s.backend)
    expected = "collected and stored" if finished else "recorded as canceled"
    assert line["outcome"].startswith(expected), line
    assert s.store.get(record["run_id"])["status"] == ("succeeded" if finished else "canceled")
    assert len(_images(s.store)) == (1 if finished else 0) and len(emulator.created) == 1


# -- 9. results never cross endpoints -------------------------------------------------------------
def test_a_result_from_one_endpoint_never_answers_another(tmp_path):
    store = tmp_path / "runs"
    with Emulator() as a, Emulator() as b:
        first = _session(a, store).generate("a lighthouse")
        second = _session(b, store).generate("a lighthouse")
        assert not second.cached and len(b.created) == 1
        assert second.record["prediction_id"] != first.record["prediction_id"]
        assert _session(a, store).generate("a lighthouse").cached  # each its own
        assert _session(b, store).generate("a lighthouse").cached
        offline = nb2.Session(backend=nb2.OfflineBackend(), store=store)
        assert offline.generate("a lighthouse").cached  # a real result beats a stand-in
        assert len(a.created) == len(b.created) == 1


# -- 10. identical requests are sent once ----------------------------------------------------------
def test_identical_cells_and_grids_share_one_create(emulator, tmp_path):
    emulator.faults.latency = 0.3
    s = _session(emulator, tmp_path / "runs")
    g = s.compare(prompt="a cafe", google_search=[False, True], image_search=[False, True])
    assert g.plan().new_calls == 3  # image search implies web search: two cells are one
    other = s.compare(prompt="a cafe", google_search=[False, True], image_search=[False, True])
    threads = [threading.Thread(target=x.run) for x in (g, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(emulator.created) == 3
    assert all(c.status in ("succeeded", "cached") for c in [*g.cells, *other.cells])


def test_a_blocked_cell_is_not_sent_again(emulator, tmp_path):
    s = _session(emulator, tmp_path / "runs")
    g = s.compare(prompt=["fine", "not fine [flag]"])
    g.run()
    assert [c.status for c in g.cells] == ["succeeded", "blocked"]
    g.retry_failed()
    g.run()
    assert len(emulator.created) == 2


# -- the journal: a kernel that dies mid-run ----------------------------------------------------
_KERNEL = textwrap.dedent(
    """
    import sys, nb2
    b = nb2.ReplicateBackend(api_token=sys.argv[1], base_url=sys.argv[2], wait=1,
                             poll_interval=0.05)
    nb2.Session(backend=b, store=sys.argv[3]).generate("a lighthouse at night")
    """
)


def test_a_kernel_killed_mid_run_loses_nothing(emulator, tmp_path):
    emulator.faults.latency = 3.0
    store = tmp_path / "runs"
    kernel = subprocess.Popen(
        [sys.executable, "-c", _KERNEL, TOKEN, emulator.base_url, str(store)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        for _ in range(200):
            if emulator.created:
                break
            time.sleep(0.05)
        time.sleep(0.3)  # the id is journaled before any waiting
        # a second kernel on the same store leaves the live run alone
        live = nb2.recover(store, backend=_backend(emulator), running="leave")
        assert [line["outcome"] for line in live] == ["running in another process; left"]
    finally:
        kernel.kill()
        kernel.wait(10)
    (pid,) = emulator.created
    s = nb2.Session(backend=_backend(emulator), store=store)  # a new kernel: leave, not wait
    assert s.recovered and "still running" in s.recovered[0]["outcome"]
    report = nb2.recover(store, backend=s.backend, running="wait", timeout=10)
    assert report == [
        {"run_id": report[0]["run_id"], "prediction_id": pid, "outcome": "collected and stored"}
    ]
    rec = s.store.get(report[0]["run_id"])
    assert rec["status"] == "succeeded" and s.store.image_path(rec["output"]["sha256"])
    assert nb2.recover(store) == []  # settled
    assert len(emulator.created) == 1


def test_recover_never_settles_a_run_another_kernel_finished_meanwhile(emulator, tmp_path):
    # a dead kernel left a run whose prediction still runs; kernel A is in the create's hold
    # of a run (no id on disk yet) when kernel B recovers with running="wait": B waits on the
    # first, A's run succeeds meanwhile, and B must not settle A's run from its stale list
    emulator.faults.slow_words = {"slow": 6.0}
    emulator.faults.latency = 1.5
    store = tmp_path / "runs"
    kernel = subprocess.Popen(
        [sys.executable, "-c", _KERNEL.replace("a lighthouse", "a slow lighthouse"), TOKEN,
         emulator.base_url, str(store)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        for _ in range(400):
            if any(r.get("prediction_id") for r in nb2.Store(store).records()):
                break
            time.sleep(0.05)
    finally:
        kernel.kill()
        kernel.wait(10)
    a = _session(emulator, store)
    got: dict[str, Any] = {}
    t = threading.Thread(target=lambda: got.setdefault("a", a.generate("a lighthouse")))
    t.start()
    for _ in range(400):  # A's create is at the server; A holds, with no id on disk
        if len(emulator.created) == 2:
            break
        time.sleep(0.01)
    report = nb2.recover(store, backend=_backend(emulator), running="wait", timeout=20)
    t.join(20)
    run_a = got["a"].id
    assert nb2.Store(store).get(run_a)["status"] == "succeeded", report
    assert [line["outcome"] for line in report] in (
        ["collected and stored", "running in another process; left"],
        ["collected and stored"],  # A had settled before the list was read
    ), report


def test_a_cache_pointer_that_cannot_be_written_is_made_by_recover(emulator, tmp_path):
    # the image and the succeeded record are written, then the disk fails at the cache
    # pointer (here a file stands where its folder must go): the run is not yet settled, so
    # recover writes the pointer and the same request is a cache hit, not a second payment
    s = _session(emulator, tmp_path / "runs")
    key = s.params("a lighthouse").cache_key
    blocker = s.store.root / "keys" / key[:2]
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"")
    with pytest.raises(errors.StoreError, match="stays pending"):
        s.generate("a lighthouse")
    assert s.store.has_unsettled()
    blocker.unlink()
    assert nb2.recover(s.store, backend=s.backend) == []  # nothing to collect: only the pointer
    assert not s.store.has_unsettled()
    again = _session(emulator, tmp_path / "runs").generate("a lighthouse")
    assert again.cached and len(emulator.created) == 1, emulator.created


def _cut_the_cancels_then(stop: threading.Event, emu: Emulator) -> Any:
    def go() -> None:
        emu.faults.drop_connections = 10  # the next requests (the cancels) are cut
        stop.set()

    return go


def test_a_stop_whose_cancel_gets_no_answer_leaves_the_run_pending_with_its_id(emulator, tmp_path):
    # stopped while polling, and every cancel is cut: the prediction runs on and is billed,
    # so the run is not "canceled" but pending with its id, and recover stores the image
    emulator.faults.latency = 2.0
    s = _session(emulator, tmp_path / "runs", wait=1)
    stop = threading.Event()
    when(lambda: any(r.get("prediction_id") for r in s.store.records()),
         _cut_the_cancels_then(stop, emulator))  # fmt: skip
    with pytest.raises(errors.CanceledError, match="cancel got no answer") as exc:
        s.generate("a lighthouse", cancel=stop)
    emulator.faults.drop_connections = 0
    (pid,) = emulator.created
    assert exc.value.unsettled and exc.value.prediction_id == pid
    assert pid not in emulator.canceled
    (record,) = s.store.unsettled()
    assert record["status"] == "pending" and record["prediction_id"] == pid
    (line,) = nb2.recover(s.store, backend=s.backend, running="wait")
    assert line["outcome"] == "collected and stored", line
    assert len(_images(s.store)) == 1 and len(emulator.created) == 1


def test_a_stop_in_the_hold_whose_cancel_gets_no_answer_leaves_the_run_pending(emulator, tmp_path):
    # the same during the create's sync hold: the stopped caller finds its prediction in the
    # list, and its cancel is cut
    emulator.faults.latency = 2.0
    s = _session(emulator, tmp_path / "runs", wait=5)
    stop = threading.Event()
    list_since = s.backend.api.list_since

    def listed_then_cut(*a: Any, **kw: Any) -> Any:
        found = list_since(*a, **kw)
        emulator.faults.drop_connections = 10
        return found

    when(lambda: emulator.created, stop.set)
    s.backend.api.list_since = listed_then_cut  # type: ignore[method-assign]
    with pytest.raises(errors.CanceledError, match="cancel got no answer") as exc:
        s.generate("a lighthouse", cancel=stop)
    emulator.faults.drop_connections = 0
    (pid,) = emulator.created
    assert exc.value.unsettled and exc.value.prediction_id == pid
    assert s.store.unsettled()[0]["prediction_id"] == pid


def test_recover_with_cancel_leaves_pending_a_run_whose_cancel_gets_no_answer(emulator, tmp_path):
    emulator.faults.slow_words = {"slow": 30.0}
    s = _session(emulator, tmp_path / "runs", wait=1)
    stop = threading.Event()
    when(lambda: any(r.get("prediction_id") for r in s.store.records()),
         _cut_the_cancels_then(stop, emulator))  # fmt: skip
    with pytest.raises(errors.CanceledError):
        s.generate("a slow lighthouse", cancel=stop)
    emulator.faults.drop_connections = 0
    (pid,) = emulator.created
    # the recovering cancel is cut too: the run stays pending, never closed "canceled"
    real = s.backend._cancel
    s.backend._cancel = lambda _pid: None  # type: ignore[method-assign]
    (line,) = nb2.recover(s.store, backend=s.backend, running="cancel")
    assert line["outcome"].startswith("left pending"), line
    s.backend._cancel = real  # type: ignore[method-assign]
    (line,) = nb2.recover(s.store, backend=s.backend, running="cancel")
    assert "canceled" in line["outcome"] and pid in emulator.canceled, line


def test_a_retry_collects_the_earlier_run_instead_of_paying_again(emulator, tmp_path):
    # a cell's create answer is lost and the list cannot be read: the cell fails, its run
    # stays pending. retry_failed() settles that run first (it is in the list now) and
    # stores its image: one create, one paid image
    emulator.faults.drop_create_responses = 1
    s = _session(emulator, tmp_path / "runs", lost_create_grace=0.1)
    restore = _unlisted(s)
    g = s.compare(prompt=["a lighthouse"])
    g.run()
    assert g.counts() == {"failed": 1} and "stays pending" in g.cells[0].error
    g.retry_failed()  # the list still down: refused, nothing sent again
    assert g.counts() == {"failed": 1} and "nothing was sent again" in g.cells[0].error
    assert len(emulator.created) == 1
    restore()
    g.retry_failed()
    assert g.counts() == {"cached": 1} or g.counts() == {"succeeded": 1}, g.counts()
    assert len(emulator.created) == 1 and len(_images(s.store)) == 1
    assert s.store.unsettled() == []


_KERNEL_UPLOADS = textwrap.dedent(
    """
    import sys, nb2
    b = nb2.ReplicateBackend(api_token=sys.argv[1], base_url=sys.argv[2], wait=5,
                             poll_interval=0.05, data_uri_limit=1000)
    nb2.Session(backend=b, store=sys.argv[3]).generate("a lighthouse", references=[sys.argv[4]])
    """
)


def test_recover_finds_an_orphan_whose_reference_the_dead_kernel_uploaded(
    emulator, tmp_path, images
):
    # the dead kernel uploaded its reference (its data_uri_limit was small); recover, with a
    # default backend that would have sent a data URI, still finds and stores the prediction
    emulator.faults.latency = 2.0
    store = tmp_path / "runs"
    kernel = subprocess.Popen(
        [sys.executable, "-c", _KERNEL_UPLOADS, TOKEN, emulator.base_url, str(store),
         str(images["palette"])],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        for _ in range(600):
            if emulator.created:
                break
            time.sleep(0.02)
    finally:
        kernel.kill()
        kernel.wait(10)
    (pid,) = emulator.created
    assert emulator.predictions[pid].input["image_input"][0].startswith("http")  # uploaded
    (line,) = nb2.recover(store, backend=_backend(emulator), running="wait")
    assert line["outcome"] == "collected and stored", line
    assert line["prediction_id"] == pid


def test_recover_leaves_a_run_pending_when_the_list_cannot_be_read(emulator, tmp_path):
    emulator.faults.drop_create_responses = 1
    s = _session(emulator, tmp_path / "runs", lost_create_grace=0.1)
    restore = _unlisted(s)
    with pytest.raises(errors.UncollectedError):
        s.generate("a lighthouse")
    (line,) = nb2.recover(s.store, backend=s.backend)
    assert line["outcome"].startswith("left pending: the server's prediction list"), line
    restore()
    (line,) = nb2.recover(s.store, backend=s.backend, running="wait")
    assert line["outcome"] == "collected and stored", line


def _wait_terminal(emu: Emulator, pid: str, limit: float = 15.0) -> str:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        p = emu.predictions[pid]
        emu.advance(p)
        if p.status in ("succeeded", "failed", "canceled", "aborted"):
            break
        time.sleep(0.05)
    return emu.predictions[pid].status


def test_a_stop_in_the_hold_never_takes_another_kernels_identical_prediction(emulator, tmp_path):
    # two sessions with backends of their own (as two kernels have) send the same request a
    # moment apart, and the second is stopped in its hold: the list shows two identical
    # predictions, so it waits for its own create's answer and cancels that one
    emulator.faults.latency = 2.0
    store = tmp_path / "runs"
    first, second = _session(emulator, store), _session(emulator, store)
    out: dict[str, Any] = {}

    def go(name: str, s: nb2.Session, **kw: Any) -> None:
        try:
            out[name] = s.generate("a lighthouse", fresh=True, **kw)
        except BaseException as exc:
            out[name] = exc

    a = threading.Thread(target=go, args=("first", first))
    a.start()
    for _ in range(400):
        if emulator.created:
            break
        time.sleep(0.01)
    stop = threading.Event()
    b = threading.Thread(target=go, args=("second", second), kwargs={"cancel": stop})
    b.start()
    for _ in range(400):
        if len(emulator.created) == 2:
            break
        time.sleep(0.01)
    stop.set()
    a.join(30)
    b.join(30)
    p_first, p_second = emulator.created
    assert p_first not in emulator.canceled and isinstance(out["first"], nb2.Result), out
    assert out["first"].record["prediction_id"] == p_first
    second = out["second"]
    if isinstance(second, nb2.Result):  # it finished before its own cancel: paid, so kept
        assert second.record["prediction_id"] == p_second
    else:
        assert isinstance(second, errors.CanceledError) and second.prediction_id == p_second
    status = _wait_terminal(emulator, p_second)
    records = {r["prediction_id"]: r["status"] for r in nb2.Store(store).records()}
    assert records[p_first] == "succeeded"
    assert (status, records[p_second]) in (
        ("canceled", "canceled"), ("succeeded", "succeeded"), ("succeeded", "pending"),
    ), (status, records)  # fmt: skip


def test_recover_never_gives_a_dead_run_the_prediction_of_a_live_identical_one(emulator, tmp_path):
    # a dead run with no id (its create was cut: nothing made) and a live identical run in
    # another kernel, in its hold: recover must not take the live one's prediction for it
    store = tmp_path / "runs"
    live = _session(emulator, store)
    dead = _session(emulator, store, lost_create_grace=0.1)
    emulator.faults.drop_connections = 1
    _unlisted(dead)
    with pytest.raises(errors.UncollectedError):
        dead.generate("a lighthouse")
    assert emulator.created == [] and len(nb2.Store(store).unsettled()) == 1
    emulator.faults.latency = 3.0
    got: dict[str, Any] = {}

    def go() -> None:
        try:
            got["r"] = live.generate("a lighthouse", fresh=True)
        except BaseException as exc:
            got["r"] = exc

    t = threading.Thread(target=go)
    t.start()
    for _ in range(400):
        if emulator.created:
            break
        time.sleep(0.01)
    report = nb2.recover(store, backend=_backend(emulator), running="cancel")
    t.join(20)
    (pid,) = emulator.created
    assert pid not in emulator.canceled, report
    assert isinstance(got["r"], nb2.Result), got["r"]
    dead_line = next(line for line in report if line["prediction_id"] != pid)
    assert "identical run is live" in dead_line["outcome"], report
    (line,) = nb2.recover(store, backend=_backend(emulator))  # once it ended: closed lost
    assert line["outcome"].startswith("recorded as lost"), line


def test_two_kernels_lost_answers_of_one_request_stay_pending_and_recover_keeps_both(
    emulator, tmp_path
):
    # two kernels send the same request at once and both answers are lost: each list shows
    # two identical predictions and neither can tell which is its own, so neither takes one;
    # both runs stay pending, and recover gives each its own prediction
    emulator.faults.drop_create_responses = 2
    store = tmp_path / "runs"
    kernels = [_session(emulator, store, lost_create_grace=1.0) for _ in range(2)]
    out: list[Any] = []

    def go(s: nb2.Session) -> None:
        try:
            out.append(s.generate("a lighthouse", fresh=True))
        except BaseException as exc:
            out.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in kernels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(emulator.created) == 2
    assert all(isinstance(e, errors.UncollectedError) and "several" in str(e) for e in out), out
    report = nb2.recover(store, backend=_backend(emulator), running="wait")
    assert [line["outcome"] for line in report] == ["collected and stored"] * 2, report
    assert {line["prediction_id"] for line in report} == set(emulator.created)
