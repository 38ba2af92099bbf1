"""The Gemini API's money paths hold as Replicate's do (issue 32): a bad batch line fails its
own run alone; a re-run after a crash never creates a second job; a live batch is held from
other kernels; a silent usage keeps the estimate; no key is ever echoed; a Ctrl-C keeps what
had finished, and a cell is "not billed" only when the job's counts say so; two final images
are two results, and a refusal's billed tokens are recorded. Over the official SDK against
the Gemini emulator, with real signals and real second processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nb2
from nb2 import errors, models
from nb2.emulator import GeminiEmulator

from .sigint import sigint_at, when

KEY = "AIza-money-test-key-0123456789"
NB21 = "gemini-nano-banana-2.1"


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    emu = GeminiEmulator(batch_latency=0.3).start()
    yield emu
    emu.stop()


def backend(emu: GeminiEmulator, **kw: Any) -> nb2.GeminiBackend:
    return nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url, batch_poll=0.05, **kw)


def session(emu: GeminiEmulator, root: Path, **kw: Any) -> nb2.Session:
    return nb2.Session(backend=backend(emu), store=root, **kw)


def statuses(root: Path) -> list[str]:
    return sorted(r["status"] for r in nb2.Store(root).records())


def child(emu: GeminiEmulator, root: Path, body: str) -> subprocess.Popen:
    """Another kernel: a Python process on the same store and the same account."""
    code = textwrap.dedent(f"""
        import os, sys, nb2
        b = nb2.GeminiBackend(api_key={KEY!r}, base_url={emu.base_url!r}, batch_poll=0.05)
        root = {str(root)!r}
    """) + textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": str(Path(nb2.__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip


# -- 1. one bad line ---------------------------------------------------------------------------
@pytest.mark.parametrize("junk", ["html", "json", "utf8", "base64", "list"])
def test_one_bad_line_fails_its_own_run_and_blocks_nothing(gemu, tmp_path: Path, junk: str):
    root = tmp_path / "runs"
    gemu.faults.batch_junk = (junk,)
    g = session(gemu, root).compare(prompt=["a fox", "a hare", "a lynx", "a wolf"])
    g.run(batch=True)
    assert g.counts() == {"succeeded": 3, "failed": 1}  # the 3 good, billed answers are kept
    [bad] = [c for c in g.cells if c.status == "failed"]
    assert "billed" in bad.error
    assert nb2.recover(root, backend=backend(gemu)) == []  # nothing left for it, no raise
    assert nb2.Session(backend=backend(gemu), store=root).store is not None  # it opens
    assert statuses(root) == ["failed", "succeeded", "succeeded", "succeeded"]


# -- 2. a re-run after a crash -----------------------------------------------------------------
def test_a_rerun_after_a_dead_kernel_does_not_create_a_second_job(gemu, tmp_path: Path):
    root = tmp_path / "runs"
    gemu.faults.batch_latency = 3.0
    died = child(
        gemu,
        root,
        """
        g = nb2.Session(backend=b, store=root).compare(prompt=["a fox", "a hare"])
        g.run(batch=True, on_progress=lambda grid: os._exit(3))  # the job is named on disk
    """,
    )
    assert died.wait(60) == 3 and len(gemu.batches) == 1
    s = session(gemu, root)
    g = s.compare(prompt=["a fox", "a hare"])
    with pytest.raises(errors.UncollectedError):  # its job still runs: it is not sent again
        g.run(batch=True)
    assert len(gemu.batches) == 1
    [job] = gemu.batches.values()
    when(lambda: job.finished is not None, lambda: None)
    time.sleep(job.done_at - gemu.clock() + 0.2 if job.done_at > gemu.clock() else 0.2)
    again = s.compare(prompt=["a fox", "a hare"])
    again.run(batch=True)  # now the dead kernel's job is collected, and nothing is sent
    assert again.counts() == {"succeeded": 2} and len(gemu.batches) == 1
    assert statuses(root) == ["succeeded", "succeeded"]


# -- 3. a live batch is held -------------------------------------------------------------------
def test_another_kernels_recover_and_session_leave_a_live_batch_alone(gemu, tmp_path: Path):
    root = tmp_path / "runs"
    gemu.faults.batch_latency = 2.5
    s = session(gemu, root)
    g = s.compare(prompt=["a fox", "a hare", "a lynx"])
    other: list[subprocess.Popen] = []

    def meddle(grid: Any) -> None:  # once the job is named, another kernel wakes up
        if not other:
            other.append(
                child(
                    gemu,
                    root,
                    """
                import json
                nb2.Session(backend=b, store=root)  # opening recovers what it may
                report = nb2.recover(root, backend=b, running="cancel")
                print(json.dumps([line["outcome"] for line in report]))
            """,
                )
            )
            out, _ = other[0].communicate(timeout=60)
            other.append(json.loads(out.strip().splitlines()[-1]))

    g.run(batch=True, on_progress=meddle)
    outcomes = other[1]
    assert outcomes and all(o.startswith("running in another process") for o in outcomes)
    [job] = gemu.batches.values()
    assert job.cancelled is None and g.counts() == {"succeeded": 3}


# -- 4. a usage that says too little ------------------------------------------------------------
@pytest.mark.parametrize("usage", ["empty", "no_details"])
def test_a_silent_usage_keeps_the_estimate_not_an_exact_zero(gemu, tmp_path: Path, usage: str):
    gemu.faults.usage = usage
    r = session(gemu, tmp_path / "runs").generate("a red fox")
    assert "cost" not in r.record and "usage does not say" in r.record["cost_note"]
    assert r.cost == r.record["estimated_cost"] == pytest.approx(0.0336)
    assert nb2.store_stats(tmp_path / "runs").spend == pytest.approx(0.0336)


# -- 5. the key is never echoed ----------------------------------------------------------------
def test_a_key_a_gateway_echoes_is_nowhere_nb2_writes(gemu, tmp_path: Path):
    root = tmp_path / "runs"
    gemu.faults.echo_key_next = 1
    s = session(gemu, root)
    with pytest.raises(errors.Nb2Error) as err:
        s.generate("a red fox")
    assert KEY in json.dumps(list(gemu.keys_seen))  # the server did get it, and echoed it
    assert KEY not in str(err.value) and KEY not in repr(err.value)
    assert "***" in str(err.value)
    for path in root.rglob("*.json"):
        assert KEY not in path.read_text()


def test_a_key_in_the_base_url_is_not_shown(gemu, tmp_path: Path):
    host = gemu.base_url.removeprefix("http://")
    b = nb2.GeminiBackend(api_key=KEY, base_url=f"http://user:{KEY}@{host}")
    assert KEY not in repr(b) and KEY not in json.dumps(b.describe())
    r = nb2.Session(backend=b, store=tmp_path / "runs").generate("a red fox")
    assert KEY not in json.dumps(r.record) and "***@" in r.record["backend"]["base_url"]


# -- 6. what finished before a Ctrl-C ------------------------------------------------------------
@pytest.mark.parametrize("handed_back", [True, False])
def test_a_ctrl_c_keeps_what_had_finished(gemu, tmp_path: Path, handed_back: bool):
    root = tmp_path / "runs"
    gemu.faults.latency, gemu.faults.batch_latency = 0.25, 0.1
    gemu.faults.cancelled_output = handed_back
    g = session(gemu, root).compare(prompt=[f"a fox, take {i}" for i in range(8)])

    def three_ran() -> bool:
        return any(sum(r is not None for r in b.results) >= 3 for b in gemu.batches.values())

    with pytest.raises(KeyboardInterrupt), sigint_at(30.0) as sent:  # 30 s: only a guard
        when(three_ran, lambda: os.kill(os.getpid(), signal.SIGINT))  # as Jupyter sends it
        g.run(batch=True)
    assert not sent  # the signal was `when`'s, at the state it names
    nb2.recover(root, backend=backend(gemu), running="wait")
    [job] = gemu.batches.values()
    ran = sum(r is not None for r in job.results)
    got = statuses(root)
    assert 3 <= ran < 8
    if handed_back:  # only what never ran is free
        assert got.count("succeeded") == ran and got.count("canceled") == 8 - ran
    else:  # the counts say `ran` succeeded, none came back: which is unknown, so none is free
        assert got == ["lost"] * 8
        assert f"says {ran} requests succeeded" in next(iter(nb2.Store(root).records()))["error"]


# -- 7. two images, and a refusal's tokens -------------------------------------------------------
@pytest.mark.parametrize("batch", [False, True])
def test_two_final_images_are_two_results(gemu, tmp_path: Path, batch: bool):
    gemu.faults.images_per_answer = 2
    s = session(gemu, tmp_path / "runs")
    if batch:
        g = s.compare(prompt=["a red fox"])
        g.run(batch=True)
        record = g.cells[0].result.record
    else:
        record = s.generate("a red fox").record
    [sibling] = record["siblings"]
    sib = s.store.get(sibling)
    assert sib["status"] == "succeeded" and sib["sibling_of"] == record["run_id"]
    assert s.store.root.joinpath(sib["output"]["file"]).exists()
    assert sib["estimated_cost"] == 0.0 and record["usage"]  # paid once, on the first


@pytest.mark.parametrize("word", ["[no_image]", "[image_other]"])
def test_a_refusal_records_the_tokens_it_billed(gemu, tmp_path: Path, word: str):
    s = session(gemu, tmp_path / "runs")
    with pytest.raises(errors.ModerationError):
        s.generate(f"a red fox {word}")
    [record] = [r for r in s.store.records() if r["status"] == "blocked"]
    assert record["usage"]["promptTokenCount"] > 0
    if word == "[no_image]":  # it thought and answered in words: both billed
        assert record["usage"]["thoughtsTokenCount"] > 0
    assert record["cost"] == models.token_cost(NB21, record["usage"], image=False) > 0


# -- real signals across submit, collect and cancel ---------------------------------------------
def test_twenty_real_sigints_across_a_batchs_life_lose_nothing_and_pay_once(gemu, tmp_path):
    """20 real SIGINTs at random moments (the upload, the create, the polls, the cancel, the
    collect); after each, recover: every answer the server made is stored, every run the
    server never ran is canceled, no job is made twice for one interrupted grid."""
    gemu.faults.latency, gemu.faults.batch_latency = 0.05, 0.1
    rng = random.Random(32)
    signals = 0
    for round_ in range(80):
        if signals >= 20:
            break
        root = tmp_path / f"runs{round_}"
        before = len(gemu.batches)
        g = session(gemu, root).compare(prompt=[f"a fox {round_} {i}" for i in range(3)])
        try:
            with sigint_at(rng.uniform(0.0, 0.4)) as sent:
                g.run(batch=True)
        except KeyboardInterrupt:
            pass
        signals += bool(sent)
        nb2.recover(root, backend=backend(gemu), running="wait")
        made = list(gemu.batches.values())[before:]
        assert len(made) <= 1  # never a second job
        got = statuses(root)
        assert "pending" not in got and "running" not in got
        ran = sum(r is not None for b in made for r in b.results)
        assert got.count("succeeded") == ran  # every answer the server made is stored
        if made:  # each cell settled: stored, or canceled before it ran
            assert got.count("succeeded") + got.count("canceled") == 3, got
        else:  # stopped before the job existed: nothing was made, nothing is owed
            assert set(got) <= {"lost", "failed", "canceled"}, got
    assert signals >= 20
