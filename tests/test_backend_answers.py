"""Backend pins without a server: how answers are read (a prediction, an error, a pause asked
for), which status is which named error, the backend's settings and the reference's defaults,
claims, the limiter, downloads that need no request. The pins over HTTP are in
test_backend_pins.py; both were written against the mutants scripts/mutate.py found alive."""

from __future__ import annotations

import email.utils
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import nb2
from nb2 import errors
from nb2.backends.download import download
from nb2.backends.ratelimit import RateLimiter
from nb2.backends.replicate.answers import map_answer, moderation
from nb2.backends.replicate.api import Answer, Prediction, Unreadable, parse_time
from nb2.backends.replicate.lost import Claims, request_key, wait_for_others

from .conftest import TOKEN


# -- claims: which predictions this process holds --------------------------------------------------
def test_claims_count_waiting_creates_and_hold_each_id_once():
    claims = Claims()
    key = request_key("m", {"b": 1, "a": 2})
    assert key == request_key("m", {"a": 2, "b": 1}) and key.startswith("m\n")
    claims.sending(key)
    claims.sending(key)
    assert claims.others_waiting(key) == 2
    claims.done_waiting(key)
    assert claims.others_waiting(key) == 1
    claims.done_waiting(key)
    assert claims.others_waiting(key) == 0 and claims.others_waiting("other") == 0
    assert claims.hold("p1") and not claims.hold("p1") and claims.holds("p1")
    assert not claims.holds("p2")


def test_waiting_for_identical_creates_asks_only_while_one_waits():
    claims, asked = Claims(), []

    def stop() -> bool:
        asked.append(1)
        return True

    wait_for_others(claims, "k", time.monotonic() + 30, stop)
    assert asked == []  # nobody waits: no question
    claims.sending("k")
    wait_for_others(claims, "k", time.monotonic() + 30, stop)
    assert asked == [1]  # one waits: the stop is asked, and ends it


# -- answers read defensively ---------------------------------------------------------------------
@pytest.mark.parametrize("obj", [None, "x", [], {}, {"id": 5}, {"id": ""}, {"status": "ok"}])
def test_what_is_not_a_prediction_is_unreadable(obj):
    with pytest.raises(Unreadable, match="not a prediction"):
        Prediction.parse(obj)


def test_an_unreadable_answer_is_quoted_short():
    with pytest.raises(Unreadable) as exc:
        Prediction.parse("x" * 500)
    assert str(exc.value) == "not a prediction: " + repr("x" * 120)


def test_a_prediction_keeps_what_nb2_reads_and_survives_odd_fields():
    p = Prediction.parse({"id": "p", "status": 7, "error": None, "metrics": "fast", "input": []})
    assert (p.status, p.error, p.metrics, p.input, p.terminal) == ("unknown", None, {}, None, False)
    p = Prediction.parse(
        {"id": "p", "status": "failed", "error": {"code": "E9"}, "data_removed": 1}
    )
    assert p.error == "{'code': 'E9'}" and p.data_removed is True and p.terminal
    assert Prediction.parse({"id": "p", "status": "x"}).data_removed is False


@pytest.mark.parametrize(
    ("status", "output", "url", "ready"),
    [
        ("succeeded", "http://o/1.jpg", "http://o/1.jpg", True),
        ("succeeded", None, None, True),
        ("processing", ["http://o/1.jpg", "http://o/2.jpg"], "http://o/1.jpg", True),
        ("starting", "http://o/1.jpg", "http://o/1.jpg", True),
        ("processing", None, None, False),
        ("processing", [], None, False),
        ("processing", "", None, False),
        ("processing", 5, None, False),
        ("failed", "http://o/1.jpg", "http://o/1.jpg", False),
        ("canceled", None, None, False),
    ],
)
def test_output_url_and_ready(status, output, url, ready):
    p = Prediction.parse({"id": "p", "status": status, "output": output})
    assert p.output_url == url and p.ready is ready


def test_terminal_statuses_are_the_references():
    for status in ("succeeded", "failed", "canceled", "aborted"):
        assert Prediction("p", status).terminal
    for status in ("starting", "processing", "unknown"):
        assert not Prediction("p", status).terminal
    assert Prediction("p", "starting").data_removed is False


def test_answer_ok_is_2xx_and_detail_falls_back_in_order():
    assert [Answer(s, None, {}).ok for s in (199, 200, 201, 299, 300)] == [
        False, True, True, True, False,
    ]  # fmt: skip
    assert Answer(404, {"detail": "d", "title": "t"}, {}, "text").detail() == "d"
    assert Answer(404, {"title": "t"}, {}, "text").detail() == "t"
    assert Answer(502, None, {}, "x" * 300).detail() == "x" * 200
    assert Answer(502, None, {}, "").detail() == "502"


def test_retry_after_takes_zero_and_fractions_and_skips_negatives():
    assert Answer(429, {"retry_after": 0}, {}).retry_after() == 0
    assert Answer(429, {"retry_after": 0.5}, {}).retry_after() == 0.5
    assert Answer(429, {"retry_after": -1}, {"retry-after": "4"}).retry_after() == 4
    later = Answer(429, {"detail": "Expected available in 3 seconds."}, {}).retry_after()
    assert later == 3
    assert Answer(429, {}, {"retry-after": "soon"}).retry_after() is None


def test_retry_after_as_an_http_date():
    when = email.utils.format_datetime(datetime.now(timezone.utc) + timedelta(seconds=90), True)
    assert 60 < Answer(429, {}, {"retry-after": when}).retry_after() <= 90
    gone = email.utils.format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), True)
    assert Answer(429, {}, {"retry-after": gone}).retry_after() == 0


def test_parse_time():
    assert parse_time("2025-03-01T10:00:00Z") == datetime(2025, 3, 1, 10, tzinfo=timezone.utc)
    assert parse_time("2025-03-01T10:00:00") == datetime(2025, 3, 1, 10, tzinfo=timezone.utc)
    assert parse_time("") is None and parse_time(None) is None and parse_time("soon") is None


@pytest.mark.parametrize(
    ("status", "body", "cls", "words"),
    [
        (401, {"detail": "bad token"}, errors.AuthenticationError, "401"),
        (402, {"detail": "no money"}, errors.InsufficientCreditError, "402"),
        (422, {"detail": "bad", "invalid_fields": [{"field": "input.x"}, "junk"]},
         errors.ValidationError, "at input.x:"),
        (422, {"detail": "bad"}, errors.ValidationError, "at input:"),
        (429, {"detail": "slow", "retry_after": 2}, errors.RateLimitError, "throttling"),
        (404, {"detail": "gone"}, errors.GenerationError, "p1 is not found"),
        (400, None, errors.GenerationError, "Replicate error 400"),
        (500, None, errors.GenerationError, "Replicate error 500"),
    ],
)  # fmt: skip
def test_every_status_maps_to_a_named_error(status, body, cls, words):
    err = map_answer(Answer(status, body, {}, "text"), "p1")
    assert type(err) is cls and words in str(err)
    if status == 422:
        assert err.field == ("input.x" if body.get("invalid_fields") else "input")
        assert err.invalid_fields == [f for f in body.get("invalid_fields", []) if f != "junk"]
    if status == 429:
        assert err.retry_after == 2
    if cls is errors.GenerationError:
        assert err.prediction_id == "p1"
    assert "is not found" not in str(map_answer(Answer(404, None, {}, "gone"))), "no id, no claim"


def test_moderation_is_told_by_e005_or_its_words():
    assert moderation("failed: E005") and moderation("was Flagged as Sensitive.")
    assert not moderation("Internal error")


# -- the backend's settings -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("wait", [1, 60], [0, 61, 1.5, True, "x", float("nan")]),
        ("timeout", [1, 86400], [0.5, 86401, float("inf")]),
        ("poll_interval", [0.01, 60], [0.001, 61]),
        ("max_retry_after", [0, 3600], [-1, 3601]),
        ("lost_create_grace", [0, 60], [-0.1, 61]),
        ("create_retries", [0, 100], [-1, 101, 2.5]),
    ],
)
def test_settings_are_checked_with_their_bounds(name, good, bad):
    for value in good:
        b = nb2.ReplicateBackend(api_token=TOKEN, **{name: value})
        assert getattr(b, name) == value
    for value in bad:
        with pytest.raises(errors.ValidationError) as exc:
            nb2.ReplicateBackend(api_token=TOKEN, **{name: value})
        assert exc.value.field == name


def test_defaults_are_the_references_numbers(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", TOKEN)
    monkeypatch.setenv("REPLICATE_BASE_URL", "http://127.0.0.1:9/")
    b = nb2.ReplicateBackend()
    assert b.limiter.per_minute == 600  # creates a minute
    assert b.data_uri_limit == 256 * 1024  # data URIs up to about 256 KB
    assert b.wait == 10 and b.create_retries == 6 and isinstance(b.wait, int)
    assert b.base_url == "http://127.0.0.1:9/" and b.offline is False
    assert b.describe() == {"name": "replicate", "offline": False, "base_url": "http://127.0.0.1:9"}
    assert TOKEN not in repr(b) and "token=set" in repr(b)
    monkeypatch.delenv("REPLICATE_BASE_URL")
    assert nb2.ReplicateBackend().describe()["base_url"] == "https://api.replicate.com"


def test_a_data_uri_output_is_decoded_without_a_request():
    got = download(None, "data:image/png;base64,aGVsbG8=", "p", deadline=time.monotonic() + 5)
    assert got == b"hello"


def test_a_download_with_no_time_left_is_not_tried():
    with pytest.raises(errors.UncollectedError, match="no attempt"):
        download(None, "http://127.0.0.1:9/x.jpg", "p", deadline=time.monotonic() - 1)


# -- the limiter on its own -----------------------------------------------------------------------
def test_the_limiter_gives_its_burst_then_refuses_past_a_deadline_or_on_a_stop():
    limiter = RateLimiter(per_minute=60, burst=3)
    for _ in range(3):
        limiter.acquire(deadline=time.monotonic() + 0.5)  # the burst: at once
    with pytest.raises(errors.RateLimitError) as exc:
        limiter.acquire(deadline=time.monotonic() + 0.5)  # the next token is a second away
    assert 0 < exc.value.retry_after <= 1
    stop = threading.Event()
    stop.set()
    with pytest.raises(errors.CanceledError):
        limiter.acquire(stop)
    small = RateLimiter(per_minute=6, burst=1)  # the reference's small account
    small.acquire(deadline=time.monotonic() + 0.5)
    with pytest.raises(errors.RateLimitError) as exc:
        small.acquire(deadline=time.monotonic() + 0.5)
    assert 9 < exc.value.retry_after <= 10  # a burst of 1: the next create 10 s later


def test_the_limiter_allows_its_minute_at_once_and_no_more_in_any_window():
    limiter = RateLimiter(per_minute=600, window=0.5)  # 600 a minute is 5 in half a second
    t0 = time.monotonic()
    for _ in range(5):
        limiter.acquire(deadline=t0 + 0.05)  # the window's share goes at once (no bucket)
    with pytest.raises(errors.RateLimitError):
        limiter.acquire(deadline=time.monotonic() + 0.1)  # the 6th waits for the oldest
    limiter.acquire(deadline=time.monotonic() + 1.0)
    assert time.monotonic() - t0 >= 0.5
    assert RateLimiter(600).capacity == 600 and RateLimiter(600).margin == 1.0


def test_a_429_pauses_once_then_paces_and_a_429_met_in_the_pace_halves_it():
    limiter = RateLimiter(per_minute=600, window=1.0)  # 10 in a window; the pace 10 a second
    for _ in range(5):
        limiter.acquire()
    limiter.pause(0.1)
    limiter.pause(0.1)  # the same wave's second 429: one pause, the pace kept
    assert limiter.throttles == 2 and limiter.pace == 10
    t0 = time.monotonic()
    limiter.acquire()  # after the pause
    t1 = time.monotonic()
    limiter.acquire()  # then one at a time, not the window's 5 left at once
    t2 = time.monotonic()
    assert t1 - t0 >= 0.09 and t2 - t1 >= 0.09
    limiter.pause(0.01)  # a 429 met in the pace: the server has less room than it seems
    assert limiter.pace == 5
    time.sleep(1.1)  # a quiet window, but below the full pace: still one at a time
    limiter.acquire()
    assert limiter.paced
    for _ in range(25):  # each create the server takes gives back a fiftieth
        limiter.passed()
    assert limiter.pace == pytest.approx(10)
    time.sleep(1.1)  # a quiet window at the full pace: the whole window at once again
    limiter.acquire()
    assert not limiter.paced


def test_a_429_starts_the_buckets_refill_again():
    limiter = RateLimiter(per_minute=60, burst=1)  # a token a second
    limiter.acquire()
    time.sleep(1.0)  # a token's worth of time, then the server says "slow down"
    limiter.pause(0.01)
    with pytest.raises(errors.RateLimitError):  # no token from the time before the 429
        limiter.acquire(deadline=time.monotonic() + 0.5)


def test_one_limiter_per_account_and_setting_keyed_without_the_secret():
    from nb2.backends import ratelimit

    a = ratelimit.for_account("r8_secret_a", "http://x", 600)
    assert ratelimit.for_account("r8_secret_a", "http://x", 600) is a
    assert ratelimit.for_account("r8_secret_b", "http://x", 600) is not a
    assert ratelimit.for_account("r8_secret_a", "http://y", 600) is not a
    assert ratelimit.for_account("r8_secret_a", "http://x", 6, 1) is not a
    assert not any("r8_secret" in key[0] for key in ratelimit._SHARED)
    b1 = nb2.ReplicateBackend(api_token=TOKEN, base_url="http://127.0.0.1:9")
    b2 = nb2.ReplicateBackend(api_token=TOKEN, base_url="http://127.0.0.1:9")
    assert b1.limiter is b2.limiter  # two sessions on one token draw from one minute
