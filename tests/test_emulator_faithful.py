"""The emulator answers as api.replicate.com does (its OpenAPI description, replicate-python's
recorded exchanges), through the official client and raw httpx; each opt-in fault does its job."""

from __future__ import annotations

import contextlib
import io
import re
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pydantic
import pytest
import replicate
from PIL import Image

from nb2.emulator import Emulator
from nb2.emulator.predictions import parse_duration

from .conftest import TOKEN

MODEL = "google/nano-banana-2"
CREATE = f"/v1/models/{MODEL}/predictions"
# replicate 1.x parses with pydantic's v1 API (pydantic.v1 under pydantic 2)
STRICT = (pydantic.ValidationError, getattr(pydantic, "v1", pydantic).ValidationError)
NOT_FOUND = {"detail": "The requested resource could not be found.", "status": 404}


@pytest.fixture
def make() -> Iterator[Any]:
    """Emulators with knobs, stopped at the end (even when a test fails)."""
    made: list[Emulator] = []

    def start(**knobs: Any) -> Emulator:
        made.append(Emulator(**knobs).start())
        return made[-1]

    yield start
    for emu in made:
        emu.stop()


def _api(emu: Emulator, token: str = TOKEN) -> httpx.Client:
    return httpx.Client(
        base_url=emu.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _client(emu: Emulator) -> replicate.Client:
    verify = ssl.create_default_context(cafile=str(emu.cafile)) if emu.cafile else True
    transport = httpx.HTTPTransport(verify=verify)  # trusts the https delivery's certificate
    return replicate.Client(api_token=TOKEN, base_url=emu.base_url, transport=transport)


def _create(api: httpx.Client, prompt: str = "x", **headers: str) -> httpx.Response:
    return api.post(CREATE, json={"input": {"prompt": prompt}}, headers=headers)


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


# -- 1. sync mode ---------------------------------------------------------------------------------
def test_a_sync_create_answers_processing_with_the_output_never_succeeded(make):
    emu = make(latency=0.1)
    api = _api(emu)
    r = _create(api, Prefer="wait=5")
    body = r.json()
    assert r.status_code == 201 and r.headers["content-type"].startswith("application/json")
    assert body["status"] == "processing" and body["output"].startswith(emu.delivery_url)
    assert not {"started_at", "completed_at", "metrics"} & body.keys()  # as recorded
    assert r.headers["preference-applied"] == "wait=5" and body["error"] is None
    got = api.get(f"/v1/predictions/{body['id']}").json()
    assert got["status"] == "succeeded" and got["output"] == body["output"]
    assert set(got["metrics"]) == {"predict_time", "total_time"}
    assert got["created_at"] <= got["started_at"] <= got["completed_at"]
    # the official client sees the same: never "succeeded" from a create
    pred = _client(emu).models.predictions.create(model=MODEL, input={"prompt": "y"}, wait=5)
    assert pred.status == "processing" and pred.output and pred.started_at is None


def test_a_hold_that_expires_answers_starting_with_null_output(make):
    emu = make(latency=5)
    t0 = time.monotonic()
    pred = _client(emu).models.predictions.create(model=MODEL, input={"prompt": "x"}, wait=1)
    assert 0.95 <= time.monotonic() - t0 < 4  # the 1 s hold, not the 5 s the model takes
    assert pred.status == "starting" and pred.output is None
    emu.faults.sync_expired_status = "processing"  # the other form seen in the wild
    r = _create(_api(emu), Prefer="wait=1").json()
    assert r["status"] == "processing" and r["output"] is None


def test_without_prefer_the_create_answers_starting_at_once(make):
    emu = make(latency=0.0, processing_after=0.0)  # done at once, and still "starting"
    api = _api(emu)
    for prompt in ("x", "[flag] blocked at once"):
        body = _create(api, prompt).json()
        assert body["status"] == "starting" and body["output"] is None and body["logs"] == ""
        assert body["error"] is None and not {"started_at", "completed_at", "metrics"} & body.keys()
    assert api.get(f"/v1/predictions/{body['id']}").json()["error"].endswith("(E005)")


def test_prefer_outside_1_to_60_is_a_422(make):
    emu = make()
    for prefer in ("wait=61", "wait=0", "wait=abc", "wait=1.5"):
        r = _create(_api(emu), Prefer=prefer)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["invalid_fields"][0]["field"] == "Prefer" and emu.created == []


# -- 2. errors ------------------------------------------------------------------------------------
def test_error_bodies_are_problem_documents_as_recorded(make):
    emu = make(tokens=("right",))
    r = _create(_api(emu, "wrong"))
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    detail = "You did not pass a valid authentication token"
    assert r.json() == {"title": "Unauthenticated", "detail": detail, "status": 401}
    api = _api(emu, "right")
    for path in ("/v1/predictions/nosuchthing", "/v1/files/nosuchthing", "/v1/nowhere"):
        r = api.get(path)
        assert r.status_code == 404 and r.json() == NOT_FOUND  # no title
        assert r.headers["content-type"] == "application/problem+json"
    emu.faults.credit = False
    r = _create(api)
    assert r.status_code == 402 and r.json()["title"] == "Insufficient credit"
    emu.faults.credit = True
    r = api.post(CREATE, json={"input": {"prompt": "x", "output_format": "gif"}})
    body = r.json()
    assert r.status_code == 422 and body["title"] == "Input validation failed"
    assert body["invalid_fields"][0]["field"] == "input.output_format"
    assert body["detail"].startswith("- input.output_format: ")
    with pytest.raises(replicate.exceptions.ReplicateError) as exc:
        _client(emu).models.predictions.create(model=MODEL, input={"prompt": "x"})
    assert exc.value.status == 401 and exc.value.title == "Unauthenticated"


# -- 3. the prediction object ---------------------------------------------------------------------
def test_keys_are_absent_until_they_exist_and_urls_have_no_nulls(make):
    emu = make(latency=10, processing_after=10)
    api = _api(emu)
    pid = _create(api).json()["id"]
    body = api.get(f"/v1/predictions/{pid}").json()
    assert body["status"] == "starting" and re.fullmatch(r"[a-z0-9]{26}", pid)
    assert not {"started_at", "completed_at", "metrics"} & body.keys()
    get, web = f"{emu.base_url}/v1/predictions/{pid}", f"https://replicate.com/p/{pid}"
    assert body["urls"] == {"get": get, "cancel": f"{get}/cancel", "web": web}
    assert body["version"] == "hidden" and body["data_removed"] is False
    canceled = api.post(f"/v1/predictions/{pid}/cancel").json()
    assert canceled["status"] == "canceled" and canceled["completed_at"]
    assert set(canceled["metrics"]) == {"predict_time", "total_time"}


def test_outputs_live_on_another_origin_and_get_no_credentials_from_nb2_style_downloads(make):
    emu = make()
    body = _create(_api(emu), Prefer="wait=5").json()
    out, api = urlsplit(body["output"]), urlsplit(emu.base_url)
    assert out.scheme == "http" and out.netloc != api.netloc and out.path.endswith(".jpeg")
    assert httpx.get(body["output"]).content[:3] == b"\xff\xd8\xff"  # no credentials
    assert emu.downloads and "Authorization" not in emu.downloads[-1]


def test_https_delivery_turns_outputs_into_file_output_for_the_client(make):
    emu = make(delivery_scheme="https", latency=0.05)
    assert emu.cafile is not None and emu.delivery_url.startswith("https://")
    out = _client(emu).run(MODEL, input={"prompt": "x", "output_format": "png"})
    assert isinstance(out, replicate.helpers.FileOutput)
    assert out.read()[:8] == b"\x89PNG\r\n\x1a\n"
    # the official client does send its token to the file host: the emulator shows it
    assert emu.downloads[-1]["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(httpx.ConnectError):  # untrusted without the CA file
        httpx.get(str(out))
    plain = make()
    assert isinstance(_client(plain).run(MODEL, input={"prompt": "x"}), str)  # http: a str


# -- 5. the account-wide list ---------------------------------------------------------------------
def test_list_pages_newest_first_with_next_over_a_busy_account(make):
    emu = make()
    emu.add_foreign(230, status="succeeded", spread=600)
    api = _api(emu)
    mine = [_create(api, f"mine {i}").json()["id"] for i in range(3)]
    page = _client(emu).predictions.list()
    assert len(page.results) == 100 and [p.id for p in page.results[:3]] == mine[::-1]
    assert page.previous is None and page.next.startswith(f"{emu.base_url}/v1/predictions?")
    seen, pages = [p.id for p in page.results], 1
    while page.next:
        page = _client(emu).predictions.list(cursor=page.next)
        seen += [p.id for p in page.results]
        pages += 1
        assert page.previous
    assert pages == 3 and len(seen) == len(set(seen)) == 233
    created = [p["created_at"] for p in api.get("/v1/predictions").json()["results"]]
    assert created == sorted(created, reverse=True)
    # created_after through the client's cursor, as the reference says replicate 1.0.7 allows
    since = api.get(f"/v1/predictions/{mine[0]}").json()["created_at"]
    page = _client(emu).predictions.list(cursor=f"/v1/predictions?created_after={since}")
    assert [p.id for p in page.results] == mine[::-1] and page.next is None
    before = api.get("/v1/predictions", params={"created_before": since}).json()
    assert len(before["results"]) == 100 and not set(mine) & {p["id"] for p in before["results"]}


def test_aborted_and_odd_foreign_predictions_break_the_strict_client_not_raw_reads(make):
    emu = make()
    aborted = emu.add_foreign(2, status="aborted")
    odd = emu.add_foreign(5, status="succeeded", odd=True)
    results = _api(emu).get("/v1/predictions").json()["results"]
    by_id = {p["id"]: p for p in results}
    assert {by_id[i]["status"] for i in aborted} == {"aborted"}
    assert "started_at" not in by_id[aborted[0]]
    assert any(p["urls"].get("web") is None for i, p in by_id.items() if i in odd)
    with pytest.raises(STRICT):  # "aborted" is not one of its statuses
        _client(emu).predictions.list()


# -- 6. Cancel-After ------------------------------------------------------------------------------
def test_cancel_after_aborts_before_start_and_cancels_while_running(make):
    emu = make(cancel_after_min=0, processing_after=5, latency=10)
    api = _api(emu)
    waiting = _create(api, **{"Cancel-After": "200ms"}).json()
    emu.faults.processing_after = 0.0
    running = _create(api, **{"Cancel-After": "0.25s"}).json()
    assert waiting["deadline"] and emu.cancel_after[waiting["id"]] == "200ms"
    time.sleep(0.35)
    first = api.get(f"/v1/predictions/{waiting['id']}").json()
    second = api.get(f"/v1/predictions/{running['id']}").json()
    assert first["status"] == "aborted" and "started_at" not in first
    assert second["status"] == "canceled" and second["started_at"] <= second["completed_at"]
    assert emu.cancel_after[_create(api).json()["id"]] is None  # none sent, none recorded


def test_cancel_after_is_a_go_duration_of_at_least_five_seconds(make):
    assert parse_duration("5m") == 300 and parse_duration("1h30m45s") == 5445
    assert parse_duration("30") == 30 and parse_duration("1.5h") == 5400
    assert parse_duration("300ms") == pytest.approx(0.3)
    assert parse_duration("5 minutes") is None and parse_duration("m5") is None
    api = _api(make())
    assert _create(api, **{"Cancel-After": "1s"}).status_code == 422  # under the minimum
    assert _create(api, **{"Cancel-After": "soon"}).status_code == 422
    ok = _create(api, **{"Cancel-After": "5m"}).json()
    assert ok["status"] == "starting" and ok["deadline"] > ok["created_at"]


# -- 7. Files API ---------------------------------------------------------------------------------
def test_files_are_json_objects_listed_deleted_and_readable_by_the_model(make):
    emu = make()
    api = _api(emu)
    made = _client(emu).files.create(
        io.BytesIO(_png()), filename="ref.png", content_type="image/png", metadata={"k": 1}
    )
    assert re.fullmatch(r"[a-z0-9]{26}", made.id) and made.size == len(_png())
    r = api.get(f"/v1/files/{made.id}")
    body = r.json()  # JSON, not the bytes
    assert body["name"] == "ref.png" and body["content_type"] == "image/png"
    assert body["metadata"] == {"k": 1} and body["etag"] == body["checksums"]["md5"]
    assert body["urls"]["get"] == f"{emu.base_url}/v1/files/{made.id}"
    life = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert life.total_seconds() == pytest.approx(86400, abs=0.001)
    listed = api.get("/v1/files").json()
    assert [f["id"] for f in listed["results"]] == [made.id] and listed["next"] is None
    inp = {"prompt": "x", "image_input": [body["urls"]["get"]]}  # the model reads it there
    pred = api.post(CREATE, json={"input": inp}, headers={"Prefer": "wait=5"}).json()
    assert pred["status"] == "processing" and pred["output"]
    r = api.delete(f"/v1/files/{made.id}")
    assert r.status_code == 204 and r.content == b""
    assert api.get(f"/v1/files/{made.id}").json() == NOT_FOUND
    failed = api.post(CREATE, json={"input": inp}, headers={"Prefer": "wait=5"}).json()
    assert failed["status"] == "failed" and "image input" in failed["error"]


# -- 8. throttling --------------------------------------------------------------------------------
def test_throttling_counts_creates_per_window_with_the_documented_body(make):
    emu = make(rate_limit=(2, 0.5))
    api = _api(emu)
    assert [_create(api).status_code for _ in range(2)] == [201, 201]
    r = _create(api)
    assert r.status_code == 429 and r.headers["content-type"] == "application/problem+json"
    detail = "Request was throttled. Your rate limit resets in ~1s."
    assert r.json() == {"detail": detail, "status": 429}  # no retry_after field
    assert "retry-after" not in r.headers
    assert api.get("/v1/predictions").status_code == 200  # only creates are limited
    time.sleep(0.55)
    assert _create(api).status_code == 201  # a new window
    emu.faults.retry_after_field = emu.faults.retry_after_header = True
    _create(api)
    r = _create(api)
    assert r.json()["retry_after"] == 1 and r.headers["retry-after"] == "1"
    emu.faults.throttle_old_message = True
    old = "Request was throttled. Expected available in 1 second."
    assert _create(api).json()["detail"] == old
    # the older counter knob still works, with its own (short) number in the text
    emu.faults.rate_limit, emu.faults.throttle_old_message = None, False
    emu.faults.throttle_creates, emu.faults.retry_after = 2, 0.3
    bodies = [_create(api) for _ in range(3)]
    assert [b.status_code for b in bodies] == [429, 429, 201]
    assert bodies[0].json()["detail"] == "Request was throttled. Your rate limit resets in ~0.3s."
    assert emu.faults.throttle_creates == 0


# -- 9. the server's clock ------------------------------------------------------------------------
def test_date_header_and_timestamps_follow_the_server_clock_and_its_skew(make):
    emu = make(clock_skew=-30.0)
    api = _api(emu)
    r = _create(api)
    now = datetime.now(timezone.utc)

    def behind(header: str) -> float:
        return (now - parsedate_to_datetime(header)).total_seconds()

    date = parsedate_to_datetime(r.headers["date"])
    created = datetime.fromisoformat(r.json()["created_at"])
    assert 29 < behind(r.headers["date"]) < 32 and 29.9 < (now - created).total_seconds() < 31
    for path in ("/v1/predictions", "/v1/nowhere"):  # every answer carries it
        assert 29 < behind(api.get(path).headers["date"]) < 32
    # a client filtering by its own clock misses its own prediction; the server's clock finds it
    mine = (now - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    theirs = (date - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    assert api.get("/v1/predictions", params={"created_after": mine}).json()["results"] == []
    assert len(api.get("/v1/predictions", params={"created_after": theirs}).json()["results"]) == 1
    assert api.get("/v1/predictions", params={"created_after": "yesterday"}).status_code == 400


# -- 10. garbage, opt-in --------------------------------------------------------------------------
def test_garbage_create_answers(make):
    emu = make(create_aborted=1, create_null_url=1)
    api = _api(emu)
    body = _create(api).json()
    assert body["status"] == "aborted" and body["urls"]["web"] is None
    assert api.get(f"/v1/predictions/{body['id']}").json()["status"] == "aborted"
    emu.faults.create_aborted = 1
    with pytest.raises(STRICT):  # the strict client cannot parse "aborted"
        _client(emu).models.predictions.create(model=MODEL, input={"prompt": "x"})
    emu.faults.create_malformed = 1
    r = _create(api)
    assert r.status_code == 201 and len(emu.created) == 3  # made all the same
    with pytest.raises(ValueError):
        r.json()  # JSON cut in half
    emu.faults.create_html = 1
    r = _create(api)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>") and len(emu.created) == 4


def test_garbage_downloads(make):
    emu = make(output_not_image=1)
    url = _create(_api(emu), Prefer="wait=5").json()["output"]
    r = httpx.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert not r.content.startswith(b"\xff\xd8") and httpx.get(url).content[:2] == b"\xff\xd8"
    emu.faults.output_huge = 300_000_000  # far more than the image; streamed, not built
    with httpx.stream("GET", url) as r:
        assert int(r.headers["content-length"]) == 300_000_000
        assert next(r.iter_bytes(1 << 20))[:2] == b"\xff\xd8"
    emu.faults.output_huge, emu.faults.output_slow = 0, 0.5
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url, timeout=httpx.Timeout(2.0, read=0.2))


def test_polls_that_fail_forever_and_a_503_with_retry_after(make):
    emu = make(poll_errors_forever=True, poll_retry_after=2)
    api = _api(emu)
    pid = _create(api).json()["id"]
    for _ in range(3):
        r = api.get(f"/v1/predictions/{pid}")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
    emu.faults.poll_errors_forever, emu.faults.poll_retry_after = False, None
    emu.faults.poll_errors, emu.faults.poll_error_status = 1, 502
    assert api.get(f"/v1/predictions/{pid}").status_code == 502
    assert api.get(f"/v1/predictions/{pid}").status_code == 200 and emu.faults.poll_errors == 0


def test_a_hung_request_waits_for_the_client_and_never_blocks_shutdown(make):
    emu = make(hang_requests=1)
    api = _api(emu)
    with pytest.raises(httpx.ReadTimeout):
        api.get("/v1/predictions", timeout=0.3)
    assert api.get("/v1/predictions").status_code == 200  # only the next N hang
    answers: list[int] = []

    def wait_long() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the stop closes the connection
            answers.append(api.get("/v1/predictions", timeout=30).status_code)

    emu.faults.hang_requests = 1
    t = threading.Thread(target=wait_long)
    t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    emu.stop()
    t.join(5)
    assert time.monotonic() - t0 < 4 and not t.is_alive() and answers == [] and len(emu.hung) == 2
