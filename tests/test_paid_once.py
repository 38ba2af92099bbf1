"""One request, paid once, across Sessions and kernels on one store; and a request whose
earlier run was lost after it may have been billed says so before it is paid again. Over the
official SDK against the Gemini emulator, with real second processes (issue 32's probes)."""

from __future__ import annotations

import subprocess
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

import nb2
from nb2 import errors
from nb2.emulator import GeminiEmulator

from .test_gemini_money import backend, child, session, statuses


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    emu = GeminiEmulator(batch_latency=0.3).start()
    yield emu
    emu.stop()


def test_two_sessions_in_one_kernel_send_an_identical_request_once(gemu, tmp_path: Path):
    root = tmp_path / "runs"
    gemu.faults.latency = 0.8
    a, b = session(gemu, root), session(gemu, root)
    results: dict[str, nb2.Result] = {}
    threads = [
        threading.Thread(target=lambda s=s, n=n: results.__setitem__(n, s.generate("a fox")))
        for n, s in (("a", a), ("b", b))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert gemu.generate_calls == 1  # the second waited, then read the store
    assert results["a"].path == results["b"].path and results["a"].id == results["b"].id
    assert statuses(root) == ["succeeded"]


def test_a_kernel_waits_for_another_making_the_same_call(gemu, tmp_path: Path):
    root = tmp_path / "runs"
    gemu.faults.latency = 2.0
    other = child(
        gemu,
        root,
        """
        print("sending", flush=True)
        nb2.Session(backend=b, store=root).generate("a fox")
        print("done", flush=True)
    """,
    )
    assert other.stdout is not None and other.stdout.readline().strip() == "sending"
    # its run is journaled and held before its call goes out
    while not any(r["status"] == "running" for r in nb2.Store(root).records()):
        assert other.poll() is None
    mine = session(gemu, root).generate("a fox")
    assert other.wait(60) == 0
    assert gemu.generate_calls == 1 and mine.cached  # read from the store, not paid again
    assert statuses(root) == ["succeeded"]


def _lose_one(gemu, root: Path) -> None:
    """A kernel that dies during a call; recover then closes its run as lost (maybe billed)."""
    gemu.faults.latency = 3.0
    died = child(
        gemu,
        root,
        """
        import threading, time
        threading.Thread(target=lambda: (time.sleep(1.0), os._exit(3)), daemon=True).start()
        nb2.Session(backend=b, store=root).generate("a fox")
    """,
    )
    assert died.wait(60) == 3
    [line] = nb2.recover(root, backend=backend(gemu))
    assert line["outcome"].startswith("recorded as lost")
    gemu.faults.latency = 0.0


def test_a_request_lost_after_it_may_have_been_billed_warns_before_it_is_paid_again(
    gemu, tmp_path: Path
):
    root = tmp_path / "runs"
    _lose_one(gemu, root)
    s = session(gemu, root)
    plan = s.compare(prompt=["a fox", "a hare"]).plan()
    assert plan.paid_before == 1 and "paid before:   1 of the new calls" in repr(plan)
    with pytest.warns(errors.PaidAgainWarning, match="1 request"):
        s.generate("a fox")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stored now: a second ask is a cache hit, no warning
        assert s.generate("a fox").cached
        s.generate("a hare")  # never lost: no warning


def test_a_batch_says_which_cells_were_lost_before(gemu, tmp_path: Path):
    root = tmp_path / "runs"
    _lose_one(gemu, root)
    g = session(gemu, root).compare(prompt=["a fox", "a hare"])
    assert g.plan(batch=True).paid_before == 1
    with pytest.warns(errors.PaidAgainWarning, match="1 request"):
        g.run(batch=True)
    assert g.counts() == {"succeeded": 2}
    assert statuses(root) == ["lost", "succeeded", "succeeded"]


def test_a_read_only_store_fails_a_batchs_cells_before_anything_is_sent(gemu, small_disk):
    root = small_disk / "runs"
    nb2.Store(root)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    g = session(gemu, root).compare(prompt=["a fox", "a hare"])
    with pytest.raises(errors.StoreError, match="nothing was sent"):
        g.run(batch=True)
    assert gemu.batches == {} and gemu.generate_calls == 0
    assert g.counts() == {"failed": 2}  # not "pending": nothing is left for recover to find
    assert all("not sent" in c.error and "cannot be written" in c.error for c in g.cells)
