"""The gallery's Python side: pages over the index, the detail view, the actions, errors as
messages; and the cell it shows makes the same image again."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import nb2
from nb2.notebook.gallery import Gallery
from nb2.notebook.magic import Nb2Magics


@pytest.fixture
def made(store, images):
    s = nb2.Session(nb2.OfflineBackend(), store=store, name="made")
    a = s.generate("a lighthouse {at} dusk <b>", references=[(images["palette"], "palette")])
    b = s.edit("add a storm")
    c = s.generate("a red kite", aspect_ratio="16:9", google_search=True)
    d = s.upscale(c, "2K")
    return s, a, b, c, d


@pytest.fixture
def gallery(made):
    s = made[0]
    g = Gallery(store=s.store, session=nb2.Session(nb2.OfflineBackend(), store=s.store, name="g"),
                page_size=3)  # fmt: skip
    g.sent = []  # type: ignore[attr-defined]
    g.send = lambda content, buffers=None: g.sent.append(content)  # type: ignore[method-assign]
    return g


def ask(g: Gallery, kind: str, **fields: Any) -> dict[str, Any]:
    g._dispatch(g, {"id": f"t-{kind}", "kind": kind, **fields}, [])
    return g.sent[-1]


def test_pages_search_and_filters(made, gallery):
    _, a, b, c, d = made
    g = gallery
    assert g.total == 4 and [i["id"] for i in g.items] == [d.id, c.id, b.id]
    assert all(i["thumb"][:2] in (b"\xff\xd8", b"\x89P") for i in g.items)
    assert ask(g, "search", text="", page=1)["kind"] == "ok"
    assert [i["id"] for i in g.items] == [a.id] and g.page == 1
    assert ask(g, "search", text="lighthouse")["total"] == 1 and g.items[0]["id"] == a.id
    ask(g, "search", text="", filters={"google_search": True, "sort": "oldest"})
    assert [i["id"] for i in g.items] == [c.id, d.id]
    ask(g, "search", text="", filters={"resolution": "2K"})
    assert [i["id"] for i in g.items] == [d.id]
    # thumbnails are made once and kept in the store
    assert len(list((g.store.root / "thumbs").rglob("*.img"))) == 4


def test_the_detail_view_and_the_cell_that_remakes_the_run(made, gallery):
    s, a, b, *_ = made
    g = gallery
    assert ask(g, "select", run=b.id)["selected"] == b.id
    d = g.detail
    assert d["prompt"] == "add a storm" and [x["id"] for x in d["lineage"]] == [a.id]
    assert d["lineage"][0]["thumb"] and g.image[:2] in (b"\xff\xd8", b"\x89P")
    ask(g, "select", run=a.id)
    cell = g.detail["cell"]
    assert cell.startswith("%%nb2 --model nano-banana-2") and ":palette" in cell
    assert "{{at}}" in cell  # the magic would read {at} as a variable
    # the cell, run in a notebook on this store, is answered by the same stored image
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store, magics.progress = str(s.store.root), False
    shell.register_magics(magics)
    line, body = cell.split("\n", 1)
    again = shell.run_cell_magic("nb2", line[len("%%nb2 ") :] + " -o again", body)
    again = shell.user_ns.pop("again", again)
    assert again.cached and again.id == a.id


def test_the_edit_cell_remakes_an_edit(made, gallery):
    s, _a, b, *_ = made
    gallery.select(b)
    cell = gallery.detail["cell"]
    assert ":'edit'" in cell
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store, magics.progress = str(s.store.root), False
    shell.register_magics(magics)
    line, body = cell.split("\n", 1)
    shell.run_cell_magic("nb2", line[len("%%nb2 ") :] + " -o again", body)
    assert shell.user_ns.pop("again").id == b.id


def test_continue_editing_puts_the_run_in_the_session(made, gallery):
    _, _a, b, *_ = made
    g = gallery
    reply = ask(g, "continue", run=b.id)
    assert reply["kind"] == "ok" and g.session.current.id == b.id
    e = g.session.edit("warmer")
    assert e.parent.id == b.id
    # the adoption is saved with the session's tree
    again = nb2.Session(nb2.OfflineBackend(), store=g.store, name="g")
    assert [r.id for r in again.history] == [b.id, e.id]


def test_reuse_fills_a_panel_and_compare_takes_two(made, gallery):
    _, a, _, c, d = made
    g = gallery
    assert ask(g, "reuse", run=c.id)["kind"] == "ok"
    p = g.panel
    assert p.prompt == "a red kite" and p.aspect_ratio == "16:9" and p.google_search
    assert p.session is g.session and len(g.outlet.outputs) == 1
    ask(g, "reuse", run=a.id)
    assert g.panel is not p and g.panel.references[0]["role"] == "palette"
    assert len(g.outlet.outputs) == 1
    ask(g, "compare", runs=[c.id, d.id])
    assert [x["id"] for x in g.compare] == [c.id, d.id] and len(g.compare_images) == 2
    ask(g, "compare", runs=[])
    assert g.compare == []


def test_bad_messages_are_answered_as_errors(gallery):
    g = gallery
    assert ask(g, "select", run="../../etc/passwd")["kind"] == "error"
    assert "not a finished run" in ask(g, "continue", run="nope")["message"]
    assert ask(g, "search", filters={"colour": "red"})["field"] == "filters"
    assert ask(g, "search", filters={"since": "last week"})["kind"] == "error"
    assert ask(g, "compare", runs=["a"])["field"] == "runs"
    assert "unknown message kind" in ask(g, "explode")["message"]
    g._dispatch(g, "not a dict", [])
    assert g.sent[-1]["kind"] == "error"


def test_the_line_magic_opens_the_gallery_on_its_session(made):
    s = made[0]
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(s.store.root)
    shell.register_magics(magics)
    g = shell.run_line_magic("nb2", "gallery")
    assert isinstance(g, Gallery) and g.total == 4 and g.session is magics.session()
    data, _ = g._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and "runs=4" in data["text/plain"]
    html = data["text/html"]  # where no widget manager runs: the page's first runs, escaped
    assert "lighthouse {at} dusk &lt;b&gt;" in html and "<b>" not in html
    assert html.count("data:image/") == 4
