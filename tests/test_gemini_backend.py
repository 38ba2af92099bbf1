"""nb2.GeminiBackend through the official google-genai SDK over real loopback HTTP, against the
project's Gemini emulator: a generation's size, usage and exact cost; edits that send their
branch's conversation back (a wrong or missing signature would be refused: the emulator checks
each); a resumed session that goes on with it; the errors and the money rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nb2
from nb2 import errors, models
from nb2.emulator import GeminiEmulator

from .sigint import sigint_at

KEY = "AIza-test-key-never-shown"
FLASH = "gemini-3.1-flash-image"
NB21 = "gemini-nano-banana-2.1"  # GeminiBackend's default


@pytest.fixture
def gemu() -> Iterator[GeminiEmulator]:
    # a wrong or missing thought signature is an error here, so a test that passes sent them
    emu = GeminiEmulator(missing_signature="400").start()
    yield emu
    emu.stop()


def session(emu: GeminiEmulator, root: Path, **kw: Any) -> nb2.Session:
    backend = nb2.GeminiBackend(api_key=KEY, base_url=emu.base_url, **kw.pop("backend", {}))
    return nb2.Session(backend=backend, store=root, **kw)


def calls(emu: GeminiEmulator) -> int:
    """generateContent requests that reached the server (answered or refused)."""
    return sum(1 for _, path in emu.requests if path.split("?")[0].endswith(":generateContent"))


def roles(body: dict[str, Any]) -> list[str]:
    return [c["role"] for c in body["contents"]]


def test_a_generation_has_its_size_tokens_and_exact_cost(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs")
    r = s.generate("a lighthouse at dusk", resolution="2K", aspect_ratio="16:9")
    assert r.params.model == NB21  # a fresh backend's model
    assert r.size == (2752, 1536) and r.image.size == (2752, 1536)
    usage = r.record["usage"]
    image = {d["modality"]: d["tokenCount"] for d in usage["candidatesTokensDetails"]}["IMAGE"]
    assert image == 1680  # the 2K tier's image tokens
    assert r.cost == models.token_cost(NB21, usage) and r.cost != r.record["estimated_cost"]
    sent = gemu.bodies[-1]["generationConfig"]
    assert sent["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert sent["thinkingConfig"] == {"thinking_level": "MEDIUM"}  # 2.1's default (SDK names)
    assert sent["candidateCount"] == 1
    card = r._repr_mimebundle_()["text/html"]
    assert f"${r.cost:.4f}" in card and "1680 image" in card


def test_edits_send_their_branch_back_with_signatures(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs")
    r1 = s.generate("a lighthouse at dusk", resolution="1K")
    r2 = s.edit("make the sky warmer")
    assert roles(gemu.bodies[-1]) == ["user", "model", "user"]
    r3 = s.edit("add a small boat")
    body = gemu.bodies[-1]
    assert roles(body) == ["user", "model", "user", "model", "user"]
    assert body["contents"][0]["parts"][0]["text"] == "a lighthouse at dusk"
    assert body["contents"][-1]["parts"] == [{"text": "add a small boat"}]  # no image 1 again
    model_turn = body["contents"][1]["parts"]
    assert any("thoughtSignature" in p for p in model_turn)  # verified by the emulator
    assert [e.run_id for e in r3.params.history] == [r1.id, r2.id]
    assert r3.params.aspect_ratio == "1:1"  # the parent's shape, said (nothing would be 1:1)
    # a branch is its own conversation: an edit of r1 sends r1's turn alone
    s.edit("make it night", parent=r1)
    assert roles(gemu.bodies[-1]) == ["user", "model", "user"]


def test_signatures_stay_in_the_store_not_in_outputs(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs")
    s.generate("a red fox", resolution="1K")
    r = s.edit("make it winter")
    shown = r._repr_mimebundle_()["text/html"] + repr(r) + json.dumps(r.record) + repr(r.params)
    panel = nb2.Panel(s)
    state = json.dumps(panel.history, default=str) + json.dumps(panel.get_state(), default=str)
    for text in (shown, state):
        assert "thoughtSignature" not in text and "thought_signature" not in text
    turn = json.loads(s.store.read_image(r.record["turn"]))  # the model's turn, kept
    assert any("thoughtSignature" in p for p in turn["parts"])
    assert all("data" not in (p.get("inlineData") or {}) for p in turn["parts"])  # by hash


def test_a_resumed_session_goes_on_with_the_conversation(gemu, tmp_path: Path) -> None:
    first = session(gemu, tmp_path / "runs", name="hero")
    first.generate("a glass bottle on marble", resolution="1K")
    first.edit("darker background")
    again = session(gemu, tmp_path / "runs", name="hero")  # a new kernel
    r = again.edit("add fog")
    assert roles(gemu.bodies[-1]) == ["user", "model", "user", "model", "user"]
    assert len(r.params.history) == 2


def test_an_image_made_elsewhere_starts_a_new_conversation(gemu, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    offline = nb2.Session(backend=nb2.OfflineBackend(), store=root, model=NB21)
    made = offline.generate("a red fox", resolution="1K")  # no model turn: offline
    s = session(gemu, root)
    r = s.edit("make it winter", parent=s.adopt(made))
    body = gemu.bodies[-1]
    assert roles(body) == ["user"] and "inlineData" in body["contents"][0]["parts"][1]
    assert body["contents"][0]["parts"][0]["text"].startswith("Using image 1 as the base image")
    assert not r.params.history


def test_a_429_is_one_bounded_wait_on_its_retry_info(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs", cache="off")
    gemu.faults.throttle_next, gemu.faults.retry_delay = 1, 0.4
    t0 = time.monotonic()
    s.generate("a red fox", resolution="1K")
    assert calls(gemu) == 2 and time.monotonic() - t0 >= 0.4
    gemu.faults.throttle_next, gemu.faults.retry_delay = 1, 120.0  # longer than we wait
    sent = calls(gemu)
    with pytest.raises(errors.RateLimitError) as err:
        s.generate("a blue fox", resolution="1K")
    assert err.value.retry_after == 120.0 and calls(gemu) == sent + 1


def test_a_5xx_is_retried_a_bounded_number_of_times(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs", backend={"retries": 2})
    gemu.faults.unavailable_next = 5
    with pytest.raises(errors.GenerationError, match="503"):
        s.generate("a red fox", resolution="1K")
    assert calls(gemu) == 3  # the first try and two more, no storm
    gemu.faults.unavailable_next, gemu.faults.internal_next = 0, 1
    assert s.generate("a red fox", resolution="1K").size == (1024, 1024)


@pytest.mark.parametrize(
    ("word", "said"),
    [("[image_other]", "You will not be charged"), ("[image_safety]", "IMAGE_SAFETY"),
     ("[block]", "blocked the prompt")],
)  # fmt: skip
def test_a_refusal_is_moderation_with_googles_message(gemu, tmp_path, word, said) -> None:
    s = session(gemu, tmp_path / "runs")
    with pytest.raises(errors.ModerationError, match=said.replace("[", r"\[")):
        s.generate(f"a red fox {word}", resolution="1K")
    assert calls(gemu) == 1  # never retried


def test_a_bad_key_is_named_and_never_shown(gemu, tmp_path: Path) -> None:
    gemu.faults.api_keys = ("the-good-key",)
    s = session(gemu, tmp_path / "runs")
    with pytest.raises(errors.AuthenticationError) as err:
        s.generate("a red fox", resolution="1K")
    assert KEY not in str(err.value) and KEY in gemu.keys_seen
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_a_stop_during_the_call_keeps_the_image(gemu, tmp_path: Path) -> None:
    # generateContent cannot be canceled at Google: the answer is paid, so it is kept
    gemu.faults.latency = 1.0
    s = session(gemu, tmp_path / "runs")
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    r = s.generate("a red fox", resolution="1K", cancel=stop)
    assert stop.is_set() and r.record["status"] == "succeeded"


def test_a_real_sigint_during_the_call_keeps_the_image(gemu, tmp_path: Path) -> None:
    gemu.faults.latency = 1.0
    s = session(gemu, tmp_path / "runs")
    with pytest.raises(KeyboardInterrupt), sigint_at(0.3):
        s.generate("a red fox", resolution="1K")
    [record] = [r for r in s.store.records() if r.get("params", {}).get("prompt") == "a red fox"]
    assert record["status"] == "succeeded" and s.store.image_path(record["output"]["sha256"])


def test_grounding_is_kept_and_shown_escaped(gemu, tmp_path: Path) -> None:
    s = session(gemu, tmp_path / "runs")
    r = s.generate("a <b>rooftop</b> cafe", resolution="1K", google_search=True,
                   image_search=True)  # fmt: skip
    g = r.record["grounding"]
    assert (
        g["queries"]
        and g["image_queries"]
        and {x["kind"] for x in g["sources"]} == {"web", "image"}
    )
    # the SDK's own mixed casing (camelCase keys, snake_case inside passed-through objects)
    assert gemu.bodies[-1]["tools"] == [
        {"googleSearch": {"searchTypes": {"web_search": {}, "image_search": {}}}}
    ]
    card = r._repr_mimebundle_()["text/html"]
    assert "<b>rooftop" not in card and "&lt;b&gt;rooftop" in card
    assert g["sources"][0]["uri"] in card


def test_a_grid_as_one_batch_at_half_price(gemu, tmp_path: Path) -> None:
    gemu.faults.batch_latency = 0.3
    s = session(gemu, tmp_path / "runs", backend={"batch_poll": 0.05})
    g = s.compare(prompt=["a red fox", "a blue fox"], resolution=["1K", "2K"])
    assert g.plan(batch=True).cost == pytest.approx(g.plan().cost / 2)
    g.run(batch=True)
    assert g.counts() == {"succeeded": 4} and len(gemu.batches) == 1
    looks = [p for m, p in gemu.requests if m == "GET" and "/batches/" in p]
    assert len(looks) >= 4  # looked at every batch_poll (0.05 s), not every 2 s
    for cell in g.cells:
        rec = cell.result.record
        assert rec["batch"]["job"].startswith("batches/")
        assert rec["cost"] == pytest.approx(models.token_cost(NB21, rec["usage"]) / 2, abs=1e-6)
    assert g.spent == pytest.approx(sum(c.result.cost for c in g.cells))
    again = s.compare(prompt=["a red fox", "a blue fox"], resolution=["1K", "2K"])
    assert again.run(batch=True).counts() == {"cached": 4} and len(gemu.batches) == 1


def test_a_stopped_batch_is_canceled_at_google(gemu, tmp_path: Path) -> None:
    gemu.faults.batch_latency = 30.0
    s = session(gemu, tmp_path / "runs")
    g = s.compare(prompt=["a red fox", "a blue fox"])
    threading.Timer(0.5, g.stop).start()
    g.run(batch=True)
    [batch] = gemu.batches.values()
    assert batch.cancelled is not None and g.counts() == {"canceled": 2}
    assert all(r["status"] == "canceled" for r in s.store.records())


def test_recover_collects_a_batch_whose_kernel_died(gemu, tmp_path: Path) -> None:
    gemu.faults.batch_latency = 1.0
    root = tmp_path / "runs"
    child = textwrap.dedent(f"""
        import os, nb2
        b = nb2.GeminiBackend(api_key={KEY!r}, base_url={gemu.base_url!r})
        s = nb2.Session(backend=b, store={str(root)!r})
        g = s.compare(prompt=["a red fox", "a blue fox"])
        def die(grid):  # the job's name is on disk by the first progress: the kernel dies
            os._exit(3)
        g.run(batch=True, on_progress=die)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(nb2.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", child], env=env, timeout=60)
    assert done.returncode == 3
    store = nb2.Store(root)
    pending = [r for r in store.records() if r["status"] == "pending"]
    assert len(pending) == 2 and all(r["batch"]["job"] for r in pending)
    report = nb2.recover(root, backend=nb2.GeminiBackend(api_key=KEY, base_url=gemu.base_url))
    assert [line["outcome"].endswith("succeeded") for line in report] == [True, True]
    assert all(r["status"] == "succeeded" for r in store.records())
    assert len(gemu.batches) == 1  # collected, not sent again
    downloads = [path for _, path in gemu.requests if ":download" in path]
    assert len(downloads) == 1  # the job's responses file once, for both of its runs


def test_the_magic_takes_the_gemini_backend(gemu, tmp_path: Path, monkeypatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.notebook.magic import Nb2Magics

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemu.base_url)
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(tmp_path / "runs")
    magics.progress = False
    shell.register_magics(magics)
    try:
        shell.run_cell_magic("nb2", "--backend gemini -r 1K -o g1", "a red fox")
        g1 = shell.user_ns["g1"]
        assert g1.params.model == NB21 and g1.size == (1024, 1024)  # the backend's own model
        shell.run_cell_magic("nb2", "--edit -o g2", "make it winter")
        assert roles(gemu.bodies[-1]) == ["user", "model", "user"]  # remembered
        text = magics.config_text()
        assert "backend: gemini" in text and "gemini key present: yes" in text
        assert KEY not in text
        gemu.faults.batch_latency = 0.2
        plan = shell.run_cell_magic("nb2", "--vary resolution=1K,2K --plan --batch", "a fox")
        assert "Batch API: half price" in repr(plan)
        shell.run_cell_magic("nb2", "--vary resolution=1K,2K --batch -o gb", "a fox")
        assert shell.user_ns["gb"].counts() == {"succeeded": 2} and len(gemu.batches) == 1
    finally:
        for name in ("g1", "g2", "gb"):
            shell.user_ns.pop(name, None)


def test_nb2_config_backend_picks_gemini_for_new_sessions(gemu, tmp_path, monkeypatch) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.notebook.magic import Nb2Magics

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemu.base_url)
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store, magics.progress, magics.backend = str(tmp_path / "runs"), False, "gemini"
    shell.register_magics(magics)
    shell.run_cell_magic("nb2", "-r 1K --session other -o g3", "a blue fox")
    result = shell.user_ns.pop("g3")
    assert result.params.model == NB21 and magics.session("other").backend.name == "gemini"
