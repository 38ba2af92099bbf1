"""A judge whose model decomposes the prompts (issue 34, ``Judge(..., questions="model")``):
through the official SDK against the Gemini emulator, real loopback HTTP. One text-only call per
prompt however many images of it are judged at once, stored by (model, prompt) so a second
kernel asks none; the plan counts the decompositions and their cost before anything is sent;
a malformed or refused decomposition is a named error with nothing lost; a real SIGINT during
one keeps the paid answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import nb2
from nb2 import errors
from nb2.emulator import GeminiEmulator
from nb2.judging import decompose
from nb2.judging.questions import decompose as by_rules
from nb2.models import judges
from nb2.store.judgments import Judgments

from .sigint import sigint_at

KEY = "AIza-judge-test-key-0123456789"
JUDGE = "gemini-3.8-flash"
PROMPTS = ["a red fox on a log", "two green apples in a bowl", "a boat at night"]


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    emu = GeminiEmulator().start()
    yield emu
    emu.stop()


def backend(emu: GeminiEmulator) -> nb2.GeminiBackend:
    return nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url)


def decompose_bodies(emu: GeminiEmulator) -> list[dict]:
    def schema(b: dict) -> str:
        return json.dumps((b.get("generationConfig") or {}).get("responseSchema"))

    return [b for b in emu.bodies if "questions" in schema(b)]


def s_report_cost(judgments: list) -> float | None:
    from nb2.judging.judged import JudgeReport

    return JudgeReport([({}, j) for j in judgments], "judged").cost


def grid48(s: nb2.Session):
    ratios = ["1:1", "16:9", "3:2", "9:16", "2:3", "4:3", "3:4", "21:9"]
    return s.compare(prompt=PROMPTS, resolution=["1K", "2K"], aspect_ratio=ratios)


def test_a_48_cell_grid_decomposes_each_prompt_once_and_a_second_kernel_asks_nothing(
    gemu, tmp_path: Path
):
    b = backend(gemu)
    store = tmp_path / "runs"
    g = grid48(nb2.Session(backend=b, store=store))
    g.run()
    made = gemu.generate_calls  # the grid's own 48 images
    judge = nb2.Judge(JUDGE, backend=b, questions="model")
    plan = g.judge(judge, plan=True)
    assert (plan.images, plan.decompose, plan.calls, plan.cached) == (48, 3, 51, 0)
    assert "3 prompt(s) to decompose first" in repr(plan) and gemu.generate_calls == made
    gemu.faults.latency = 0.2  # so the 16 images of a prompt are asked while it is decomposed
    report = g.judge(judge)
    assert (gemu.decompose_calls, gemu.judge_calls) == (3, 48)  # once a prompt, not once an image
    body = decompose_bodies(gemu)[0]
    [part] = body["contents"][0]["parts"]  # text only: no image in a decomposition
    assert part["text"].startswith(decompose.MARK) and "inlineData" not in json.dumps(body)
    # every image of a prompt was asked the questions stored for it, and they are the model's
    stored = {p: Judgments(g.cells[0].result.store).questions(judge._qkey(p)) for p in PROMPTS}
    prompt_of = {c.result.id: c.result.params.prompt for c in g.cells}
    for _, j in report.judgments:
        assert [q.to_dict() for q in j.questions] == stored[prompt_of[j.run_id]]["questions"]
        assert j.version == f"model-1:{JUDGE}"
    # the bill: each image's call and the three decompositions, exact from their usage
    paid = [rec["cost"] for rec in stored.values()]
    for rec in stored.values():
        u = rec["usage"]
        assert rec["cost"] == pytest.approx(
            (u["promptTokenCount"] * 0.75 + u["candidatesTokenCount"] * 3.75) / 1e6, abs=1e-6
        )
    for _, j in report.judgments:  # each carries its decomposition's cost; the report counts
        assert j.questions_cost == stored[prompt_of[j.run_id]]["cost"]  # each one once
    assert report.cost == pytest.approx(sum(j.cost for _, j in report.judgments) + sum(paid))
    assert report.cost == pytest.approx(plan.cost, rel=0.5)
    # a second kernel: a new judge on the same store asks nothing at all
    other = nb2.Judge(JUDGE, backend=b, questions="model")
    again = g.judge(other, plan=True)
    assert (again.cached, again.decompose, again.calls) == (48, 0, 0)
    assert all(j.cached for _, j in g.judge(other).judgments)
    assert gemu.generate_calls == made + 51


def test_model_questions_and_rule_questions_are_separate_judgments(gemu, tmp_path: Path):
    b = backend(gemu)
    r = nb2.Session(backend=b, store=tmp_path / "runs").generate("two red foxes on a log at night")
    by_model = r.judge(nb2.Judge(JUDGE, backend=b, questions="model"))
    by_rule = r.judge(nb2.Judge(JUDGE, backend=b))
    assert by_model.key != by_rule.key and not by_rule.cached  # never mixed in one key
    assert gemu.judge_calls == 2 and gemu.decompose_calls == 1
    # the emulator answers as the stand-in would: the rules' questions, coherent answers
    assert [q.text for q in by_model.questions] == [q.text for q in by_rules(r.params.prompt)]
    assert by_model.score == by_rule.score


@pytest.mark.parametrize("knob", ["judge_junk", "judge_refuse"])
def test_a_bad_decomposition_is_named_and_nothing_is_asked_of_the_image(gemu, tmp_path, knob):
    b = backend(gemu)
    s = nb2.Session(backend=b, store=tmp_path / "runs")
    first = s.generate("a blue kite on the sand").judge(nb2.Judge(JUDGE, backend=b))
    r = s.generate("a cat under the table")
    judge = nb2.Judge(JUDGE, backend=b, questions="model")
    setattr(gemu.faults, knob, 1)
    err = errors.ModerationError if knob == "judge_refuse" else errors.GenerationError
    with pytest.raises(err, match="billed") as e:
        r.judge(judge)
    assert "decompose" in str(e.value) or "questions are not the JSON" in str(e.value)
    assert gemu.judge_calls == 1  # the image was not asked questions nobody has
    assert judge.questions(r.params.prompt, r.store) is None  # nothing half-made stored
    assert Judgments(s.store).score(first.key) is not None  # what was judged stays
    assert r.judge(judge).score > 0 and gemu.decompose_calls == 2  # the fault spent


def test_a_real_sigint_during_a_decomposition_keeps_the_paid_answer(gemu, tmp_path: Path):
    b = backend(gemu)
    r = nb2.Session(backend=b, store=tmp_path / "runs").generate("a red fox on a log")
    gemu.faults.latency = 1.0
    judge = nb2.Judge(JUDGE, backend=b, questions="model")
    with pytest.raises(KeyboardInterrupt), sigint_at(0.3):
        r.judge(judge)
    assert gemu.decompose_calls == 1 and gemu.judge_calls == 0  # stopped before the image
    fresh = nb2.Judge(JUDGE, backend=b, questions="model")  # a restarted kernel
    kept = Judgments(r.store).questions(fresh._qkey(r.params.prompt))
    assert kept is not None and kept["cost"] > 0  # waited for and stored, then stopped
    gemu.faults.latency = 0.0
    after = r.judge(fresh)  # the image asked now; the decomposition paid before is on its bill
    assert after.questions_cost == kept["cost"] and gemu.decompose_calls == 1
    assert s_report_cost([after]) == pytest.approx(after.cost + kept["cost"])


def test_the_first_decomposition_stored_is_the_one_everyone_asks(tmp_path: Path):
    store = nb2.Store(tmp_path / "runs")
    j = Judgments(store)
    key = "ab" * 32
    fox = {"id": "q1", "text": "Is there a fox?", "kind": "entity", "subject": "fox",
           "value": "fox", "parent": None}  # fmt: skip
    mine = {"questions": [fox], "cost": 0.001}
    theirs = {**mine, "questions": [{**mine["questions"][0], "text": "A fox?"}]}
    assert j.put_questions(key, mine)["questions"] == mine["questions"]
    # a second kernel's paid answer, made at the same time: kept beside, the first one asked
    assert j.put_questions(key, theirs)["questions"] == mine["questions"]
    assert len(list((store.root / "judgments" / "questions" / key).glob("*.json"))) == 2


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ('{"questions": []}', "1 to 24 questions"),
        ("not json", "not JSON"),
        (
            '{"questions": [{"id": "q2", "text": "x", "kind": "entity", "subject": "", '
            '"value": "", "parent": null}]}',
            "not q1",
        ),
        (
            '{"questions": [{"id": "q1", "text": "x", "kind": "mood", "subject": "", '
            '"value": "", "parent": null}]}',
            "kind 'mood'",
        ),
        (
            '{"questions": [{"id": "q1", "text": "x", "kind": "entity", "subject": "", '
            '"value": "", "parent": "q3"}]}',
            "parent 'q3'",
        ),
    ],
)
def test_a_decomposition_is_checked_before_it_counts(answer: str, why: str):
    with pytest.raises(errors.GenerationError, match=why):
        decompose.read(answer, JUDGE)


def test_bad_choices_are_named_before_any_call(gemu, tmp_path: Path):
    with pytest.raises(errors.ValidationError, match="stand-in answers only") as e:
        nb2.Judge("offline", questions="model")
    assert e.value.field == "questions"
    with pytest.raises(errors.ValidationError, match="questions='llm'"):
        nb2.Judge(JUDGE, backend=backend(gemu), questions="llm")
    judge = nb2.Judge(JUDGE, backend=backend(gemu), questions="model")
    with pytest.raises(errors.ValidationError, match="empty"):
        judge.questions("  ")
    s = nb2.Session(backend=backend(gemu), store=tmp_path / "runs")
    with pytest.raises(errors.ValidationError, match="no image yet"):
        s.compare(prompt=["a kite", "a boat"]).judge(judge)
    assert gemu.generate_calls == 0
    assert judges.estimate_decompose(JUDGE, 2) == pytest.approx(2 * (250 * 0.75 + 150 * 3.75) / 1e6)


def test_a_refused_decomposition_is_paid_once_not_once_a_waiting_image(gemu, tmp_path: Path):
    b = backend(gemu)
    g = nb2.Session(backend=b, store=tmp_path / "runs").compare(
        prompt=["a red fox on a log"], aspect_ratio=["1:1", "16:9", "3:2", "9:16"], repeat=4
    )
    g.run()
    gemu.faults.judge_refuse, gemu.faults.latency = 100, 0.3  # every call refused, slowly
    with pytest.raises(errors.ModerationError, match="billed"):
        g.judge(nb2.Judge(JUDGE, backend=b, questions="model"))  # 16 images, 8 at once
    assert gemu.decompose_calls == 1 and gemu.judge_calls == 0  # the waiters heard it


def test_a_real_sigint_while_a_grid_waits_on_its_decomposition_sends_no_image(gemu, tmp_path: Path):
    b = backend(gemu)
    g = nb2.Session(backend=b, store=tmp_path / "runs").compare(
        prompt=["a red fox on a log"], aspect_ratio=["1:1", "16:9", "3:2", "9:16"], repeat=4
    )
    g.run()
    gemu.faults.latency = 1.0
    with pytest.raises(KeyboardInterrupt), sigint_at(0.3):
        g.judge(nb2.Judge(JUDGE, backend=b, questions="model"))
    assert gemu.decompose_calls == 1 and gemu.judge_calls == 0  # the paid one kept, no more sent
    assert g.judge(nb2.Judge(JUDGE, backend=b, questions="model"), plan=True).decompose == 0
