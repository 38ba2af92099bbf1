"""Pins for the Replicate backend's edges, each a mutant the mutation run found unpinned
(scripts/mutate.py backend): the "never pay twice" raise, statuses nobody mapped, downloads that
must not be retried, an unreachable server, polls that must not swallow a 4xx, the rate limiter.

Through the official client over loopback HTTP against the emulator, with a one-second sync
hold. Nothing waits on a clock: a fault is armed from ``on_status`` at the step it targets, and
the assertions read what the emulator saw (``requests``, ``created``, ``canceled``)."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import nb2
from nb2 import errors
from nb2.backends.download import download
from nb2.backends.replicate.api import Unreadable
from nb2.backends.replicate.lost import since_for
from nb2.emulator import Emulator
from nb2.request.params import Params

from .conftest import TOKEN
from .sigint import when


def _backend(emu: Emulator | str, **kw: Any) -> nb2.ReplicateBackend:
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("wait", 1)
    kw.setdefault("lost_create_grace", 0.05)
    url = emu if isinstance(emu, str) else emu.base_url
    return nb2.ReplicateBackend(api_token=TOKEN, base_url=url, **kw)


def _count(emu: Emulator, method: str, test: Any) -> int:
    return sum(1 for m, p in emu.requests if m == method and test(p))


def _creates(emu: Emulator) -> int:
    return _count(emu, "POST", lambda p: p.startswith("/v1/models/"))


def _lists(emu: Emulator) -> int:
    return _count(emu, "GET", lambda p: p.startswith("/v1/predictions?"))


def _polls(emu: Emulator, pid: str) -> int:
    return _count(emu, "GET", lambda p: p == f"/v1/predictions/{pid}")


def _cancels(emu: Emulator) -> int:
    return _count(emu, "POST", lambda p: p.endswith("/cancel"))


def _at(status: str, then: Any) -> Any:
    """An ``on_status`` that calls ``then()`` the first time the run says ``status``."""
    fired: list[bool] = []

    def on_status(s: str) -> None:
        if s == status and not fired:
            fired.append(True)
            then()

    return on_status


def _closed_port() -> str:
    """A loopback URL where nothing listens: a connect is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -- creates: lost, 5xx, 4xx ----------------------------------------------------------------------
def test_a_lost_create_whose_list_cannot_be_read_is_an_error_never_a_second_create(emulator):
    backend = _backend(emulator)
    emulator.faults.rate_limit_other = (1, 3600)
    backend.api.request("GET", "/v1/files", timeout=5)  # the one call allowed: all else is 429
    emulator.faults.drop_create_responses = 1
    with pytest.raises(errors.GenerationError, match="nothing is billed twice") as exc:
        backend.run(Params("a lighthouse"))
    assert "Unreadable" in str(exc.value)
    assert len(emulator.created) == 1 and _creates(emulator) == 1
    assert _lists(emulator) == 3  # three tries at the list, then give up rather than resend


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_on_create_is_looked_up_and_the_prediction_it_made_is_used(emulator, status):
    emulator.faults.create_html = 1
    emulator.faults.create_html_status = status
    out = _backend(emulator).run(Params("a lighthouse"))
    assert emulator.created == [out.prediction_id] and _creates(emulator) == 1
    assert _lists(emulator) >= 1 and out.data[:3] == b"\xff\xd8\xff"


def test_a_create_cut_before_the_server_acted_is_sent_again_once(emulator):
    emulator.faults.drop_connections = 1  # read, never acted on: nothing made
    out = _backend(emulator).run(Params("a lighthouse"))
    assert emulator.created == [out.prediction_id]
    assert _creates(emulator) == 2 and _lists(emulator) >= 1  # looked first, then resent


@pytest.mark.parametrize("status", [400, 404, 418])
def test_an_unmapped_4xx_on_create_is_a_named_error_sent_once(emulator, status):
    emulator.faults.create_html = 1
    emulator.faults.create_html_status = status
    with pytest.raises(errors.GenerationError, match=f"Replicate error {status}"):
        _backend(emulator).run(Params("x"))
    assert _creates(emulator) == 1 and _lists(emulator) == 0


def test_a_create_refused_at_once_is_not_sent_again(emulator):
    emulator.faults.credit = False
    with pytest.raises(errors.InsufficientCreditError):
        _backend(emulator).run(Params("x"))
    assert _creates(emulator) == 1 and emulator.created == []


# -- an unreachable server ------------------------------------------------------------------------
def test_an_unreachable_server_is_not_called_a_rate_limit():
    with pytest.raises(errors.GenerationError, match="after 2 tries") as exc:
        _backend(_closed_port(), create_retries=1).run(Params("x"))
    assert not isinstance(exc.value, errors.RateLimitError)
    assert "reach" in str(exc.value)


def test_a_429_then_a_lost_answer_is_not_reported_as_still_throttled(emulator):
    emulator.faults.throttle_creates = 1
    emulator.faults.retry_after = 0.01
    emulator.faults.drop_every = 2  # the second create is cut before the server acts on it
    with pytest.raises(errors.GenerationError, match="after 2 tries: its answers were lost"):
        _backend(emulator, create_retries=1).run(Params("x"))
    assert emulator.created == [] and _creates(emulator) == 2 and _lists(emulator) == 1


def test_an_unreachable_server_near_the_deadline_is_not_called_a_rate_limit():
    why = "within this run's time limit: the server could not be reached"
    with pytest.raises(errors.GenerationError, match=why) as exc:
        _backend(_closed_port(), timeout=1).run(Params("x"))  # the pause would pass the limit
    assert not isinstance(exc.value, errors.RateLimitError)


def test_no_pause_after_the_last_try():
    with pytest.raises(errors.GenerationError, match="after 1 tries: the server could not"):
        _backend(_closed_port(), timeout=1, create_retries=0).run(Params("x"))


# -- polls ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [400, 404])
def test_a_4xx_while_polling_is_a_named_error_at_once(emulator, status):
    (pid,) = emulator.add_foreign(1, status="processing")
    emulator.faults.poll_errors = 1
    emulator.faults.poll_error_status = status
    with pytest.raises(errors.GenerationError, match=str(status)) as exc:
        _backend(emulator).collect(pid, "jpg", running="wait", timeout=30)
    assert exc.value.prediction_id == pid and _polls(emulator, pid) == 1


def test_a_4xx_while_a_run_polls_ends_the_run_with_its_id(emulator):
    emulator.faults.latency = 30  # the one-second hold ends first: the run polls

    def fail_polls() -> None:
        emulator.faults.poll_errors = 1
        emulator.faults.poll_error_status = 400

    backend = _backend(emulator)
    with pytest.raises(errors.GenerationError, match="400") as exc:
        backend.run(Params("x"), on_status=_at("starting", fail_polls))
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and _polls(emulator, pid) == 1


def test_unreadable_answers_while_polling_are_tried_again(emulator):
    emulator.faults.latency = 1.3
    emulator.faults.poll_retry_after = 0.01  # their pause: the test need not wait

    def garble_polls() -> None:
        emulator.faults.poll_errors = 3
        emulator.faults.poll_error_status = 200  # a 200 whose body is no prediction

    out = _backend(emulator).run(Params("x"), on_status=_at("starting", garble_polls))
    assert emulator.created == [out.prediction_id] and out.data[:3] == b"\xff\xd8\xff"
    assert _polls(emulator, out.prediction_id) >= 4 and emulator.faults.poll_errors == 0


def test_a_collect_of_a_running_prediction_can_leave_or_cancel_it(emulator):
    (pid,) = emulator.add_foreign(1, status="processing")
    backend = _backend(emulator)
    assert backend.collect(pid, "jpg", running="leave") is None
    assert emulator.canceled == []
    with pytest.raises(errors.CanceledError, match="still running; canceled") as exc:
        backend.collect(pid, "jpg", running="cancel")
    assert exc.value.prediction_id == pid and emulator.canceled == [pid]


# -- stops and cancels ----------------------------------------------------------------------------
def test_a_stop_while_polling_cancels_at_the_server_once(emulator):
    emulator.faults.latency = 30
    stop = threading.Event()
    with pytest.raises(errors.CanceledError, match=r"^stopped$") as exc:
        _backend(emulator).run(Params("x"), cancel=stop, on_status=_at("starting", stop.set))
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and emulator.canceled == [pid]
    assert emulator.predictions[pid].status == "canceled" and _cancels(emulator) == 1


def test_a_cancel_answered_404_is_not_tried_again(emulator):
    emulator.faults.latency = 30
    stop = threading.Event()

    def vanish_then_stop() -> None:
        emulator.predictions.clear()  # gone at the server: its cancel answers 404
        stop.set()

    with pytest.raises(errors.CanceledError) as exc:
        _backend(emulator).run(
            Params("x"), cancel=stop, on_status=_at("starting", vanish_then_stop)
        )
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and _cancels(emulator) == 1


# -- downloads ------------------------------------------------------------------------------------
def test_a_4xx_download_is_final_and_keeps_the_id(emulator):
    def expire() -> None:
        emulator.faults.data_retention = -1.0  # the delivery host answers 404 from now on

    backend = _backend(emulator)
    with pytest.raises(errors.UncollectedError, match="HTTP 404") as exc:
        backend.run(Params("x"), on_status=_at("downloading", expire))
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and len(emulator.downloads) == 1


def test_a_download_cut_once_is_tried_again(emulator):
    def cut() -> None:
        emulator.faults.drop_connections = 1

    out = _backend(emulator).run(Params("x"), on_status=_at("downloading", cut))
    assert len(emulator.dropped) == 1 and len(emulator.downloads) == 1
    assert out.data[:3] == b"\xff\xd8\xff" and emulator.created == [out.prediction_id]


# -- the rate limiter -----------------------------------------------------------------------------
def test_creates_past_the_bucket_wait_for_the_limiter_not_the_server(emulator):
    backend = _backend(emulator, creates_per_minute=1, burst=2, timeout=5)
    backend.run(Params("one"))
    backend.run(Params("two"))
    with pytest.raises(errors.RateLimitError, match="rate limit"):
        backend.run(Params("three"))  # the next slot is a minute away, past the 5 s limit
    assert len(emulator.created) == 2 and _creates(emulator) == 2


def test_a_429_empties_the_bucket_for_every_create(emulator):
    backend = _backend(emulator, creates_per_minute=1, burst=5, timeout=5)
    emulator.faults.throttle_creates = 1
    emulator.faults.retry_after = 0.05
    with pytest.raises(errors.RateLimitError, match="rate limit"):
        backend.run(Params("x"))  # a token was left, but the 429 took them all
    assert _creates(emulator) == 1 and emulator.created == []


# -- the prediction list, and finding what a lost create made -------------------------------------
def _since(minutes: float = 10) -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=minutes)


def test_the_list_is_read_to_its_last_page_and_a_longer_one_is_unreadable(emulator):
    emulator.faults.page_size = 1
    emulator.add_foreign(50, spread=5.0)
    api = _backend(emulator).api
    assert len(api.list_since(_since(), timeout=5)) == 50  # exactly 50 pages: all read
    assert _lists(emulator) == 50
    emulator.add_foreign(1, spread=0.0)
    with pytest.raises(Unreadable, match="more than 50 pages"):
        api.list_since(_since(), timeout=5)


def test_an_orphan_is_the_oldest_unheld_prediction_of_the_same_request(emulator):
    a = _backend(emulator)
    p = Params("a lighthouse")
    first, second = a.run(p).prediction_id, a.run(p).prediction_id
    a.run(Params("another prompt"))
    (junk,) = emulator.add_foreign(1, spread=0.0)  # the newest entry, and no prediction
    emulator.foreign[junk].body["id"] = None
    data = p.scalar_input()
    assert a.find_orphan(p.model, data, _since()) is None  # this process holds both
    b = _backend(emulator)  # another kernel: holds none
    assert b.find_orphan("google/nano-banana", data, _since()) is None  # another model
    assert b.find_orphan(p.model, data, _since()).id == first  # the oldest first
    assert b.find_orphan(p.model, data, _since()).id == second
    assert b.find_orphan(p.model, data, _since()) is None  # each is claimed once


def test_a_listed_entry_older_than_since_is_not_taken_and_an_undated_one_is(emulator):
    """A server that ignores ``created_after``: the client checks ``created_at`` itself."""
    p = Params("a lighthouse")
    old, new, undated, blank = emulator.add_foreign(4, spread=0.0)
    for fid in (old, new, undated):
        emulator.foreign[fid].body["input"] = p.scalar_input()
    emulator.foreign[blank].body["input"] = None  # no input to compare: never taken as ours
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    emulator.foreign[old].odd_created_at = hour_ago.isoformat().replace("+00:00", "Z")
    emulator.foreign[undated].odd_created_at = "not a time"
    b = _backend(emulator)
    got = [b.find_orphan(p.model, p.scalar_input(), _since()) for _ in range(3)]
    assert [g.id if g else None for g in got] == [new, undated, None]


def test_an_orphan_with_uploads_matches_by_the_number_of_images(emulator, images):
    """As nb2.recover asks: the upload URLs are not known any more, their count is."""
    p = Params("a lighthouse", references=[images["palette"], images["face"]])
    made = _backend(emulator).run(p).prediction_id
    data = {**p.scalar_input(), "image_input": None, "image_count": 1}
    b = _backend(emulator)
    assert b.find_orphan(p.model, data, _since()) is None
    assert b.find_orphan(p.model, {**data, "prompt": "other"}, _since()) is None
    assert b.find_orphan(p.model, {**data, "image_count": 2}, _since()).id == made


def test_since_is_the_servers_clock_less_a_margin(emulator):
    emulator.faults.clock_skew = -600.0  # the server's clock is ten minutes behind
    api = _backend(emulator).api
    assert api.server_now() is None
    before = since_for(api)  # no Date header yet: two minutes back by the local clock
    assert abs((datetime.now(timezone.utc) - before).total_seconds() - 120) < 30
    api.request("GET", "/v1/files", timeout=5)
    server = api.server_now()
    assert server is not None
    assert abs((datetime.now(timezone.utc) - server).total_seconds() - 600) < 30
    assert 2 < (server - since_for(api)).total_seconds() < 10


# -- a run's steps --------------------------------------------------------------------------------
def test_a_run_says_each_step_and_journals_the_id_before_waiting(emulator):
    emulator.faults.latency = 1.3  # past the hold: the run polls
    seen: list[str] = []
    journal: list[tuple[str, list[str]]] = []
    out = _backend(emulator).run(
        Params("x", output_format="png"),
        on_status=seen.append,
        on_created=lambda pid: journal.append((pid, list(seen))),
    )
    assert journal == [(out.prediction_id, ["queued"])]
    assert seen[0] == "queued" and seen[-1] == "downloading" and "starting" in seen
    assert out.format == "png" and out.data[:4] == b"\x89PNG" and out.predict_time
    assert out.model_version == "hidden" and out.completed_at and out.started_at


def test_a_journal_that_fails_cancels_the_prediction_and_raises(emulator):
    emulator.faults.latency = 30

    def journal(pid: str) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _backend(emulator).run(Params("x"), on_created=journal)
    assert emulator.canceled == emulator.created and len(emulator.created) == 1


def test_a_run_past_its_time_is_canceled_and_says_so(emulator):
    emulator.faults.latency = 30
    with pytest.raises(errors.GenerationError, match="took longer than 1 s; canceled") as exc:
        _backend(emulator, timeout=1).run(Params("x"))
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and emulator.canceled == [pid]
    assert not isinstance(exc.value, errors.UncollectedError)
    assert emulator.cancel_after[pid] == "5s"  # the API's shortest Cancel-After


def test_a_run_past_its_time_that_cannot_be_canceled_is_left_for_recover(emulator):
    emulator.faults.latency = 30
    backend = _backend(emulator, timeout=1)
    emulator.faults.rate_limit_other = (1, 3600)
    backend.api.request("GET", "/v1/files", timeout=5)  # from now on every cancel is a 429
    with pytest.raises(errors.UncollectedError, match="could not be canceled") as exc:
        backend.run(Params("x"))
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and _cancels(emulator) == 3  # tried three times
    assert emulator.predictions[pid].status not in ("canceled", "succeeded")


# -- collecting a recorded prediction -------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "cls", "words"),
    [
        ("canceled", errors.CanceledError, "was canceled"),
        ("failed", errors.GenerationError, "failed: Internal error (someone else's)"),
        ("aborted", errors.GenerationError, "aborted: its deadline (Cancel-After) passed"),
        ("succeeded", errors.UncollectedError, "could not be downloaded (HTTP 404)"),
    ],
)
def test_collect_names_how_a_prediction_ended(emulator, status, cls, words):
    (pid,) = emulator.add_foreign(1, status=status)  # its output URL is not served: a 404
    with pytest.raises(cls, match=re.escape(words)) as exc:
        _backend(emulator).collect(pid, "jpg")
    assert exc.value.prediction_id == pid
    assert len(emulator.downloads) == (status == "succeeded")


def test_collect_of_a_blocked_or_emptied_prediction(emulator):
    blocked, emptied = emulator.add_foreign(2, status="failed")
    emulator.foreign[blocked].body["error"] = "flagged as sensitive (E005)"
    emulator.foreign[emptied].body.update(status="succeeded", output=None, data_removed=True)
    backend = _backend(emulator)
    with pytest.raises(errors.ModerationError, match="E005"):
        backend.collect(blocked, "jpg")
    with pytest.raises(errors.GenerationError, match="no output") as exc:
        backend.collect(emptied, "jpg")
    assert exc.value.prediction_id == emptied and emulator.downloads == []


def test_collect_waits_for_a_running_prediction_when_asked(emulator):
    emulator.faults.latency = 1.0
    p = Params("x", output_format="png")
    pred = emulator.create(p.model, p.scalar_input(), None)  # made elsewhere, still running
    backend = _backend(emulator)
    assert backend.collect(pred.id, "png") is None  # left, by default
    out = backend.collect(pred.id, "png", running="wait", timeout=30)
    assert out is not None and out.prediction_id == pred.id and out.data[:4] == b"\x89PNG"
    assert _polls(emulator, pred.id) >= 2 and emulator.canceled == []


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_transient_status_while_polling_is_tried_again(emulator, status):
    p = Params("x")
    pred = emulator.create(p.model, p.scalar_input(), None)
    emulator.faults.poll_errors = 1
    emulator.faults.poll_error_status = status
    emulator.faults.poll_retry_after = 0.01
    out = _backend(emulator).collect(pred.id, "jpg", running="wait", timeout=30)
    assert out is not None and out.prediction_id == pred.id
    assert emulator.faults.poll_errors == 0 and _polls(emulator, pred.id) >= 2


# -- a stop during the create ---------------------------------------------------------------------
def test_a_stop_during_the_sync_hold_cancels_what_the_create_made(emulator):
    emulator.faults.latency = 30
    stop = threading.Event()
    with pytest.raises(errors.CanceledError, match="during the create; canceled") as exc:
        # the hold is 5 s: found in the list and canceled within it, not after the answer
        _backend(emulator, wait=5).run(Params("x"), cancel=stop, on_status=_at("queued", stop.set))
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and emulator.canceled == [pid]  # once
    assert emulator.predictions[pid].status == "canceled"


# -- images in ------------------------------------------------------------------------------------
def test_an_upload_cut_short_is_a_named_error_and_nothing_is_created(emulator, images):
    emulator.faults.drop_connections = 1  # the upload's connection
    p = Params("x", references=[images["palette"]])
    with pytest.raises(errors.GenerationError, match=re.escape("uploading palette.jpg failed")):
        _backend(emulator, data_uri_limit=100).run(p)
    assert emulator.created == [] and _creates(emulator) == 0


def test_an_upload_refused_is_the_servers_error(emulator, images):
    emulator.faults.tokens = ("another-token",)
    p = Params("x", references=[images["palette"]])
    with pytest.raises(errors.AuthenticationError, match="401"):
        _backend(emulator, data_uri_limit=100).run(p)
    assert emulator.created == [] and _creates(emulator) == 0


def test_a_reference_at_the_data_uri_limit_is_sent_inline(emulator, images):
    size = images["palette"].stat().st_size
    p = Params("x", references=[images["palette"]])
    assert _backend(emulator, data_uri_limit=size).run(p).image_inputs == ["data_uri"]
    assert _backend(emulator, data_uri_limit=size - 1).run(p).image_inputs == ["upload"]


# -- outputs --------------------------------------------------------------------------------------
def test_an_output_of_exactly_the_limit_is_kept(emulator):
    size = len(_backend(emulator).run(Params("x")).data)  # the renderer is deterministic
    assert len(_backend(emulator, max_output_bytes=size).run(Params("x")).data) == size
    with pytest.raises(errors.GenerationError, match=f"over {size - 1} bytes"):
        _backend(emulator, max_output_bytes=size - 1).run(Params("x"))


def test_a_download_is_tried_three_times(emulator):
    began: list[float] = []

    def cut_three() -> None:
        began.append(time.monotonic())
        emulator.faults.drop_connections = 3

    with pytest.raises(errors.UncollectedError, match="RemoteProtocolError") as exc:
        _backend(emulator).run(Params("x"), on_status=_at("downloading", cut_three))
    assert exc.value.prediction_id == emulator.created[0]
    assert len(emulator.dropped) == 3 and emulator.downloads == []
    # with a pause between tries (0.5 s, then 1 s), not three at once into the same fault
    assert time.monotonic() - began[0] >= 1.4


def test_a_download_follows_a_redirect_without_the_token(emulator):
    emulator.faults.output_redirects = 1
    out = _backend(emulator).run(Params("x"))
    assert emulator.faults.output_redirects == 0 and len(emulator.downloads) == 2
    assert out.data[:2] == b"\xff\xd8"  # the image, from its second address
    assert not any("authorization" in {k.lower() for k in h} for h in emulator.downloads)


def test_an_unsized_download_is_cut_at_the_cap_while_it_streams(emulator):
    emulator.faults.output_unsized = True
    emulator.faults.output_huge = 64 * 1024 * 1024
    backend = _backend(emulator, max_output_bytes=1024 * 1024)
    with pytest.raises(errors.GenerationError, match="over 1048576 bytes") as exc:
        backend.run(Params("x"))
    assert exc.value.prediction_id == emulator.created[0]
    emulator.faults.output_huge = 0  # an unsized answer of a normal size is read whole
    assert backend.run(Params("y")).data[:2] == b"\xff\xd8"


def test_collect_with_cancel_keeps_an_image_that_finished_before_the_cancel(emulator):
    """Running when collect looks, done by the time its cancel lands: the cancel's answer
    says succeeded, so the paid image is collected, never called canceled."""
    emulator.faults.latency = 30
    p = Params("x", output_format="png")
    pred = emulator.create(p.model, p.scalar_input(), None)
    backend = _backend(emulator)
    real = backend._cancel

    def finished_first(pid: str) -> Any:
        assert pred.rendered.wait(10)
        pred.done_at = time.monotonic()  # the model finishes just before the cancel arrives
        return real(pid)

    backend._cancel = finished_first  # type: ignore[method-assign]
    out = backend.collect(pred.id, "png", running="cancel", timeout=30)
    assert out is not None and out.prediction_id == pred.id and out.data[:4] == b"\x89PNG"
    assert _cancels(emulator) == 1


def test_a_download_with_half_a_second_left_is_still_made(emulator):
    p = Params("x")
    pred = emulator.create(p.model, p.scalar_input(), None)
    assert pred.rendered.wait(10)
    url = _backend(emulator).api.request("GET", f"/v1/predictions/{pred.id}", timeout=5).body
    with httpx.Client() as http:
        data = download(http, url["output"], pred.id, deadline=time.monotonic() + 0.5)
    assert data == pred.data


class _StopOn(logging.Handler):
    """Sets ``stop`` when the backend logs ``words``: a step with no status of its own."""

    def __init__(self, words: str, stop: threading.Event) -> None:
        super().__init__()
        self.words, self.stop = words, stop

    def emit(self, record: logging.LogRecord) -> None:
        if self.words in record.getMessage():
            self.stop.set()


@contextlib.contextmanager
def _stop_on(words: str, stop: threading.Event) -> Iterator[None]:
    handler = _StopOn(words, stop)
    log = logging.getLogger("nb2.replicate")
    old_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)


def test_a_stop_while_a_lost_create_is_looked_up_cancels_what_it_made(emulator):
    emulator.faults.latency = 30
    emulator.faults.drop_create_responses = 1
    stop = threading.Event()
    with _stop_on("create answer lost", stop), pytest.raises(errors.CanceledError) as exc:
        _backend(emulator, lost_create_grace=30).run(Params("x"), cancel=stop)
    (pid,) = emulator.created
    assert exc.value.prediction_id == pid and emulator.canceled == [pid]
    assert _creates(emulator) == 1


def test_collect_when_the_api_fails_for_its_whole_time_leaves_it_for_later(emulator):
    (pid,) = emulator.add_foreign(1, status="succeeded")
    emulator.faults.poll_errors_forever = True  # every GET of it answers 503
    emulator.faults.poll_retry_after = 0.05
    with pytest.raises(errors.UncollectedError, match="could not be read") as exc:
        _backend(emulator).collect(pid, "jpg", timeout=1)
    assert exc.value.prediction_id == pid and _polls(emulator, pid) >= 2
    assert emulator.canceled == []


def test_a_stop_during_a_throttle_pause_ends_it_before_any_create(emulator):
    emulator.faults.throttle_creates = 1
    emulator.faults.retry_after = 30
    stop = threading.Event()
    with (
        _stop_on("throttled on create", stop),
        pytest.raises(errors.CanceledError, match="stopped before the create was sent"),
    ):
        _backend(emulator).run(Params("x"), cancel=stop)
    assert emulator.created == [] and _creates(emulator) == 1


def test_a_trickle_past_the_runs_time_says_so(emulator):
    emulator.faults.output_slow = 0.2
    with pytest.raises(errors.UncollectedError, match="still downloading when the run's time"):
        _backend(emulator, timeout=2).run(Params("x"))
    assert len(emulator.downloads) == 1  # out of time: not tried again


def _finished_first(emulator: Emulator, backend: nb2.ReplicateBackend) -> list[str]:
    """Make each cancel the backend sends land just after its prediction succeeded (the race
    a Ctrl-C near the end of a run meets): the cancel's answer then says succeeded."""
    real, sent = backend._cancel, []

    def cancel(pid: str) -> Any:
        pred = emulator.predictions[pid]
        assert pred.rendered.wait(10)
        pred.done_at = time.monotonic()  # done at the server as the cancel arrives
        sent.append(pid)
        return real(pid)

    backend._cancel = cancel  # type: ignore[method-assign]
    return sent


def test_a_stop_during_the_hold_keeps_an_image_that_finished_before_its_cancel(emulator):
    emulator.faults.latency = 30
    backend = _backend(emulator, wait=5)
    sent = _finished_first(emulator, backend)
    stop = threading.Event()
    when(lambda: emulator.created, stop.set)
    journal: list[str] = []
    out = backend.run(Params("x"), cancel=stop, on_created=journal.append)
    (pid,) = emulator.created
    assert out.prediction_id == pid and out.data[:2] == b"\xff\xd8" and sent == [pid]
    assert journal == [pid]  # journaled like any made prediction


def test_a_stop_in_the_hold_never_cancels_an_identical_request_of_another_run(emulator):
    # two identical requests (repeat samples) hold at once; the second is stopped. Its
    # prediction and the first's look alike in the list, so it must wait for its own answer
    # rather than cancel the oldest one it sees, which is the first run's
    emulator.faults.latency = 30
    backend = _backend(emulator, wait=2)
    first: dict[str, Any] = {}

    def run_first() -> None:
        try:
            first["out"] = backend.run(Params("x"))
        except Exception as exc:
            first["exc"] = exc

    a = threading.Thread(target=run_first)
    a.start()
    deadline = time.monotonic() + 10
    while not emulator.created and time.monotonic() < deadline:
        time.sleep(0.01)
    stop = threading.Event()
    when(lambda: len(emulator.created) == 2, stop.set)
    with pytest.raises(errors.CanceledError) as exc:
        backend.run(Params("x"), cancel=stop)
    mine, theirs = emulator.created[1], emulator.created[0]
    emulator.predictions[theirs].done_at = time.monotonic()  # the first one finishes now
    a.join(20)
    assert exc.value.prediction_id == mine and emulator.canceled == [mine]
    assert first.get("out") is not None and first["out"].prediction_id == theirs, first


def test_a_late_create_answer_leaves_what_the_stopped_caller_found_to_it(emulator):
    # the caller, stopped in the hold, finds the prediction and keeps it; the create's own
    # answer arrives only afterwards: it must neither cancel it again nor let go of its claim
    emulator.faults.latency = 30
    backend = _backend(emulator, wait=5)
    sent = _finished_first(emulator, backend)
    post, late = backend.api.request, threading.Event()

    def request(method: str, path: str, **kw: Any) -> Any:
        answer = post(method, path, **kw)
        if method == "POST" and path.endswith("/predictions"):
            late.wait(30)
        return answer

    backend.api.request = request  # type: ignore[method-assign]
    stop = threading.Event()
    when(lambda: emulator.created, stop.set)
    out = backend.run(Params("x"), cancel=stop)
    late.set()
    for thread in threading.enumerate():
        if thread.name == "nb2-create":
            thread.join(10)
    (pid,) = emulator.created
    assert out.prediction_id == pid and sent == [pid] and backend.claims.holds(pid)


def test_a_stop_after_a_lost_create_keeps_an_image_that_finished_before_its_cancel(emulator):
    emulator.faults.latency = 30
    emulator.faults.drop_create_responses = 1
    backend = _backend(emulator, wait=1)
    sent = _finished_first(emulator, backend)
    stop = threading.Event()
    with _stop_on("made by a create whose answer was lost", stop):
        out = backend.run(Params("x"), cancel=stop)
    (pid,) = emulator.created
    assert out.prediction_id == pid and sent == [pid]
