"""The automatic judge (issue 34, its offline part): a prompt's questions, the stand-in's answers
read from what it drew, stored judgments that replay, a 48-cell grid planned and judged, an
interrupted run that keeps what was answered, and the agreement with people's duel choices."""

from __future__ import annotations

from pathlib import Path

import pytest

import nb2
from nb2 import errors
from nb2.judging.judge import stand_in_answers
from nb2.judging.questions import Question, decompose
from nb2.store.judgments import Judgments


def session(tmp_path: Path) -> nb2.Session:
    return nb2.Session(store=tmp_path / "runs")


def test_a_prompt_becomes_questions_parents_first():
    prompt = 'two blue ceramic jars on a marble table at golden hour, a label says "JAM"'
    got = [(q.id, q.kind, q.value, q.parent) for q in decompose(prompt)]
    assert got == [
        ("q1", "entity", "ceramic jars", None),
        ("q2", "attribute", "blue", "q1"),
        ("q3", "count", "2", "q1"),
        ("q4", "relation", "on marble table", "q1"),
        ("q5", "text", "JAM", None),
        ("q6", "light", "warm", None),
    ]
    assert [q.text for q in decompose("an owl in two green trees")] == [
        "Does the image show an owl?",
        "Is the owl in the green trees?",
    ]


@pytest.mark.parametrize("prompt", ["", "   ", None])
def test_an_empty_prompt_is_a_named_error(prompt):
    with pytest.raises(errors.ValidationError) as e:
        decompose(prompt)  # type: ignore[arg-type]
    assert e.value.field == "prompt"


def test_a_child_is_not_asked_when_its_parent_failed():
    qs = [
        Question("q1", "Is the cat under the table?", "relation", "cat", "under table"),
        Question("q2", 'Does the image show the text "HI"?', "text", "", "HI", "q1"),
    ]
    answers = stand_in_answers(qs, 'a cat under the table says "HI"', (1024, 1024))
    assert answers["q1"]["answer"] is False  # the stand-in draws no "under"
    assert answers["q2"] == {"answer": None, "reason": "not asked: q1 failed"}


def test_the_stand_in_answers_as_it_drew(tmp_path: Path):
    s = session(tmp_path)
    r = s.generate('two red and green lamps on a desk at night, a sign says "OPEN"')
    j = r.judge()
    answers = {q.kind + ":" + q.value: j.answers[q.id]["answer"] for q in j.questions}
    assert answers == {
        "entity:lamps": True,
        "attribute:red": True,  # the subject takes the first colour named
        "attribute:green": False,
        "count:2": False,  # it draws one subject
        "relation:on desk": True,  # a surface under it
        "text:OPEN": True,  # in the caption's visible lines
        "light:dark": True,
    }
    assert j.score == pytest.approx(5 / 7) and "stand-in" in j.note
    assert [q.value for q in j.failed] == ["green", "2"]
    # text past the caption's three lines is not in the picture, so not there
    long = s.generate(
        "a lamp " + "in a quiet room with plants and books and " * 6 + 'a sign says "LATE"'
    )
    [text] = [q for q in long.judge().questions if q.kind == "text"]
    assert long.judge().answers[text.id]["answer"] is False


def test_a_judgment_is_stored_and_replays(tmp_path: Path):
    s = session(tmp_path)
    r = s.generate("a blue kite on the sand")
    first = r.judge()
    assert not first.cached
    again = nb2.Session(store=tmp_path / "runs").generate("a blue kite on the sand").judge()
    assert again.cached and again.answers == first.answers and again.score == first.score
    assert Judgments(r.store).score(first.key)["run_id"] == r.id


def test_a_48_cell_grid_is_planned_judged_and_then_all_cached(tmp_path: Path):
    s = session(tmp_path)
    g = s.compare(prompt=["a red fox on a log", "two green apples in a bowl", "a boat at night"],
                  resolution=["1K", "2K"], aspect_ratio=["1:1", "16:9", "3:2", "9:16"],
                  output_format=["jpg", "png"])  # fmt: skip
    before = g.judge(plan=True)
    assert (before.images, before.missing) == (0, 48) and "run the grid first" in repr(before)
    with pytest.raises(errors.ValidationError, match="48 cell"):
        g.judge()  # no image yet: a named error, nothing asked
    g.run()
    plan = g.judge(plan=True)
    assert (plan.images, plan.cached, plan.calls, plan.cost) == (48, 0, 0, 0.0)
    assert plan.questions == 16 * (3 + 4 + 2)  # each prompt's questions, per cell
    report = g.judge()
    assert len(report) == 48 and len(report.scores) == 48
    assert g.judge(plan=True).cached == 48
    assert all(j.cached for _, j in g.judge().judgments)
    mean, low, high = report.mean()
    assert low <= mean <= high and mean == pytest.approx(sum(report.scores.values()) / 48)
    assert report.weakest(3)[0]["score"] == min(report.scores.values())


def test_an_interrupted_judge_run_keeps_what_was_answered(tmp_path: Path):
    g = session(tmp_path).compare(
        prompt=["a red fox on a log", "a boat at night"],
        resolution=["1K", "2K"],
        aspect_ratio=["1:1", "16:9", "3:2"],
    )
    g.run()

    def stop(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        g.judge(on_progress=stop)
    assert g.judge(plan=True).cached == 5


def test_the_offline_judge_reads_only_offline_images(tmp_path: Path, backend):
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    r = s.generate("a red fox")
    with pytest.raises(errors.ValidationError, match="offline stand-in drew"):
        r.judge()
    with pytest.raises(errors.ValidationError) as e:
        nb2.Judge("gpt-vision")
    assert e.value.field == "model" and e.value.allowed == [
        "offline",
        "gemini-3.8-flash",
        "gemini-3.5-flash",
    ]


def test_agreement_with_people(tmp_path: Path):
    s = session(tmp_path)
    runs = [s.generate(p) for p in ["a red fox on a log", "two red foxes", "a red fox in a tree"]]
    scores = {r.id: r.judge().score for r in runs}  # 1.0, 2/3 (one fox), 2/3 (not "in")
    assert list(scores.values()) == [1.0, pytest.approx(2 / 3), pytest.approx(2 / 3)]
    js = Judgments(s.store)
    a, b, c = (r.id for r in runs)
    js.choose("d", a, b, "left")  # people prefer a over b: the judge agrees
    js.choose("d", c, a, "right")  # a over c: agrees
    js.choose("d", b, c, "left")  # b over c: the judge scored them equal, half
    js.choose("d", a, b, "right")  # b over a: disagrees
    js.choose("d", a, c, "tie")  # says nothing
    got = nb2.agreement(scores, js.choices("d"))
    assert got.pairs == 4 and got.accuracy == pytest.approx(2.5 / 4)
    assert got.tau == pytest.approx((2 - 1) / (4 * 3) ** 0.5)  # tau-b with one judge tie
    assert 0.0 <= got.low <= got.accuracy <= got.high <= 1.0
    with pytest.raises(errors.ValidationError, match="no decisive choice"):
        nb2.agreement(scores, [{"left": a, "right": b, "choice": "skip"}])
