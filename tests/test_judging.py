"""Judging: ratings in the store, diff maps, Bradley-Terry, the duel's pairs, grid summaries."""

from __future__ import annotations

import math
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

import nb2
from nb2.errors import ValidationError
from nb2.judging import bradley_terry as bt
from nb2.judging.duel import Item, Pairwise
from nb2.store.judgments import Judgments


class Fake:
    """A stored run as the judging code sees one (id, store, record), without an image."""

    def __init__(self, store: nb2.Store, run_id: str, prompt: str = "p") -> None:
        self.store, self.number, self.cached = store, 0, False
        self.record = {"run_id": run_id, "params": {"prompt": prompt}}

    @property
    def id(self) -> str:
        return str(self.record["run_id"])


@pytest.fixture
def session(store: nb2.Store) -> nb2.Session:
    return nb2.Session(nb2.OfflineBackend(), store=store)


# -- ratings --------------------------------------------------------------------------------
def test_a_rating_is_its_own_record_and_survives_a_restart(
    session: nb2.Session, store: nb2.Store
) -> None:
    r = session.generate("a lighthouse at dusk")
    record_before = (store.root / "runs" / f"{r.id}.json").read_bytes()
    image_before = r.path.read_bytes()
    assert r.rating is None and r.note == ""
    assert r.rate(4, note="best light", rater="ana") is r
    assert (r.rating, r.note) == (4, "best light")
    # a new process: a fresh Store on the same folder, the run read back from its record
    again = nb2.Result(nb2.Store(store.root).get(r.id), nb2.Store(store.root))
    assert (again.rating, again.note) == (4, "best light")
    r.rate(2)
    assert again.rating == 2 and again.note == ""
    r.rate(None)  # clears
    assert again.rating is None
    kept = Judgments(store).ratings(r.id)
    assert [x["score"] for x in kept] == [4, 2, None]
    assert kept[0]["rater"] == "ana" and kept[0]["time"].endswith("Z")
    # the image and the run's record are never rewritten
    assert (store.root / "runs" / f"{r.id}.json").read_bytes() == record_before
    assert r.path.read_bytes() == image_before


@pytest.mark.parametrize("bad", [0, 6, 3.5, "4", True])
def test_a_score_outside_1_to_5_is_refused_and_nothing_is_written(
    session: nb2.Session, store: nb2.Store, bad: Any
) -> None:
    r = session.generate("a lighthouse")
    with pytest.raises(ValidationError) as err:
        r.rate(bad)
    assert err.value.field == "score"
    assert Judgments(store).ratings(r.id) == []


def test_two_writers_at_once_lose_nothing(store: nb2.Store) -> None:
    a, b = Judgments(nb2.Store(store.root)), Judgments(nb2.Store(store.root))

    def rate(j: Judgments, who: str) -> None:
        for i in range(40):
            j.rate("run-1", 1 + i % 5, rater=who)
            j.choose("duel-x", "run-1", "run-2", "left", rater=who)

    threads = [threading.Thread(target=rate, args=(j, w)) for j, w in ((a, "a"), (b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(a.ratings("run-1")) == 80
    assert len(b.choices("duel-x")) == 80
    assert a.rating("run-1", rater="a")["rater"] == "a"


def test_the_rating_shows_on_cards_grids_and_reports(session: nb2.Session, tmp_path: Path) -> None:
    g = session.compare(prompt=["a red fox", "a blue fox"])
    g.run()
    r = g.cells[0].result
    r.rate(5, note="<script>alert(1)</script>")
    assert 'data-rating="5"' in r._repr_mimebundle_()["text/html"]
    assert "rated 5/5" in repr(r)
    html = g._repr_html_()
    assert html.count("nb2-rating") == 1 and "<script>alert" not in html
    assert "&lt;script&gt;" in html
    page = g.to_html(tmp_path / "report.html").read_text()
    assert 'data-rating="5"' in page
    session.generate("a grey fox").rate(3)
    assert 'data-rating="3"' in session.history._repr_html_()


# -- diff -----------------------------------------------------------------------------------
def _scene(size: tuple[int, int] = (320, 240)) -> Image.Image:
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for x in range(0, size[0], 40):
        draw.line((x, 0, x, size[1]), fill=(30, 90, 160), width=3)
    return img


def test_diff_of_identical_images_is_zero(session: nb2.Session) -> None:
    r = session.generate("a quiet harbour")
    d = nb2.diff(r, r.path)
    assert d.changed == 0.0 and d.box is None and d.ssim == pytest.approx(1.0)
    assert d.image.size == r.size and d.image.mode == "RGB"
    same = nb2.diff(_scene(), _scene())
    assert same.changed == 0.0 and same.ssim == pytest.approx(1.0)


def test_an_edit_confined_to_a_region_is_concentrated_there() -> None:
    before = _scene()
    after = before.copy()
    region = (200, 40, 280, 120)  # 80 x 80 of 320 x 240: 8.3% of the image
    ImageDraw.Draw(after).ellipse(region, fill=(250, 200, 10))
    d = nb2.diff(before, after)
    inside = (200, 40, 281, 121)  # Pillow draws the box's last row and column too
    assert d.share_inside(inside) == 1.0
    assert d.share_inside((0, 0, 160, 240)) == 0.0
    assert d.box is not None
    left, top, right, bottom = d.box
    assert inside[0] <= left and inside[1] <= top and right <= inside[2] and bottom <= inside[3]
    assert 0.04 < d.changed < 0.084
    assert 0.5 < d.ssim < 0.99
    # the map is red where it changed and grey elsewhere
    r, g, b = d.image.getpixel((240, 80))
    assert r > 200 and g < 80
    r, g, b = d.image.getpixel((20, 200))
    assert abs(r - g) < 5 and abs(g - b) < 5
    # a global change scores far lower than the local one
    assert nb2.diff(before, before.rotate(180)).ssim < d.ssim - 0.2


def test_diff_aligns_images_of_another_size() -> None:
    before = _scene((320, 240))
    after = before.copy()
    ImageDraw.Draw(after).rectangle((20, 20, 80, 80), fill=(255, 0, 0))
    d = nb2.diff(before, after.resize((640, 480)))
    assert d.size == (320, 240)
    assert d.share_inside((16, 16, 86, 86)) > 0.97
    wide = Image.new("RGB", (400, 240), (0, 0, 0))  # wider: the centre 320 x 240 is compared
    wide.paste(before, (40, 0))
    assert nb2.diff(before, wide).changed < 0.01


def test_diff_refuses_what_is_not_an_image() -> None:
    with pytest.raises(TypeError):
        nb2.diff(_scene(), 42)


# -- Bradley-Terry --------------------------------------------------------------------------
def test_bradley_terry_recovers_strengths_and_its_intervals_cover_them() -> None:
    truth = [1.0, 0.3, -0.2, -1.1]
    rng = random.Random(7)
    outcomes = []
    for _ in range(3000):
        i, j = rng.sample(range(4), 2)
        outcomes.append(
            (i, j, 1.0 if rng.random() < bt.win_probability(truth[i], truth[j]) else 0.0)
        )
    f = bt.fit(4, outcomes)
    assert sum(f.score) == pytest.approx(0.0, abs=1e-9)
    for est, true, se in zip(f.score, truth, f.se, strict=True):
        assert abs(est - (true - sum(truth) / 4)) < 3 * se
    assert all(0.02 < se < 0.2 for se in f.se)


def test_invert_gives_the_inverse() -> None:
    m = [[4.0, -1.0, 0.5], [-1.0, 3.0, -0.5], [0.5, -0.5, 2.0]]
    inv = bt.invert(m)
    for i in range(3):
        for j in range(3):
            got = sum(m[i][k] * inv[k][j] for k in range(3))
            assert got == pytest.approx(1.0 if i == j else 0.0, abs=1e-12)


# -- the duel without a screen -------------------------------------------------------------
def _judge(duel: Pairwise, truth: dict[str, float], n: int, rng: random.Random) -> None:
    for _ in range(n):
        left, right = duel.next_pair()
        p = bt.win_probability(truth[left.id], truth[right.id])
        duel.record(left, right, "left" if rng.random() < p else "right")


def test_a_duel_recovers_a_known_order_and_its_intervals_shrink(store: nb2.Store) -> None:
    order = ["best", "good", "fair", "weak", "poor", "worst"]
    truth = {name: 2.5 - i for i, name in enumerate(order)}
    runs = [Fake(store, name) for name in reversed(order)]  # handed over worst first
    duel = Pairwise(runs, seed=3)
    rng = random.Random(11)
    _judge(duel, truth, 40, rng)
    early = duel.ranking()
    _judge(duel, truth, 260, rng)
    late = duel.ranking()
    assert [row["value"].split("run=")[1] for row in late.rows] == order
    width = lambda t: sum(r["high"] - r["low"] for r in t.rows) / len(t.rows)  # noqa: E731
    assert width(late) < 0.6 * width(early)
    assert sum(r["n"] for r in late.rows) == 2 * 300
    for row in late.rows:
        assert row["low"] < row["score"] < row["high"]
    # every choice is in the store: a new duel over the same runs resumes with them
    again = Pairwise(list(runs), seed=5)
    assert again.name == duel.name and len(again.choices()) == 300
    assert again.ranking().rows == late.rows


def test_the_first_pairs_of_a_48_image_duel_show_every_image_once(store: nb2.Store) -> None:
    runs = [Fake(store, f"run-{i:02d}") for i in range(48)]
    duel = Pairwise(runs, seed=1)
    seen: list[str] = []
    sides = []
    for _ in range(24):
        left, right = duel.next_pair()
        seen += [left.id, right.id]
        sides.append(left.id < right.id)
        duel.record(left, right, "tie")
    assert len(set(seen)) == 48
    assert 3 < sum(sides) < 21  # sides are random, not in a fixed order


def test_ranking_by_an_axis_spreads_over_samples(store: nb2.Store) -> None:
    items = [
        Item(Fake(store, f"{p}-{k}"), {"prompt": p, "repeat": f"#{k}"})
        for p in ("P1", "P2", "P3")
        for k in (1, 2, 3)
    ]
    duel = Pairwise(items, by="prompt", seed=2)
    shown: dict[str, int] = {}
    for _ in range(18):
        a, b = duel.next_pair()
        assert a.id.split("-")[0] != b.id.split("-")[0]  # same prompt teaches nothing by prompt
        for r in (a, b):
            shown[r.id] = shown.get(r.id, 0) + 1
        winner = min((a, b), key=lambda r: r.id)  # P1 beats P2 beats P3
        duel.record(a, b, "left" if winner is a else "right")
    assert len(shown) == 9
    for prompt in ("P1", "P2", "P3"):  # each prompt's samples take turns
        mine = [n for run, n in shown.items() if run.startswith(prompt)]
        assert max(mine) - min(mine) <= 1, shown
    rows = duel.ranking().rows
    assert [r["value"] for r in rows] == ["P1", "P2", "P3"]
    assert sum(r["n"] for r in rows) == 2 * 18
    by_item = duel.ranking(by="repeat")  # another axis of the same choices
    assert {r["value"] for r in by_item.rows} == {"#1", "#2", "#3"}


def test_bad_duel_input_is_refused(store: nb2.Store) -> None:
    runs = [Fake(store, "a"), Fake(store, "b")]
    with pytest.raises(ValidationError) as err:
        Pairwise(runs[:1])
    assert err.value.field == "items"
    with pytest.raises(ValidationError) as err:
        Pairwise(runs, by="colour")
    assert err.value.field == "by" and "prompt" in err.value.allowed
    duel = Pairwise(runs)
    with pytest.raises(ValidationError) as err:
        duel.record(runs[0], runs[1], "both")
    assert err.value.field == "choice"
    with pytest.raises(ValidationError):
        duel.record(runs[0], Fake(store, "stranger"), "left")
    assert duel.choices() == []
    with pytest.raises(ValidationError):
        Pairwise([object(), object()])


def test_skips_and_ties_are_stored_but_skips_rank_nothing(store: nb2.Store) -> None:
    a, b = Fake(store, "a"), Fake(store, "b")
    duel = Pairwise([a, b], rater="ana")
    duel.record(a, b, "skip")
    duel.record(b, a, "tie")
    duel.record(b, a, "left")
    assert [c["choice"] for c in duel.choices()] == ["skip", "tie", "left"]
    assert all(c["rater"] == "ana" for c in duel.choices())
    rows = {r["value"].split("run=")[1]: r for r in duel.ranking().rows}
    assert (rows["b"]["wins"], rows["b"]["ties"], rows["b"]["n"]) == (1, 1, 2)
    assert rows["b"]["score"] > rows["a"]["score"]
    assert duel.ranking(rater="someone else").rows[0]["n"] == 0


# -- summaries and repeats ------------------------------------------------------------------
def test_summary_counts_samples_ratings_wins_and_time(session: nb2.Session) -> None:
    g = session.compare(prompt=["a red fox", "a blue fox"], resolution=["1K", "2K"], repeat=2)
    g.run()
    table = g.summary(by="prompt")
    assert [r["cells"] for r in table.rows] == [2, 2]
    assert [r["samples"] for r in table.rows] == [4, 4]
    p1 = [c.result for c in g.cells if c.labels["prompt"] == "P1"]
    p2 = [c.result for c in g.cells if c.labels["prompt"] == "P2"]
    p1[0].rate(5)
    p1[1].rate(2)
    duel = nb2.Duel(g, by="prompt", seed=0)
    duel.record(p1[0], p2[0], "left")
    duel.record(p2[1], p1[1], "left")
    duel.record(p2[2], p1[2], "tie")
    duel.record(p1[2], p1[3], "left")  # the same prompt: says nothing about prompts
    rows = {r["label"]: r for r in g.summary(by="prompt").rows}
    assert [rows[p]["value"] for p in ("P1", "P2")] == ["a red fox", "a blue fox"]
    assert rows["P1"]["rated"] == 2 and rows["P1"]["mean rating"] == 3.5
    assert rows["P2"]["mean rating"] is None
    assert rows["P1"]["choices"] == 3 and rows["P1"]["win rate"] == 0.5
    assert rows["P1"]["median time"] is not None
    res = {r["value"]: r for r in g.summary(by="resolution").rows}
    assert res["2K"]["samples"] == 4 and res["2K"]["cells"] == 2
    assert "summary by resolution: 8 samples" in repr(g.summary(by="resolution"))
    with pytest.raises(ValidationError):
        g.summary(by="repeat")
    assert "<table>" in g.summary()._repr_html_()


def test_ranking_table_prints_and_shows(store: nb2.Store) -> None:
    duel = Pairwise([Fake(store, "a", "<b>x</b>"), Fake(store, "b")], by="prompt")
    duel.record("a", "b", "left")
    html = duel.ranking()._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert math.isfinite(duel.ranking().rows[0]["high"])


LISBON = "A rooftop café in Lisbon at golden hour, terracotta roofs and the river behind"
PROMPTS = [LISBON, LISBON + ", shot on 35mm film", "a <b>bold</b> fox & hound", "a red fox"]


def test_a_ranking_by_prompt_names_its_prompts(session: nb2.Session) -> None:
    g = session.compare(prompt=PROMPTS).run()
    of = {c.labels["prompt"]: c.result for c in g.cells}
    duel = nb2.Duel(g, by="prompt", seed=0)
    for a, b in (("P2", "P1"), ("P2", "P3"), ("P3", "P4"), ("P1", "P4")):
        duel.record(of[a], of[b], "left")
    table = duel.ranking()
    # the row's value is the prompt itself, whole; its code in the grid's legend beside it
    assert (table.rows[0]["label"], table.rows[0]["value"]) == ("P2", PROMPTS[1])
    assert (table.rows[-1]["label"], table.rows[-1]["value"]) == ("P4", "a red fox")
    assert {r["label"]: r["value"] for r in table.rows} == {
        f"P{i + 1}": p for i, p in enumerate(PROMPTS)
    }
    assert table.columns[:2] == ["label", "value"]
    text = repr(table).splitlines()
    assert text[1].split()[:2] == ["label", "value"]
    # the long variants are shortened, each showing where it differs from the other
    assert text[2].startswith("P2     A rooftop café…") and "shot on 35mm film" in text[2]
    assert "…" in text[3] and "shot on" not in text[3] and "river behind" in text[3]
    assert all(len(line.split("  ")[2].strip()) <= 48 for line in text[2:4])
    assert "a <b>bold</b> fox & hound" in repr(table)  # text is not HTML
    html = table._repr_html_()
    assert "<td>P2</td>" in html and f'<td title="{PROMPTS[1]}">A rooftop café…' in html
    assert "<td>a &lt;b&gt;bold&lt;/b&gt; fox &amp; hound</td>" in html
    assert "<b>bold" not in html and "<td>a red fox</td>" in html
    # the summary by prompt names them the same way
    summary = g.summary(by="prompt")
    assert [(r["label"], r["value"]) for r in summary.rows] == [
        (f"P{i + 1}", p) for i, p in enumerate(PROMPTS)
    ]
    html = summary._repr_html_()
    assert f'<td title="{LISBON}">A rooftop café…' in html and "fox &amp; hound" in html
    assert "shot on 35mm film" in repr(summary)


def test_shorten_cuts_with_an_ellipsis_where_the_values_differ() -> None:
    from nb2.views.judging import SHORT, shorten, table_html

    assert shorten("a red fox") == "a red fox"
    assert shorten("a  red\nfox") == "a red fox"  # one line
    long = "x" * 100
    assert shorten(long) == "x" * (SHORT - 1) + "…"
    a, b = LISBON, LISBON + ", shot on 35mm film"
    assert shorten(b) == b[: SHORT - 1].rstrip() + "…"  # alone, the head
    sa, sb = shorten(a, [a, b]), shorten(b, [a, b])
    assert sa != sb and len(sa) <= SHORT and len(sb) <= SHORT
    assert sa.startswith("A rooftop café…") and sa.endswith("river behind")
    assert sb.startswith("A rooftop café…") and sb.endswith("shot on 35mm film")
    slate = LISBON.replace("terracotta", "slate")  # a change past the head, in the middle
    assert "terracotta" in shorten(LISBON, [LISBON, slate])
    assert "terracotta" not in shorten(LISBON)  # alone: "…terrac…"
    html = table_html([{"value": f"{b} <&>"}], ["value"])  # the whole value in the title
    assert f'<td title="{b} &lt;&amp;&gt;">A rooftop café in Lisbon' in html and "…</td>" in html


def test_a_grid_with_repeats_shows_each_cells_samples_in_one_row(session: nb2.Session) -> None:
    import re

    g = session.compare(prompt=["a red fox", "a blue fox"], repeat=3)
    g.run()
    html = g._repr_html_()
    rows = re.findall(
        r'<tr><th class="nb2-rowhead"><span class="meta">prompt</span> (P\d)</th>(.*?)</tr>', html
    )
    assert [p for p, _ in rows] == ["P1", "P2"]
    for prompt, row in rows:
        ids = re.findall(r'alt="nb2 result ([^"]+)"', row)
        mine = [c.result.id for c in g.cells if c.labels["prompt"] == prompt]
        assert ids == mine and len(set(ids)) == 3  # the three samples, side by side
    assert '<span class="meta">repeat</span> #3' in html
    assert [r["samples"] for r in g.summary().rows] == [3, 3]
    assert [r["cells"] for r in g.summary().rows] == [1, 1]


def test_an_edit_says_how_local_it_was(session: nb2.Session) -> None:
    first = session.generate("a harbour at dawn")
    edited = session.edit("add a red boat")
    d = edited.diff()  # against the image it built on
    assert d.changed == nb2.diff(first, edited).changed and 0 < d.changed < 0.2
    assert first.diff(first).changed == 0.0
    with pytest.raises(ValueError):
        first.diff()  # a first image has nothing to compare with
