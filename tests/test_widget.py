"""The panel's Python side: traits, every message kind, errors answered as messages."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import nb2
from nb2.notebook.panel import Panel

from .conftest import TOKEN


class Sent(list):
    """What the panel sent to the front end: (content, buffers) pairs."""

    def last(self) -> dict[str, Any]:
        return self[-1][0]


@pytest.fixture
def panel(store: nb2.Store) -> Panel:
    session = nb2.Session(nb2.OfflineBackend(), store=store)
    p = Panel(session)
    p.sent = Sent()  # type: ignore[attr-defined]
    p.send = lambda content, buffers=None: p.sent.append((content, buffers))  # type: ignore[method-assign]
    return p


def ask(p: Panel, kind: str, buffers: list[bytes] | None = None, **fields: Any) -> dict[str, Any]:
    """Send one message as the front end would, wait for any run, return the reply."""
    p._dispatch(p, {"id": f"t-{kind}", "kind": kind, **fields}, buffers or [])
    p.wait(30)
    reply = next(c for c, _ in reversed(p.sent) if c.get("id") == f"t-{kind}")
    return reply


def assert_state_travels(p: Panel) -> None:
    """The state as the comm sends it: JSON plus binary buffers (no base64, nothing else)."""
    from ipywidgets.widgets.widget import _remove_buffers

    state, paths, buffers = _remove_buffers(p.get_state())
    json.dumps(state, allow_nan=False)
    assert ["image"] in paths and ["history", 0, "thumb"] in paths
    assert all(isinstance(b, (bytes, memoryview)) for b in buffers)


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_defaults_follow_the_session_and_the_schema_is_sent_once(store: nb2.Store) -> None:
    s = nb2.Session(nb2.OfflineBackend(), store=store, resolution="2K", aspect_ratio="16:9")
    p = Panel(s)
    assert (p.image_model, p.resolution, p.aspect_ratio, p.output_format) == (
        "google/nano-banana-2", "2K", "16:9", "png",
    )  # fmt: skip
    nb2_choices = p.choices["models"]["google/nano-banana-2"]
    assert len(nb2_choices["aspect_ratios"]) == 15  # 14 ratios and match_input_image
    assert nb2_choices["max_references"] == 14
    assert p.choices["models"]["google/nano-banana"]["resolutions"] == []


def test_traits_refuse_values_the_model_does_not_take(panel: Panel) -> None:
    import traitlets

    with pytest.raises(traitlets.TraitError, match="allowed: 1K, 2K, 4K"):
        panel.resolution = "8K"
    with pytest.raises(traitlets.TraitError, match="aspect_ratio"):
        panel.aspect_ratio = "7:3"
    panel.image_model = "nano-banana"  # an alias resolves; unsupported fields are reset
    assert panel.image_model == "google/nano-banana"
    assert panel.google_search is False


def test_image_search_turns_web_search_on_and_off_with_it(panel: Panel) -> None:
    panel.image_search = True
    assert panel.google_search is True
    panel.google_search = False
    assert panel.image_search is False


def test_generate_edit_branch_select_and_history(panel: Panel) -> None:
    panel.prompt = "a glass serum bottle on marble"
    reply = ask(panel, "generate")
    assert reply["kind"] == "ok" and reply["job"].startswith("generate-")
    assert panel.status["state"] == "done"
    s = panel.session
    assert len(s.history) == 1 and panel.selected == s.history[1].id
    first = panel.history[0]
    assert first["prompt"] == "a glass serum bottle on marble" and first["parent"] is None
    assert isinstance(first["thumb"], bytes) and first["thumb"][:2] == b"\xff\xd8"
    assert Image.open(io.BytesIO(panel.image)).size[0] <= 1536
    assert_state_travels(panel)

    panel.prompt = "make the background warmer"
    assert ask(panel, "edit")["kind"] == "ok"
    assert s.history[2].parent == s.history[1]
    ask(panel, "select", node=s.history[1].id)
    assert panel.result == s.history[1]  # the panel's next edit builds on #1: a branch
    assert s.current is None  # clicks never move what edit() in code builds on
    panel.prompt = "add soft bokeh"
    ask(panel, "edit")
    assert s.history[3].parent == s.history[1]
    assert [n["parent"] for n in panel.history] == [None, s.history[1].id, s.history[1].id]
    assert panel.selected == s.history[3].id


def test_composed_prompt_shows_roles_and_the_edit_prefix(panel: Panel) -> None:
    panel.prompt = "a bottle"
    assert ask(panel, "add_reference", [png()], name="palette.png", role="palette")["kind"] == "ok"
    assert "colour palette from image 1" in panel.composed_prompt
    ask(panel, "generate")
    panel.mode = "edit"
    panel.prompt = "make it blue"
    assert panel.composed_prompt.startswith("Using image 1 as the base image, make it blue")
    assert "image 2" in panel.composed_prompt  # the reference follows the edited image


def test_python_and_panel_stay_in_step(panel: Panel) -> None:
    r = panel.session.generate("made from Python")
    assert [n["id"] for n in panel.history] == [r.id]
    assert panel.selected == r.id


def test_references_add_role_move_remove_and_limits(panel: Panel, tmp_path: Path) -> None:
    keys = [ask(panel, "add_reference", [png(colour=(i * 20, 0, 0))], name=f"r{i}.png")["key"]
            for i in range(3)]  # fmt: skip
    assert [r["name"] for r in panel.references] == ["r0.png", "r1.png", "r2.png"]
    ask(panel, "set_role", ref=keys[1], role="subject")
    ask(panel, "set_role", ref=keys[2], role="the dog's collar")
    assert [r["role"] for r in panel.references] == ["", "subject", "the dog's collar"]
    ask(panel, "move_reference", ref=keys[2], to=0)
    assert [r["key"] for r in panel.references] == [keys[2], keys[0], keys[1]]
    ask(panel, "remove_reference", ref=keys[0])
    assert [r["key"] for r in panel.references] == [keys[2], keys[1]]
    assert isinstance(panel.references[0]["thumb"], bytes)

    bad = ask(panel, "add_reference", [b"not an image at all"], name="notes.txt")
    assert bad["kind"] == "error" and bad["field"] == "file" and "notes.txt" in bad["message"]
    for i in range(12):
        ask(panel, "add_reference", [png(colour=(0, i * 10, 0))], name=f"x{i}.png")
    assert len(panel.references) == 14
    full = ask(panel, "add_reference", [png()], name="fifteen.png")
    assert full["kind"] == "error" and "at most 14" in full["message"]
    assert len(panel.references) == 14  # nothing already there was lost


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ({"kind": "explode"}, "kind", "unknown message kind"),
        ({"kind": "select", "node": "nope"}, "node", "not in this session"),
        ({"kind": "compare", "nodes": ["a"]}, "nodes", "two nodes"),
        ({"kind": "set_role", "ref": "zz", "role": "style"}, "ref", "not in the panel"),
        ({"kind": "move_reference", "ref": "zz", "to": 0}, "ref", "not in the panel"),
        ({"kind": "generate"}, "prompt", "prompt"),
        ({"kind": "edit"}, "node", "not in this session"),  # nothing selected yet
        ({"kind": "add_reference"}, "file", "exactly one file"),
    ],
)
def test_bad_messages_are_answered_with_an_error(
    panel: Panel, message: dict[str, Any], field: str, words: str
) -> None:
    panel._dispatch(panel, {"id": "bad", **message}, [])
    reply = panel.sent.last()
    assert reply["id"] == "bad" and reply["kind"] == "error"
    assert reply["field"] == field and words in reply["message"]
    assert len(panel.session.history) == 0


def test_a_second_run_while_one_is_going_is_refused(store: nb2.Store) -> None:
    p = Panel(nb2.Session(nb2.OfflineBackend(latency=0.5), store=store))
    p.sent = Sent()  # type: ignore[attr-defined]
    p.send = lambda content, buffers=None: p.sent.append((content, buffers))  # type: ignore[method-assign]
    p.prompt = "slow"
    p._dispatch(p, {"id": "1", "kind": "generate"}, [])
    p._dispatch(p, {"id": "2", "kind": "generate"}, [])
    assert p.sent.last()["kind"] == "error" and "in progress" in p.sent.last()["message"]
    p.wait(10)
    assert len(p.session.history) == 1


def test_upscale_compare_download(panel: Panel) -> None:
    panel.prompt = "a rooftop café"
    ask(panel, "generate")
    one = panel.session.history[1]
    ask(panel, "upscale", node=one.id, resolution="2K")
    two = panel.session.history[2]
    assert two.params.resolution == "2K" and two.parent == one
    assert panel.history[1]["kind"] == "upscale"
    assert ask(panel, "compare", nodes=[one.id, two.id])["kind"] == "ok"
    assert panel.compare == [one.id, two.id] and len(panel.compare_images) == 2
    ask(panel, "compare", nodes=[])
    assert panel.compare == [] and panel.compare_images == []
    reply = ask(panel, "download", node=two.id)
    buffers = next(b for c, b in reversed(panel.sent) if c is reply)
    assert buffers[0] == two.path.read_bytes() and reply["name"].endswith(".png")


def test_stop_cancels_the_prediction_remotely(emulator: nb2.Emulator, store: nb2.Store) -> None:
    emulator.faults.latency = 30.0
    backend = nb2.ReplicateBackend(
        api_token=TOKEN, base_url=emulator.base_url, wait=1, poll_interval=0.05
    )
    p = Panel(nb2.Session(backend, store=store))
    p.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    p.prompt = "a slow one"
    p._dispatch(p, {"id": "1", "kind": "generate"}, [])
    deadline = time.monotonic() + 30
    while not emulator.created:
        assert time.monotonic() < deadline, "the create never reached the emulator"
        p._job.join(0.02)  # type: ignore[union-attr]
    p._dispatch(p, {"id": "2", "kind": "stop"}, [])
    p.wait(20)
    assert p.status["state"] == "canceled"
    assert emulator.canceled == [emulator.created[0]]
    assert len(p.session.history) == 0


def test_widget_state_carries_no_token(emulator: nb2.Emulator, store: nb2.Store) -> None:
    backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url, poll_interval=0.05)
    p = Panel(nb2.Session(backend, store=store))
    p.prompt = "a token-free panel"
    p._dispatch(p, {"id": "1", "kind": "generate"}, [])
    p.wait(20)
    assert len(p.history) == 1
    state = p.get_state()
    flat = repr(state) + repr(p) + p._static_html()
    assert TOKEN not in flat and TOKEN[3:] not in flat


def test_static_fallback_shows_the_image_and_history_escaped(panel: Panel) -> None:
    panel.prompt = "<script>alert(1)</script> bottle"
    ask(panel, "generate")
    data, _ = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    page = data["text/html"]
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert page.count("<img") >= 2  # the selected image and its history node
    assert data["text/plain"] == "<nb2.Panel session='default' nodes=1>"


def _two_nodes_and_lose_the_second(panel: Panel) -> tuple[Any, Any]:
    panel.prompt = "a red kite"
    ask(panel, "generate")
    panel.prompt = "make the sky stormy"
    ask(panel, "edit")
    one, two = panel.session.history[1], panel.session.history[2]
    two.path.unlink()  # gone from the store (deleted by hand, a cleanup script...)
    return one, two


@pytest.mark.parametrize(
    "message",
    [{"kind": "select"}, {"kind": "download"}, {"kind": "compare", "two": True}],
)
def test_a_node_whose_file_is_gone_is_answered_with_an_error(
    panel: Panel, message: dict[str, Any]
) -> None:
    one, two = _two_nodes_and_lose_the_second(panel)
    ask(panel, "select", node=one.id)
    kind = message["kind"]
    fields = {"nodes": [one.id, two.id]} if kind == "compare" else {"node": two.id}
    reply = ask(panel, kind, **fields)  # before: FileNotFoundError, no reply at all
    assert reply["kind"] == "error"
    assert "the image of #2 is missing from the store at" in reply["message"]
    assert str(panel.session.store.root) in reply["message"]
    assert panel.selected == one.id and panel.compare == []  # nothing half-changed
    assert ask(panel, "select", node=one.id)["kind"] == "ok"  # the panel still works


def test_a_panel_opens_on_a_session_with_a_missing_file(panel: Panel, caplog: Any) -> None:
    one, two = _two_nodes_and_lose_the_second(panel)
    panel.session.checkout(two)  # the session's current turn: the one whose file is gone
    again = Panel(panel.session)  # before: FileNotFoundError out of the constructor
    assert [n["id"] for n in again.history] == [one.id, two.id]
    assert again.history[0]["thumb"][:2] == b"\xff\xd8" and again.history[1]["thumb"] == b""
    assert again.selected == two.id and again.image == b""  # shown, without a picture
    assert "#2" in caplog.text and "missing" in caplog.text
    r = panel.session.generate("a third, made from Python")  # the listeners keep going
    assert again.history[-1]["id"] == r.id and again.history[-1]["thumb"]


def test_unexpected_errors_are_answered_and_logged_with_their_traceback(
    panel: Panel, caplog: Any
) -> None:
    def broken(msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        raise RuntimeError("a bug in a handler")

    panel._handlers["select"] = broken
    with caplog.at_level("ERROR", logger="nb2"):
        reply = ask(panel, "select", node="x")
    assert reply["kind"] == "error" and "RuntimeError: a bug in a handler" in reply["message"]
    logged = [r for r in caplog.records if r.name == "nb2" and r.exc_info]
    assert logged and "a bug in a handler" in caplog.text and "Traceback" in caplog.text


def test_an_unexpected_error_in_the_worker_keeps_its_traceback(
    panel: Panel, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_run(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the runner broke")

    monkeypatch.setattr(panel.session, "run", broken_run)
    panel.prompt = "a kite"
    with caplog.at_level("ERROR", logger="nb2"):
        assert ask(panel, "generate")["kind"] == "ok"
    assert panel.status["state"] == "error" and "the runner broke" in panel.status["message"]
    logged = [r for r in caplog.records if r.name == "nb2" and r.exc_info]
    assert logged and "broken_run" in caplog.text  # the traceback, not just a string


def test_code_edits_build_on_codes_image_while_the_panel_generates(tmp_path: Any) -> None:
    """The panel keeps its own selection: s.edit() in a cell builds on the notebook's current
    turn, whatever the panel makes or selects meanwhile (before: on the panel's, 5 in 6)."""
    s = nb2.Session(backend=nb2.OfflineBackend(latency=0.3), store=tmp_path / "runs")
    mine = s.generate("a lighthouse made in code")
    panel = Panel(s)
    for i in range(3):
        panel.prompt = f"a windmill from the panel {i}"
        panel._dispatch(panel, {"id": f"g{i}", "kind": "generate"}, [])
        edited = s.edit(f"darker, take {i}")  # while the panel's run goes
        panel.wait(10)
        assert s.parent_of(edited) == mine  # code's own image, never the panel's
        mine = edited
    assert sum("windmill" in t.result.params.prompt for t in s.history.turns) == 3
    assert s.current == mine
