"""Where people see the judge's scores (issue 34): a card's badge and row, the result's repr,
the contact sheet's corner figures, the summary's mean score and interval, the explorer's
cells. The explorer's sort and colours in the browser are in test_browser_judging.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import nb2
from nb2 import errors
from nb2.store.judgments import Judgments

PROMPTS = ["a fox beside a blue lake", "a red fox on a rock"]  # the stand-in: 0.5 and 1.0


def judged_grid(tmp_path: Path) -> nb2.Grid:
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt=PROMPTS, aspect_ratio=["1:1", "16:9"], repeat=2).run()
    g.judge(nb2.Judge("offline"))
    return g


def test_a_card_shows_the_score_and_the_failed_questions_escaped(tmp_path: Path):
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs")
    r = s.generate('two foxes on a rock, a sign says "<script>x</script>"')
    html = r._repr_mimebundle_()["text/html"]
    assert "badge nb2-score" not in html and r.judgment is None  # not judged: nothing shown
    j = r.judge()
    assert r.judgment is not None and r.judgment.score == j.score
    html = r._repr_mimebundle_()["text/html"]
    assert f"judge {j.score:.2f}" in html
    assert f"judged {j.score:.2f}" in repr(r)
    failed = [q.text for q in j.failed]
    assert "Are there 2 foxes?" in failed  # the stand-in draws one subject
    assert "<script>" not in html and "&lt;script&gt;" in html  # the prompt's text, escaped
    assert html.count("Are there 2 foxes?") == 2  # the badge's title and the card's row


def test_the_newest_judgment_is_the_one_shown(tmp_path: Path):
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs")
    r = s.generate("a red fox on a rock")
    r.judge()
    store = Judgments(r.store)
    first = store.scored(r.id)
    assert first is not None and first["judge"] == "offline"
    # a later judgment by another judge (written as the Gemini judge writes one) is newer
    other = {**first, "judge": "gemini-3.8-flash", "key": "f" * 64, "score": 0.25}
    store.put_score("f" * 64, other)
    assert store.scored(r.id)["judge"] == "gemini-3.8-flash"
    assert r.judgment is not None and r.judgment.judge == "gemini-3.8-flash"


def test_the_contact_sheet_carries_each_score_in_its_band(tmp_path: Path):
    g = judged_grid(tmp_path)
    sheet = g.contact_sheet()
    scores = sheet.info["nb2_scores"]
    assert sorted({round(s, 2) for _, s in scores}) == [0.5, 1.0]
    assert len(scores) == len(g.cells)
    boxes = dict((tuple(sorted(lab.items())), box) for lab, box in sheet.info["nb2_cells"])
    for labels, score in scores:
        left, top, _, bottom = boxes[tuple(sorted(labels.items()))]
        # the tag sits on the image's lower left: its colour is in the slot's left column
        colours = {sheet.getpixel((left + x, y)) for x in (3, 4) for y in range(top, bottom)}
        want = (46, 125, 50) if score >= 0.8 else (239, 108, 0)
        assert want in colours, (labels, score)
    unjudged = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "other")
    plain = unjudged.compare(prompt=PROMPTS).run().contact_sheet()
    assert "nb2_scores" not in plain.info


def test_the_summary_has_the_mean_score_and_its_interval(tmp_path: Path):
    g = judged_grid(tmp_path)
    rows = {r["label"]: r for r in g.summary(by="prompt").rows}
    assert rows["P1"]["judged"] == 4 and rows["P1"]["mean score"] == 0.5
    assert rows["P2"]["mean score"] == 1.0 and rows["P2"]["score 95%"] == "1.00-1.00"
    by_ratio = {r["value"]: r for r in g.summary(by="aspect_ratio").rows}
    assert by_ratio["1:1"]["mean score"] == 0.75
    lo, hi = (float(x) for x in by_ratio["1:1"]["score 95%"].split("-"))
    assert 0.0 <= lo < 0.75 < hi <= 1.0  # four samples, two each of 0.5 and 1.0


def test_the_explorer_cells_carry_scores_and_a_sort_is_checked(tmp_path: Path):
    from nb2.notebook.explore import Explorer

    g = judged_grid(tmp_path)
    ex = Explorer(g, sort="score")
    assert {c["labels"]["prompt"]: c["band"] for c in ex.cells} == {"P1": "mid", "P2": "high"}
    assert all(c["judge"] == "offline" for c in ex.cells)
    assert {tuple(c["failed"]) for c in ex.cells if c["labels"]["prompt"] == "P1"} == {
        ("Is the fox beside the blue lake?",)
    }
    with pytest.raises(errors.ValidationError) as e:
        ex.sort = "colour"
    assert e.value.field == "sort" and ex.sort == "score"


def ranked(table) -> list[str]:
    return [r["label"] for r in table.rows]


def test_a_ranking_mixes_people_and_the_judge(tmp_path: Path):
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt=["a fox beside a blue lake", "two green foxes in warm light",
                          "a red fox on a rock"], repeat=2).run()  # fmt: skip
    report = g.judge(nb2.Judge("offline"))  # P1 0.5, P2 0.6, P3 1.0
    duel = nb2.Duel(g, by="prompt", rater="ana", seed=3)
    alone = duel.ranking(judge=report)
    assert ranked(alone) == ["P3", "P2", "P1"]
    assert {r["label"]: r["judge"] for r in alone.rows} == {"P1": 0.5, "P2": 0.6, "P3": 1.0}
    assert all(r["n"] == 0 for r in alone.rows)  # n stays people's choices
    by = {c.labels["prompt"]: c.result for c in g.cells}
    for _ in range(4):  # people prefer P1 to P3, against the judge
        duel.record(by["P1"], by["P3"], "left")
    people = duel.ranking()
    assert "judge" not in people.columns
    light = duel.ranking(judge=report, weight=0.5)
    assert ranked(light).index("P1") < ranked(light).index("P3")  # people overrule
    heavy = duel.ranking(judge=report, weight=20)
    assert ranked(heavy).index("P3") < ranked(heavy).index("P1")  # the judge outweighs
    zero = duel.ranking(judge=report, weight=0)
    assert [r["score"] for r in zero.rows] == [r["score"] for r in people.rows]
    # a Judge reads what it already judged: the same ranking, nothing asked again
    before = sorted((tmp_path / "runs" / "judgments" / "scores").rglob("*.json"))
    again = duel.ranking(judge=nb2.Judge("offline"), weight=0.5)
    assert [r["score"] for r in again.rows] == [r["score"] for r in light.rows]
    assert sorted((tmp_path / "runs" / "judgments" / "scores").rglob("*.json")) == before


@pytest.mark.parametrize(("judge", "weight", "field"), [
    ({"run": 1.5}, 1.0, "judge"), ("scores", 1.0, "judge"), ({}, -1, "weight"),
    ({}, float("nan"), "weight"), ({}, True, "weight"),
])  # fmt: skip
def test_a_ranking_names_a_bad_judge_or_weight(tmp_path: Path, judge, weight, field):
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt=["a red fox", "a blue fox"]).run()
    with pytest.raises(errors.ValidationError) as e:
        nb2.Duel(g, by="prompt").ranking(judge=judge, weight=weight)
    assert e.value.field == field
