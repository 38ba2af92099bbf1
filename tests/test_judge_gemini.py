"""The judge over the Gemini API (issue 34): the official SDK against the Gemini emulator, real
loopback HTTP. One call per image with the image inline and a JSON schema; exact cost from the
answer's tokens; a 429 tried again; a refusal and a malformed answer are named errors and lose
nothing already judged; a real SIGINT during a call keeps the paid answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import nb2
from nb2 import errors
from nb2.emulator import GeminiEmulator
from nb2.store.judgments import Judgments

from .sigint import sigint_at

KEY = "AIza-judge-test-key-0123456789"
JUDGE = "gemini-3.8-flash"


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    emu = GeminiEmulator().start()
    yield emu
    emu.stop()


def backend(emu: GeminiEmulator) -> nb2.GeminiBackend:
    return nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url)


def judge_bodies(emu: GeminiEmulator) -> list[dict]:
    return [b for b in emu.bodies if "responseSchema" in (b.get("generationConfig") or {})]


def test_one_call_per_image_with_the_image_inline_and_a_schema(gemu, tmp_path: Path):
    b = backend(gemu)
    r = nb2.Session(backend=b, store=tmp_path / "runs").generate("two red foxes on a log at night")
    j = r.judge(nb2.Judge(JUDGE, backend=b))
    [body] = judge_bodies(gemu)
    parts = body["contents"][0]["parts"]
    blob = parts[0]["inlineData"]  # the SDK writes mime_type; the API takes either spelling
    assert (blob.get("mimeType") or blob.get("mime_type")) in ("image/jpeg", "image/png")
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert "q3: Are there 2 foxes?" in parts[1]["text"]
    assert {q.kind: j.answers[q.id]["answer"] for q in j.questions} == {
        "entity": True, "attribute": True, "count": False, "relation": True, "light": True,
    }  # fmt: skip
    u = j.usage
    assert u is not None
    # exact, from the answer's tokens at the table's prices (0.75 in, 3.75 out per 1M)
    want = (u["promptTokenCount"] * 0.75 + u["candidatesTokenCount"] * 3.75) / 1e6
    assert j.cost == pytest.approx(want, abs=1e-6) and j.cost > 0
    assert u["promptTokenCount"] >= 4 * 258  # a 1K image is four 768 px tiles
    again = r.judge(nb2.Judge(JUDGE, backend=b))
    assert again.cached and gemu.judge_calls == 1  # stored: asking again costs nothing


def test_a_429_is_tried_again(gemu, tmp_path: Path):
    b = backend(gemu)
    r = nb2.Session(backend=b, store=tmp_path / "runs").generate("a blue kite on the sand")
    gemu.faults.throttle_next = 1
    j = r.judge(nb2.Judge(JUDGE, backend=b))
    assert j.score == 1.0 and gemu.judge_calls == 1


@pytest.mark.parametrize("knob", ["judge_refuse", "judge_junk"])
def test_a_refusal_or_a_malformed_answer_is_named_and_loses_nothing(gemu, tmp_path, knob):
    b = backend(gemu)
    s = nb2.Session(backend=b, store=tmp_path / "runs")
    g = s.compare(prompt=["a blue kite on the sand", "a cat under the table", "a red boat"])
    g.run()
    judge = nb2.Judge(JUDGE, backend=b)
    first = g.cells[0].result.judge(judge)  # judged before the fault
    setattr(gemu.faults, knob, 1)
    err = errors.ModerationError if knob == "judge_refuse" else errors.GenerationError
    with pytest.raises(err, match="billed") as e:
        g.judge(judge)
    assert knob != "judge_junk" or "not the JSON asked for" in str(e.value)
    assert Judgments(s.store).score(first.key) is not None  # still there
    plan = g.judge(judge, plan=True)
    # the calls already sent were stored; only the refused or malformed one is left to ask
    assert (plan.cached, plan.calls) == (gemu.judge_calls - 1, 3 - (gemu.judge_calls - 1))
    calls = gemu.judge_calls
    report = g.judge(judge)  # the fault spent: the rest is judged now
    assert len(report) == 3 and gemu.judge_calls == calls + plan.calls


def test_a_real_sigint_during_a_call_keeps_the_paid_answer(gemu, tmp_path: Path):
    b = backend(gemu)
    r = nb2.Session(backend=b, store=tmp_path / "runs").generate("a red fox on a log")
    gemu.faults.latency = 1.0
    judge = nb2.Judge(JUDGE, backend=b)
    with pytest.raises(KeyboardInterrupt), sigint_at(0.3):
        r.judge(judge)
    stored = Judgments(r.store).score(judge.key(r))
    assert stored is not None and stored["cost"] > 0  # waited for, stored, then stopped
    assert r.judge(judge).cached and gemu.judge_calls == 1


def test_bad_input_is_named_before_any_call(gemu, tmp_path: Path, monkeypatch):
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(errors.Nb2Error, match="GEMINI_API_KEY"):
        nb2.Judge(JUDGE)  # no key: named, nothing sent
    b = backend(gemu)
    s = nb2.Session(backend=b, store=tmp_path / "runs")
    g = s.compare(prompt=["a kite", "a boat"])
    with pytest.raises(errors.ValidationError, match="no image yet"):
        g.judge(nb2.Judge(JUDGE, backend=b))
    assert gemu.judge_calls == 0 and json.dumps(judge_bodies(gemu)) == "[]"


def _grid48(s: nb2.Session):
    return s.compare(
        prompt=["a red fox on a log", "two green apples in a bowl", "a boat at night"],
        resolution=["1K", "2K"],
        aspect_ratio=["1:1", "16:9", "3:2", "9:16", "2:3", "4:3", "3:4", "21:9"],
    )  # fmt: skip


def test_a_48_cell_grid_is_judged_eight_at_a_time_and_then_all_cached(gemu, tmp_path: Path):
    b = backend(gemu)
    g = _grid48(nb2.Session(backend=b, store=tmp_path / "runs"))
    g.run()
    judge = nb2.Judge(JUDGE, backend=b)
    plan = g.judge(judge, plan=True)
    assert (plan.images, plan.calls, plan.cached) == (48, 48, 0) and plan.cost > 0
    gemu.faults.latency = 0.2
    report = g.judge(judge)
    assert len(report) == 48 and gemu.judge_calls == 48
    assert sum(j.cost for _, j in report.judgments) == pytest.approx(plan.cost, rel=0.5)
    again = g.judge(judge)
    assert gemu.judge_calls == 48 and all(j.cached for _, j in again.judgments)


def test_a_real_sigint_during_a_grid_judge_pays_for_nothing_it_drops(gemu, tmp_path: Path):
    b = backend(gemu)
    g = _grid48(nb2.Session(backend=b, store=tmp_path / "runs"))
    g.run()
    judge = nb2.Judge(JUDGE, backend=b)
    gemu.faults.latency = 0.5
    with pytest.raises(KeyboardInterrupt), sigint_at(0.8):
        g.judge(judge)
    made = gemu.judge_calls
    assert 0 < made < 48
    assert g.judge(judge, plan=True).cached == made  # every answer paid for is stored
