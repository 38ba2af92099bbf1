"""The Duel and the grid explorer, Python side: messages in, choices and ratings in the store."""

from __future__ import annotations

from typing import Any

import pytest

import nb2
from nb2.errors import ValidationError
from nb2.store.judgments import Judgments


@pytest.fixture
def grid(store: nb2.Store) -> Any:
    s = nb2.Session(nb2.OfflineBackend(), store=store)
    g = s.compare(prompt=["a red <b>fox</b>", "a blue fox"], resolution=["1K", "2K"], repeat=2)
    return g.run()


def wire(widget: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    widget.send = lambda content, buffers=None: sent.append(content)
    return sent


def ask(widget: Any, sent: list[dict[str, Any]], kind: str, **fields: Any) -> dict[str, Any]:
    widget._dispatch(widget, {"id": f"t-{kind}", "kind": kind, **fields}, [])
    return next(c for c in reversed(sent) if c.get("id") == f"t-{kind}")


def test_a_duel_is_blind_until_the_choice(grid: Any) -> None:
    duel = nb2.Duel(grid, by="prompt", seed=4)
    left, right = duel.shown
    assert left.params.prompt != right.params.prompt  # a pair that tells prompts apart
    state = repr({k: v for k, v in duel.get_state().items() if k not in ("left", "right")})
    for secret in ("fox", "1K", "2K", left.id, right.id):
        assert secret not in state  # nothing on the page says which is which
    assert duel.left and duel.right and duel.pair and duel.reveal == {}
    assert b"fox" not in duel.left + duel.right  # the images carry no metadata either
    bundle, _ = duel._repr_mimebundle_()
    assert "fox" not in bundle["text/plain"]


def test_a_choice_from_the_front_end_is_stored_and_the_next_pair_shown(
    grid: Any, store: nb2.Store
) -> None:
    duel = nb2.Duel(grid, by="prompt", rater="ana", seed=1)
    sent = wire(duel)
    left, right = duel.shown
    first = duel.pair
    reply = ask(duel, sent, "choose", pair=first, choice="right")
    assert reply["kind"] == "ok" and reply["choice"] == "right"
    stored = Judgments(nb2.Store(store.root)).choices(duel.name)
    assert [(c["left"], c["right"], c["choice"], c["rater"]) for c in stored] == [
        (left.id, right.id, "right", "ana")
    ]
    assert duel.pair != first and duel.done == 1
    assert duel.reveal["choice"] == "right" and duel.reveal["right"]["prompt"] in ("P1", "P2")
    # the same key pressed twice answers the old pair: refused, not stored twice
    again = ask(duel, sent, "choose", pair=first, choice="right")
    assert again["kind"] == "error" and again["field"] == "pair"
    bad = ask(duel, sent, "choose", pair=duel.pair, choice="both")
    assert bad["kind"] == "error" and bad["field"] == "choice"
    assert ask(duel, sent, "dance")["kind"] == "error"
    assert len(duel.choices()) == 1
    # a restart: the same grid gives the same duel and its choice
    assert len(nb2.Duel(grid, by="prompt").choices()) == 1


def test_choices_in_code_move_the_widget_on_and_rank(grid: Any) -> None:
    duel = nb2.Duel(grid, by="prompt", seed=2)
    for _ in range(12):
        a, b = duel.shown
        duel.record(a, b, "left" if "red" in a.params.prompt else "right")
    rows = duel.ranking().rows
    assert [r["label"] for r in rows] == ["P1", "P2"] and rows[0]["n"] == 12
    assert [r["value"] for r in rows] == ["a red <b>fox</b>", "a blue fox"]
    # the page ranks by code only: it stays blind, the prompts are named in code
    assert [r["value"] for r in duel.ranking_rows] == ["P1", "P2"]
    assert [r["n"] for r in duel.ranking_rows] == [r["n"] for r in rows] and duel.done == 12
    assert "fox" not in repr(duel.ranking_rows)


def test_the_explorer_lays_samples_together_and_rates(grid: Any, store: nb2.Store) -> None:
    ex = grid.explore()
    assert isinstance(ex, nb2.Explorer)
    assert (ex.rows, ex.cols) == ("prompt", "resolution")
    assert [a["name"] for a in ex.axes] == ["prompt", "resolution"]  # repeat is not an axis
    assert len(ex.cells) == 8 and {c["sample"] for c in ex.cells} == {"#1", "#2"}
    assert all(c["thumb"] for c in ex.cells)
    sent = wire(ex)
    run = ex.cells[3]["id"]
    assert ask(ex, sent, "open", run=run)["kind"] == "ok"
    assert ex.opened["id"] == run and ex.large
    reply = ask(ex, sent, "rate", run=run, score=4)
    assert reply["rating"] == 4 and ex.opened["rating"] == 4
    assert next(c for c in ex.cells if c["id"] == run)["rating"] == 4
    assert Judgments(nb2.Store(store.root)).rating(run)["score"] == 4
    assert ask(ex, sent, "rate", run=run, score=0)["rating"] is None  # 0 clears
    assert ask(ex, sent, "rate", run=run, score=9)["kind"] == "error"
    assert ask(ex, sent, "open", run="nope")["field"] == "run"
    ask(ex, sent, "close")
    assert ex.opened == {} and ex.large == b""
    with pytest.raises(ValidationError):
        grid.explore(rows="colour")


def test_the_explorer_headers_name_the_prompts(store: nb2.Store) -> None:
    s = nb2.Session(nb2.OfflineBackend(), store=store)
    long = "a lighthouse on a cliff at dawn, soft mist, " + "very " * 10 + "quiet"
    g = s.compare(prompt=["a red <b>fox</b>", long], resolution=["1K", "2K"]).run()
    prompt, resolution = g.explore().axes
    assert prompt["labels"] == ["P1", "P2"]  # the cells' keys, as the grid's legend says
    assert prompt["titles"] == ["a red <b>fox</b>", long]  # whole (the page sets text only)
    assert prompt["texts"][0] == "a red <b>fox</b>"
    assert prompt["texts"][1].endswith("…") and len(prompt["texts"][1]) <= 48
    assert resolution == {"name": "resolution", "labels": ["1K", "2K"]}


def test_the_panel_rates_a_node_and_diffs_two(store: nb2.Store) -> None:
    from PIL import Image

    from nb2.imaging import open_image

    s = nb2.Session(nb2.OfflineBackend(), store=store)
    panel = nb2.Panel(s)
    sent: list[tuple[dict[str, Any], Any]] = []
    panel.send = lambda content, buffers=None: sent.append((content, buffers))
    one = s.generate("a harbour at dawn")
    two = s.edit("add a red boat")

    def ask_panel(kind: str, **fields: Any) -> tuple[dict[str, Any], Any]:
        panel._dispatch(panel, {"id": f"p-{kind}", "kind": kind, **fields}, [])
        return next((c, b) for c, b in reversed(sent) if c.get("id") == f"p-{kind}")

    reply, _ = ask_panel("rate", node=one.id, score=4)
    assert reply["kind"] == "ok" and reply["rating"] == 4 and one.rating == 4
    assert next(n for n in panel.history if n["id"] == one.id)["rating"] == 4
    assert next(n for n in panel.history if n["id"] == two.id)["rating"] is None
    assert ask_panel("rate", node=one.id, score=7)[0]["field"] == "score"
    assert ask_panel("rate", node=one.id, score=0)[0]["rating"] is None
    reply, buffers = ask_panel("diff", nodes=[one.id, two.id])
    assert reply["kind"] == "ok" and 0 < reply["changed"] < 0.2 and reply["ssim"] < 1
    figures = nb2.diff(one, two)
    assert reply["changed"] == round(figures.changed, 4) and reply["box"] == list(figures.box)
    assert isinstance(open_image(buffers[0]), Image.Image)
    assert ask_panel("diff", nodes=[one.id])[0]["field"] == "nodes"
