"""The Gemini emulator answers as the Gemini API does (shared/reference/gemini-api.md), through
the official google-genai SDK over loopback HTTP and through raw httpx; each opt-in fault does
its job. Nothing here skips: the SDK is a test dependency."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types
from PIL import Image, ImageStat

from nb2.emulator import GeminiEmulator, GeminiFaults

FLASH = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
NB1 = "gemini-2.5-flash-image"
KEY = "test-key"
IMAGE_SEARCH = types.GoogleSearch(search_types=types.SearchTypes(image_search=types.ImageSearch()))


@pytest.fixture
def make() -> Iterator[Any]:
    """Emulators with knobs, stopped at the end (even when a test fails)."""
    made: list[GeminiEmulator] = []

    def build(**faults: Any) -> GeminiEmulator:
        emu = GeminiEmulator(**faults).start()
        made.append(emu)
        return emu

    yield build
    for emu in made:
        emu.stop()


@pytest.fixture
def emu(make: Any) -> GeminiEmulator:
    return make()


# A genai.Client closes its HTTP client when it is collected: `client(emu).models.x(...)` would
# fail with "the client has been closed", so the helper keeps every client it makes alive.
_ALIVE: list[genai.Client] = []


def client(
    emu: GeminiEmulator, version: str | None = None, key: str = KEY, **options: Any
) -> genai.Client:
    http = types.HttpOptions(base_url=emu.base_url, api_version=version, **options)
    _ALIVE.append(genai.Client(api_key=key, http_options=http))
    return _ALIVE[-1]


def config(**kw: Any) -> types.GenerateContentConfig:
    image = {k: kw.pop(k) for k in ("aspect_ratio", "image_size") if k in kw}
    if image:
        kw["image_config"] = types.ImageConfig(**image)
    return types.GenerateContentConfig(**kw)


def picture(resp: types.GenerateContentResponse) -> Image.Image:
    parts = [p for p in resp.candidates[0].content.parts if p.inline_data and not p.thought]
    assert len(parts) == 1
    return Image.open(io.BytesIO(parts[0].inline_data.data))


def raw(emu: GeminiEmulator, model: str, body: dict[str, Any], version: str = "v1beta") -> Any:
    url = f"{emu.base_url}/{version}/models/{model}:generateContent"
    return httpx.post(url, json=body, headers={"x-goog-api-key": KEY}, timeout=30)


def prompt(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


# -- generation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "ratio", "pixels", "tokens"),
    [
        ("512", "16:9", (688, 384), 747),
        ("512", "21:9", (792, 336), 747),  # the docs' 792x168 is taken for a typo
        ("1K", "1:8", (384, 3072), 1120),
        ("2K", "4:5", (1856, 2304), 1680),
        ("4K", "16:9", (5504, 3072), 2520),
    ],
)
def test_a_generation_has_the_tables_size_and_tokens(
    emu: GeminiEmulator, size: str, ratio: str, pixels: tuple[int, int], tokens: int
):
    resp = client(emu).models.generate_content(
        model=FLASH,
        contents="a red fox in snow",
        config=config(aspect_ratio=ratio, image_size=size),
    )
    img = picture(resp)
    assert img.size == pixels and img.format == "JPEG"
    part = resp.candidates[0].content.parts[-1]
    assert part.inline_data.mime_type == "image/jpeg" and part.thought_signature
    usage = resp.usage_metadata
    out = {d.modality.value: d.token_count for d in usage.candidates_tokens_details}
    assert out["IMAGE"] == tokens
    assert usage.prompt_token_count == 5  # ceil(17 / 4)
    assert usage.thoughts_token_count  # 3.1 Flash always thinks, billed shown or not
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )
    assert resp.model_version == FLASH and resp.response_id
    assert emu.requests[-1] == ("POST", f"/v1/models/{FLASH}:generateContent")  # SDK 3.x: v1


def test_pro_and_2_5_have_their_own_tables(make: Any):
    emu = make(retired=())  # 2.5 as it answered before its shutdown (2026-10-02)
    c = client(emu, "v1beta")
    pro = c.models.generate_content(
        model=PRO, contents="a lamp", config=config(aspect_ratio="3:2", image_size="4K")
    )
    assert picture(pro).size == (5056, 3392)
    assert pro.usage_metadata.candidates_tokens_details[-1].token_count == 2000
    nb1 = c.models.generate_content(
        model=f"models/{NB1}", contents="a lamp", config=config(aspect_ratio="16:9")
    )
    assert picture(nb1).size == (1344, 768)
    assert nb1.usage_metadata.candidates_tokens_details[-1].token_count == 1290
    assert nb1.usage_metadata.thoughts_token_count is None  # 2.5 does not think
    assert emu.requests[-1] == ("POST", f"/v1beta/models/{NB1}:generateContent")


def test_same_request_same_bytes_and_a_fresh_response_id(emu: GeminiEmulator):
    one, two = raw(emu, FLASH, prompt("a teal kettle")), raw(emu, FLASH, prompt("a teal kettle"))
    parts = [r.json()["candidates"][0]["content"]["parts"] for r in (one, two)]
    assert parts[0] == parts[1]
    assert one.json()["responseId"] != two.json()["responseId"]
    assert one.headers["content-type"].startswith("application/json")


def test_camel_and_snake_case_bodies_mean_the_same(emu: GeminiEmulator):
    ref = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 40, 40)).save(ref, "PNG")
    data = base64.b64encode(ref.getvalue()).decode()
    image = {"mimeType": "image/png", "data": data}
    camel = {
        "contents": [{"role": "user", "parts": [{"text": "a vase"}, {"inlineData": image}]}],
        "generationConfig": {
            "responseModalities": ["IMAGE"],
            "imageConfig": {"aspectRatio": "4:3", "imageSize": "512"},
        },
    }
    inline = {"mime_type": "image/png", "data": data}
    snake = {
        "contents": [{"role": "user", "parts": [{"text": "a vase"}, {"inline_data": inline}]}],
        "generation_config": {
            "response_modalities": ["IMAGE"],
            "image_config": {"aspect_ratio": "4:3", "image_size": "512"},
        },
    }
    a, b = raw(emu, FLASH, camel, "v1"), raw(emu, FLASH, snake)
    assert a.status_code == b.status_code == 200, (a.text[:300], b.text[:300])
    pa, pb = (r.json()["candidates"][0]["content"]["parts"] for r in (a, b))
    assert pa == pb and [list(p) for p in pa] == [["inlineData", "thoughtSignature"]]
    assert Image.open(io.BytesIO(base64.b64decode(pa[0]["inlineData"]["data"]))).size == (600, 448)
    usage = a.json()["usageMetadata"]
    assert {"modality": "IMAGE", "tokenCount": 560} in usage["promptTokensDetails"]
    assert emu.bodies[-1] == snake  # what the client sent, as sent


def test_key_by_query_a_path_prefix_and_an_unknown_field(emu: GeminiEmulator):
    url = f"{emu.base_url}/gemini/v1beta/models/{FLASH}:generateContent?key={KEY}"
    assert httpx.post(url, json=prompt("a cup"), timeout=30).status_code == 200
    c = genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=f"{emu.base_url}/gemini/")
    )
    assert picture(c.models.generate_content(model=FLASH, contents="a cup")).size == (1024, 1024)
    assert emu.requests[-1][1].startswith("/gemini/v1/models/")
    bad = raw(emu, FLASH, {**prompt("a cup"), "image_config": {"imageSize": "1K"}})
    assert bad.status_code == 400
    assert 'Unknown name "image_config"' in bad.json()["error"]["message"]
    assert KEY in emu.keys_seen


# -- thoughts and grounding ------------------------------------------------------------------
def test_thoughts_show_when_asked_with_one_interim_image_at_high(emu: GeminiEmulator):
    c = client(emu)
    think = types.ThinkingConfig(thinking_level="HIGH", include_thoughts=True)
    parts = (
        c.models.generate_content(
            model=FLASH, contents="a red fox", config=config(thinking_config=think)
        )
        .candidates[0]
        .content.parts
    )
    kinds = [(bool(p.thought), "text" if p.text else "image") for p in parts]
    assert kinds == [(True, "text"), (True, "image"), (False, "text"), (False, "image")]
    assert [bool(p.thought_signature) for p in parts] == [False, False, True, True]
    assert parts[1].inline_data.mime_type == "image/png"
    minimal = types.ThinkingConfig(thinking_level="minimal", include_thoughts=True)
    parts = (
        c.models.generate_content(
            model=FLASH, contents="a red fox", config=config(thinking_config=minimal)
        )
        .candidates[0]
        .content.parts
    )
    assert [bool(p.thought) for p in parts] == [True, False, False]
    hidden = c.models.generate_content(model=FLASH, contents="a red fox")
    assert not any(p.thought for p in hidden.candidates[0].content.parts)
    assert "thinkingConfig" in emu.bodies[0]["generationConfig"]


def test_grounding_metadata_reaches_the_sdk(emu: GeminiEmulator):
    search = types.GoogleSearch(
        search_types=types.SearchTypes(
            web_search=types.WebSearch(), image_search=types.ImageSearch()
        )
    )
    resp = client(emu).models.generate_content(
        model=FLASH,
        contents="the Lisbon tram at dusk",
        config=config(tools=[types.Tool(google_search=search)]),
    )
    meta = resp.candidates[0].grounding_metadata
    assert meta.web_search_queries and meta.image_search_queries
    assert "<" in meta.search_entry_point.rendered_content
    web = [c.web for c in meta.grounding_chunks if c.web]
    pics = [c.image for c in meta.grounding_chunks if c.image]
    assert len(web) == 3 and web[0].uri.startswith("https://") and web[0].domain == web[0].title
    assert pics and pics[0].image_uri.endswith(".jpg") and pics[0].source_uri
    assert meta.grounding_supports[0].grounding_chunk_indices == [0, 1]
    plain = client(emu).models.generate_content(
        model=PRO,
        contents="a tram",
        config=config(tools=[types.Tool(google_search=types.GoogleSearch())]),
    )
    assert plain.candidates[0].grounding_metadata.image_search_queries is None


# -- multi-turn edits and signatures --------------------------------------------------------
def _warmth(img: Image.Image) -> float:
    r, _, b = ImageStat.Stat(img.convert("RGB")).mean
    return r - b


def test_an_edit_conversation_edits_the_last_image(emu: GeminiEmulator):
    c = client(emu)
    first = c.models.generate_content(model=FLASH, contents="a blue bottle on marble")
    turn1 = first.candidates[0].content
    history = [
        types.Content(role="user", parts=[types.Part(text="a blue bottle on marble")]),
        turn1,
    ]
    second = c.models.generate_content(
        model=FLASH,
        contents=[*history, types.Content(role="user", parts=[types.Part(text="make it warmer")])],
    )
    assert second.candidates[0].finish_reason == types.FinishReason.STOP
    sent = emu.bodies[-1]["contents"][1]["parts"]
    assert all("thoughtSignature" in p for p in sent)  # the SDK echoed them
    a, b = picture(first), picture(second)
    assert a.size == b.size and _warmth(b) > _warmth(a) + 5
    history += [
        types.Content(role="user", parts=[types.Part(text="make it warmer")]),
        second.candidates[0].content,
    ]
    third = c.models.generate_content(
        model=FLASH,
        contents=[*history, types.Content(role="user", parts=[types.Part(text="black and white")])],
    )
    grey = picture(third).convert("RGB")
    w, h = grey.size
    r, g, bl = ImageStat.Stat(grey.crop((w // 4, h // 4, w * 3 // 4, h * 3 // 4))).mean
    assert abs(r - bl) < 3 and abs(r - g) < 3  # the latest image, made grey (but its mark)
    chat = c.chats.create(model=FLASH)
    chat.send_message("a blue bottle on marble")
    assert picture(chat.send_message("make it warmer")).tobytes() == b.tobytes()


def _tampered(c: genai.Client, how: str) -> list[types.Content]:
    first = c.models.generate_content(model=FLASH, contents="a green chair")
    turn = first.candidates[0].content.model_copy(deep=True)
    image = turn.parts[-1]
    if how == "missing":
        image.thought_signature = None
    else:
        sig = bytearray(image.thought_signature)
        sig[5] ^= 0xFF
        image.thought_signature = bytes(sig)
    return [
        types.Content(role="user", parts=[types.Part(text="a green chair")]),
        turn,
        types.Content(role="user", parts=[types.Part(text="make it darker")]),
    ]


@pytest.mark.parametrize("how", ["missing", "tampered"])
def test_a_missing_or_wrong_signature_behaves_per_knob(make: Any, how: str):
    emu = make()
    assert GeminiFaults().missing_signature == "finish"
    c = client(emu)
    resp = c.models.generate_content(model=FLASH, contents=_tampered(c, how))
    cand = resp.candidates[0]
    assert cand.finish_reason == types.FinishReason.MISSING_THOUGHT_SIGNATURE
    assert cand.content is None
    emu.faults.missing_signature = "400"
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model=FLASH, contents=_tampered(c, how))
    assert err.value.code == 400 and "thought signature" in err.value.message
    assert ("missing" if how == "missing" else "invalid") in err.value.message
    emu.faults.missing_signature = "ignore"
    assert picture(c.models.generate_content(model=FLASH, contents=_tampered(c, how)))


def test_documented_dummy_signatures_and_huge_ones(make: Any):
    emu = make(signature_bytes=1_100_000)
    c = client(emu)
    first = c.models.generate_content(
        model=FLASH, contents="a kite", config=config(image_size="512")
    )
    turn = first.candidates[0].content
    assert len(turn.parts[-1].thought_signature) == 1_100_000
    turn.parts[-1].thought_signature = b"skip_thought_signature_validator"
    turn.parts[0].thought_signature = b"context_engineering_is_the_way_to_go"
    again = c.models.generate_content(
        model=FLASH,
        contents=[types.Content(role="user", parts=[types.Part(text="a kite")]), turn, "brighter"],
    )
    assert again.candidates[0].finish_reason == types.FinishReason.STOP


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "cfg", "needle"),
    [
        (FLASH, {"image_size": "3K"}, '"3K"'),
        (FLASH, {"image_size": "1k"}, '"1k"'),
        (FLASH, {"candidate_count": 2}, "Multiple candidates is not enabled for this model"),
        (NB1, {"image_size": "1K"}, '"1K"'),
        (NB1, {"candidate_count": 2}, f"Multiple candidates is not enabled for models/{NB1}"),
        (PRO, {"aspect_ratio": "1:8"}, '"1:8"'),
        (PRO, {"image_size": "512"}, '"512"'),
        (FLASH, {"thinking_config": types.ThinkingConfig(thinking_level="LOW")}, '"LOW"'),
        (PRO, {"tools": [types.Tool(google_search=IMAGE_SEARCH)]}, "Image search"),
    ],
)
def test_what_the_api_refuses_is_a_400(make: Any, model: str, cfg: dict, needle: str):
    emu = make(retired=())  # 2.5's refusals as they were before its shutdown
    with pytest.raises(errors.ClientError) as err:
        client(emu).models.generate_content(model=model, contents="a cat", config=config(**cfg))
    assert err.value.code == 400 and err.value.status == "INVALID_ARGUMENT"
    assert needle in err.value.message
    assert emu.generate_calls == 0


def test_keys(make: Any):
    emu = make(api_keys=("right",))
    with pytest.raises(errors.ClientError) as err:
        client(emu).models.generate_content(model=FLASH, contents="a cat")
    assert (
        err.value.code == 400
        and err.value.message == "API key not valid. Please pass a valid API key."
    )
    assert err.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    bare = httpx.post(f"{emu.base_url}/v1beta/models/{FLASH}:generateContent", json=prompt("a"))
    assert bare.status_code == 403 and bare.json()["error"]["status"] == "PERMISSION_DENIED"
    ok = client(emu, key="right")
    assert picture(ok.models.generate_content(model=FLASH, contents="a cat"))
    assert emu.keys_seen == {KEY, "right"}


def test_throttles_and_server_errors(make: Any):
    emu = make(throttle_next=1, retry_delay=7)
    c = client(emu)
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model=FLASH, contents="a cat")
    assert err.value.code == 429 and err.value.status == "RESOURCE_EXHAUSTED"
    details = err.value.details["error"]["details"]
    assert [d["@type"].rsplit(".", 1)[-1] for d in details] == ["Help", "QuotaFailure", "RetryInfo"]
    assert details[-1]["retryDelay"] == "7s" and "Please retry in 7.0s" in err.value.message
    emu.faults.throttle_next, emu.faults.throttle_bare = 1, True
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model=FLASH, contents="a cat")
    bare = "Resource has been exhausted (e.g. check quota)."
    assert err.value.details == {
        "error": {"code": 429, "message": bare, "status": "RESOURCE_EXHAUSTED"}
    }
    emu.faults.unavailable_next, emu.faults.internal_next = 1, 1
    with pytest.raises(errors.ServerError) as srv:
        c.models.generate_content(model=FLASH, contents="a cat")
    assert (
        srv.value.code == 503
        and srv.value.message == "The model is overloaded. Please try again later."
    )
    with pytest.raises(errors.ServerError) as srv:
        c.models.generate_content(model=FLASH, contents="a cat")
    assert srv.value.code == 500 and srv.value.status == "INTERNAL"
    assert picture(c.models.generate_content(model=FLASH, contents="a cat"))
    emu.faults.permission_denied = True
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model=FLASH, contents="a cat")
    assert err.value.code == 403
    assert (emu.faults.throttle_next, emu.faults.unavailable_next, emu.faults.internal_next) == (
        0,
        0,
        0,
    )


def test_rate_limit_window(make: Any):
    emu = make(rate_limit=(2, 60.0))
    c = client(emu)
    for _ in range(2):
        c.models.generate_content(model=FLASH, contents="a cat", config=config(image_size="512"))
    with pytest.raises(errors.ClientError) as err:
        c.models.generate_content(model=FLASH, contents="a cat")
    assert err.value.code == 429 and re.fullmatch(
        r"\d+s", err.value.details["error"]["details"][-1]["retryDelay"]
    )


def test_the_sdk_retries_what_its_options_say(make: Any):
    emu = make(unavailable_next=2)
    retry = types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.02)
    assert picture(
        client(emu, retry_options=retry).models.generate_content(model=FLASH, contents="a cat")
    )
    assert emu.faults.unavailable_next == 0 and emu.generate_calls == 1


# -- refusals -----------------------------------------------------------------------------------
def test_safety_finishes(emu: GeminiEmulator):
    c = client(emu)
    for word, reason in (
        ("[image_safety]", "IMAGE_SAFETY"),
        ("[prohibited]", "PROHIBITED_CONTENT"),
    ):
        resp = c.models.generate_content(model=FLASH, contents=f"a cat {word}")
        assert (
            resp.candidates[0].finish_reason.value == reason and resp.candidates[0].content is None
        )
        body = raw(emu, FLASH, prompt(f"a cat {word}")).json()
        assert (
            "content" not in body["candidates"][0]
            and "candidatesTokenCount" not in body["usageMetadata"]
        )
    other = c.models.generate_content(model=FLASH, contents="a cat [image_other]")
    assert other.candidates[0].finish_reason == types.FinishReason.IMAGE_OTHER
    body = raw(emu, FLASH, prompt("a cat [image_other]")).json()["candidates"][0]
    assert body["content"] == {} and "You will not be charged" in body["finishMessage"]
    none = c.models.generate_content(model=FLASH, contents="a cat [no_image]")
    assert none.candidates[0].finish_reason == types.FinishReason.NO_IMAGE
    assert none.text and not any(p.inline_data for p in none.candidates[0].content.parts)
    blocked = c.models.generate_content(model=FLASH, contents="a cat [block]")
    assert blocked.candidates is None
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT


# -- streaming ----------------------------------------------------------------------------------
def test_stream(emu: GeminiEmulator):
    think = types.ThinkingConfig(thinking_level="high", include_thoughts=True)
    chunks = list(
        client(emu).models.generate_content_stream(
            model=FLASH, contents="a cat", config=config(thinking_config=think, image_size="512")
        )
    )
    assert len(chunks) == 3 and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[0].candidates[0].content.parts[0].thought
    assert picture(chunks[-1]).size == (512, 512)
    assert emu.requests[-1][1].endswith(":streamGenerateContent?alt=sse")


# -- files and batches -----------------------------------------------------------------------------
def test_files_upload_get_list_delete_and_a_file_reference(emu: GeminiEmulator, tmp_path: Path):
    path = tmp_path / "ref.png"
    Image.new("RGB", (400, 400), (30, 60, 220)).save(path)
    c = client(emu, "v1beta")
    f = c.files.upload(file=path, config={"display_name": "ref"})
    assert f.name.startswith("files/") and f.size_bytes == path.stat().st_size
    assert f.state == types.FileState.ACTIVE and f.source == types.FileSource.UPLOADED
    assert c.files.get(name=f.name).display_name == "ref"
    assert [x.name for x in c.files.list()] == [f.name]
    part = types.Part.from_uri(file_uri=f.uri, mime_type="image/png")
    resp = c.models.generate_content(model=FLASH, contents=[part, "a mug in this colour"])
    assert picture(resp).size == (1024, 1024)
    assert resp.usage_metadata.prompt_tokens_details[-1].token_count == 560
    with pytest.raises(errors.ClientError):  # only generated files download
        c.files.download(file=f.name)
    c.files.delete(name=f.name)
    with pytest.raises(errors.ClientError) as err:
        c.files.get(name=f.name)
    assert err.value.code == 403


def _wait(c: genai.Client, name: str, timeout: float = 20) -> types.BatchJob:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = c.batches.get(name=name)
        if job.done:
            return job
        time.sleep(0.05)
    raise AssertionError("the batch never finished")


def test_a_batch_with_inline_requests(make: Any):
    emu = make(batch_latency=0.3)
    c = client(emu)
    src = [
        {"contents": [{"role": "user", "parts": [{"text": "a cat"}]}], "metadata": {"key": "k1"},
         "config": {"response_modalities": ["IMAGE"], "image_config": {"image_size": "512"}}},
        {"contents": [{"role": "user", "parts": [{"text": "a dog"}]}],
         "config": {"image_config": {"image_size": "1k"}}},
    ]  # fmt: skip
    job = c.batches.create(model=FLASH, src=src, config={"display_name": "two"})
    assert job.state == types.JobState.JOB_STATE_PENDING and job.display_name == "two"
    job = _wait(c, job.name)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED and job.end_time
    ok, bad = job.dest.inlined_responses
    assert ok.metadata == {"key": "k1"} and picture(ok.response).size == (512, 512)
    assert bad.error.code == 400 and "1k" in bad.error.message
    op = httpx.get(f"{emu.base_url}/v1/{job.name}", headers={"x-goog-api-key": KEY}).json()
    stats = {"requestCount": "2", "successfulRequestCount": "1", "failedRequestCount": "1"}
    assert op["done"] and op["metadata"]["batchStats"] == stats  # int64s are strings
    assert op["response"]["inlinedResponses"] == op["metadata"]["output"]["inlinedResponses"]
    assert [b.name for b in c.batches.list()] == [job.name]


def test_a_batch_from_a_file_answers_a_file(make: Any, tmp_path: Path):
    emu = make(batch_latency=0.3)
    c = client(emu, "v1beta")
    gen = {"responseModalities": ["IMAGE"], "imageConfig": {"imageSize": "512"}}
    lines = [
        {
            "key": f"r{i}",
            "request": {"contents": [{"parts": [{"text": f"bird {i}"}]}], "generation_config": gen},
        }
        for i in range(2)
    ]  # the file uses REST names, either casing
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    up = c.files.upload(file=path, config={"mime_type": "jsonl"})
    job = _wait(c, c.batches.create(model=FLASH, src=up.name).name)
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED and job.dest.file_name.startswith(
        "files/batch-"
    )
    rows = [json.loads(x) for x in c.files.download(file=job.dest.file_name).decode().splitlines()]
    assert [r.get("key") for r in rows] == ["r0", "r1", None]
    assert "response" in rows[0] and "error" in rows[2]
    image = rows[1]["response"]["candidates"][0]["content"]["parts"][-1]["inlineData"]["data"]
    assert Image.open(io.BytesIO(base64.b64decode(image))).size == (512, 512)
    assert c.files.get(name=job.dest.file_name).source == types.FileSource.GENERATED


def test_batch_cancel_delete_fail_and_pages(make: Any):
    emu = make(batch_latency=30)
    c = client(emu)
    src = [{"contents": [{"role": "user", "parts": [{"text": f"a cat {i}"}]}]} for i in range(3)]
    job = c.batches.create(model=FLASH, src=src)
    c.batches.cancel(name=job.name)
    time.sleep(0.2)
    job = c.batches.get(name=job.name)
    assert job.state == types.JobState.JOB_STATE_CANCELLED and job.dest is None
    assert emu.generate_calls == 0  # the unfinished requests never ran
    emu.faults.batch_latency, emu.faults.batch_fail, emu.faults.batch_expire = 0.1, 1, 1
    failed = _wait(c, c.batches.create(model=FLASH, src=src[:1]).name)
    expired = _wait(c, c.batches.create(model=FLASH, src=src[:1]).name)
    assert failed.state == types.JobState.JOB_STATE_FAILED
    assert expired.state == types.JobState.JOB_STATE_EXPIRED
    page = httpx.get(
        f"{emu.base_url}/v1/batches?pageSize=2", headers={"x-goog-api-key": KEY}
    ).json()
    assert len(page["operations"]) == 2 and page["nextPageToken"]
    assert len(list(c.batches.list(config={"page_size": 2}))) == 3
    c.batches.delete(name=job.name)
    with pytest.raises(errors.ClientError) as err:
        c.batches.get(name=job.name)
    assert err.value.code == 404


# -- the network -------------------------------------------------------------------------------
def test_connection_faults(make: Any):
    emu = make(drop_connections=1, garble_next=1, hang_requests=1)
    c = client(emu, timeout=500)  # ms
    with pytest.raises(Exception, match="disconnected"):
        c.models.generate_content(model=FLASH, contents="a cat")
    with pytest.raises(Exception, match=r"timed out|Timeout"):  # the hang: the client gives up
        c.models.generate_content(model=FLASH, contents="a cat")
    with pytest.raises(json.JSONDecodeError):
        c.models.generate_content(model=FLASH, contents="a cat")
    assert len(emu.hung) == len(emu.dropped) == 1
    emu.faults.slow_words = {"[slow]": 0.3}
    t = time.monotonic()
    long = config(http_options=types.HttpOptions(timeout=10_000))
    assert picture(c.models.generate_content(model=FLASH, contents="a cat [slow]", config=long))
    assert time.monotonic() - t >= 0.3
    assert emu.generate_calls == 2  # the garbled answer's run, and this one


def test_the_cli_starts_a_gemini_emulator():
    proc = subprocess.Popen(
        [sys.executable, "-m", "nb2.emulator", "--api", "gemini", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        assert "Gemini" in line
        resp = httpx.post(f"{url}/v1beta/models/{FLASH}:generateContent", json=prompt("a cat"),
                          headers={"x-goog-api-key": KEY}, timeout=30)  # fmt: skip
        assert resp.status_code == 200 and resp.json()["candidates"][0]["finishReason"] == "STOP"
    finally:
        proc.terminate()
        proc.wait(10)
