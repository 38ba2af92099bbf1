"""The Replicate backend through the official client, over loopback HTTP, against the emulator."""

import threading

import pytest

import nb2
from nb2 import errors
from nb2.backends.offline import OfflineBackend
from nb2.request.params import Params

from .conftest import TOKEN
from .sigint import sigint_when, when


def _polls(emu, pid):
    return sum(1 for m, p in emu.requests if m == "GET" and p == f"/v1/predictions/{pid}")


def _creates(emu):
    return sum(1 for m, p in emu.requests if m == "POST" and p.endswith("/predictions"))


def test_happy_path_matches_the_offline_renderer(emulator, backend, images):
    p = Params(
        "a glass bottle on marble",
        references=[images["palette"]],
        resolution="2K",
        aspect_ratio="16:9",
        output_format="png",
    )
    out = backend.run(p)
    assert out.data == OfflineBackend().run(p).data  # the same renderer behind the API
    assert out.prediction_id in emulator.created and out.model_version == "hidden"
    # the sync answer carried the output ("processing", no completed_at yet): taken at once
    assert out.image_inputs == ["data_uri"] and out.created_at and out.completed_at is None
    assert [m for m, path in emulator.requests if "/v1/predictions/" in path] == []


def test_sync_mode_answers_without_polling(emulator, backend):
    emulator.faults.latency = 0.3
    out = backend.run(Params("x"))
    assert _polls(emulator, out.prediction_id) == 0


def test_processing_with_null_output_is_polled_to_the_end(emulator, backend):
    emulator.faults.latency = 1.6
    backend.wait = 1  # the hold ends first: the create answers "processing", output null
    seen = []
    out = backend.run(Params("x"), on_status=seen.append)
    assert "processing" in seen and _polls(emulator, out.prediction_id) >= 1
    assert out.data[:3] == b"\xff\xd8\xff"  # a JPEG, the default format


def test_429_with_retry_after_in_the_body_only(emulator, backend):
    emulator.faults.throttle_creates = 2
    emulator.faults.retry_after = 0.3
    out = backend.run(Params("x"))
    assert len(emulator.created) == 1 and out.prediction_id == emulator.created[0]
    assert _creates(emulator) == 3  # two refused, one made


def test_retry_after_is_read_body_first_then_text_then_header():
    from nb2.backends.replicate.api import Answer

    body = {"detail": "Request was throttled. Your rate limit resets in ~7s.", "retry_after": 2}
    assert Answer(429, body, {"retry-after": "9"}).retry_after() == 2
    assert Answer(429, {**body, "retry_after": None}, {"retry-after": "9"}).retry_after() == 7
    old_form = {"detail": "Request was throttled. Expected available in 1 second."}
    assert Answer(429, old_form, {}).retry_after() == 1
    assert Answer(429, {"detail": "slow down"}, {"retry-after": "9"}).retry_after() == 9
    assert Answer(429, {"detail": "slow down", "retry_after": 1e400}, {}).retry_after() is None
    assert Answer(429, {"detail": "slow down"}, {}).retry_after() is None


def test_still_throttled_becomes_rate_limit_error(emulator, backend):
    backend.create_retries = 1
    emulator.faults.throttle_creates = 5
    emulator.faults.retry_after = 0.1
    with pytest.raises(errors.RateLimitError) as exc:
        backend.run(Params("x"))
    assert exc.value.retry_after == 0.1 and emulator.created == []


def test_503_while_polling_is_retried(emulator, backend):
    emulator.faults.latency = 1.3
    emulator.faults.poll_errors = 2
    backend.wait = 1
    out = backend.run(Params("x"))
    assert out.data and len(emulator.created) == 1


def test_401(emulator):
    emulator.faults.tokens = ("a-different-token",)
    b = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url)
    with pytest.raises(errors.AuthenticationError) as exc:
        b.run(Params("x"))
    assert "401" in str(exc.value) and TOKEN not in str(exc.value)


def test_402(emulator, backend):
    emulator.faults.credit = False
    with pytest.raises(errors.InsufficientCreditError, match="402"):
        backend.run(Params("x"))


def test_422_carries_the_servers_invalid_fields(emulator, backend):
    emulator.faults.refuse_field = "output_format"
    with pytest.raises(errors.ValidationError) as exc:
        backend.run(Params("x"))
    assert exc.value.invalid_fields[0]["field"] == "input.output_format"
    assert "input.output_format" in str(exc.value)


def test_moderation_is_its_own_error_and_not_retried(emulator, backend):
    with pytest.raises(errors.ModerationError, match="E005") as exc:
        backend.run(Params("[flag] something"))
    assert len(emulator.created) == 1 and exc.value.prediction_id == emulator.created[0]


def test_model_failure_has_id_and_logs(emulator, backend):
    emulator.faults.fail_next = 1
    with pytest.raises(errors.GenerationError) as exc:
        backend.run(Params("x"))
    assert not isinstance(exc.value, errors.ModerationError)
    assert exc.value.prediction_id == emulator.created[0] and "emulated" in exc.value.logs


def test_stop_cancels_remotely(emulator, backend):
    emulator.faults.latency = 10
    backend.wait = 1
    stop = threading.Event()
    when(lambda: emulator.created, stop.set)
    with pytest.raises(errors.CanceledError):
        backend.run(Params("x"), cancel=stop)
    assert emulator.canceled == emulator.created and len(emulator.created) == 1


def test_keyboard_interrupt_cancels_remotely_before_it_propagates(emulator, backend, tmp_path):
    emulator.faults.latency = 10
    backend.wait = 1
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    with sigint_when(lambda: emulator.created), pytest.raises(KeyboardInterrupt):
        s.generate("x")
    assert emulator.canceled == emulator.created and len(emulator.created) == 1
    (record,) = s.store.records()
    assert record["status"] == "canceled"


def test_keyboard_interrupt_in_the_backend_itself(emulator, backend):
    emulator.faults.latency = 10
    backend.wait = 1
    with sigint_when(lambda: emulator.created), pytest.raises(KeyboardInterrupt):
        backend.run(Params("x"))
    assert emulator.canceled == emulator.created and len(emulator.created) == 1


def test_a_lost_create_answer_is_found_not_repeated(emulator, backend):
    emulator.faults.drop_create_responses = 1
    out = backend.run(Params("a lighthouse"))
    assert len(emulator.created) == 1 and out.prediction_id == emulator.created[0]


def test_download_carries_no_authorization(emulator, backend):
    backend.run(Params("x"))
    assert emulator.downloads and all("Authorization" not in h for h in emulator.downloads)
    assert all("authorization" not in {k.lower() for k in h} for h in emulator.downloads)


def test_large_references_go_through_the_files_api_once(emulator, backend, images):
    backend.data_uri_limit = 100  # every image is "large"
    p = Params("x", references=[images["palette"], images["bottle"]])
    first = backend.run(p)
    second = backend.run(p.replace(prompt="y"))
    uploads = [p for m, p in emulator.requests if m == "POST" and p == "/v1/files"]
    assert len(uploads) == 2  # one per image, reused by hash the second time
    assert first.image_inputs == ["upload", "upload"]
    assert second.image_inputs == ["upload_reused", "upload_reused"]
    assert second.data == OfflineBackend().run(p.replace(prompt="y")).data


def test_session_over_replicate_end_to_end(emulator, backend, images, tmp_path):
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    r = s.generate(
        "a serum bottle",
        resolution="2K",
        aspect_ratio="16:9",
        references=[nb2.Reference(images["bottle"], role="subject")],
    )
    r2 = s.edit("darker")
    assert r.size == (2752, 1536) and r2.size == (2752, 1536)
    assert r.record["prediction_id"] in emulator.created and not r.offline
    assert r.record["estimated_cost"] == pytest.approx(0.101)
    assert r2.record["params"]["references"][0]["sha256"] == r.record["output"]["sha256"]


def test_no_token_is_a_clear_error():
    with pytest.raises(errors.AuthenticationError, match="REPLICATE_API_TOKEN"):
        nb2.ReplicateBackend()
