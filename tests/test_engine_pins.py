"""The session and the grid, pinned one promise a test (each found unpinned by a mutation run)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import nb2
from nb2.backends import Output
from nb2.backends.offline import OfflineBackend
from nb2.errors import CanceledError, StoreError, ValidationError
from nb2.store import codec

from .sigint import sigint_at


@pytest.fixture
def s(tmp_path):
    return nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")


class Cancellable:
    """A backend that runs until it is stopped, then takes a moment to cancel at the server
    (as Replicate's does), and notes each step, so a test sees what finished before the
    interrupt reached it."""

    name = "cancellable"
    offline = True  # nothing is billed

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.started = threading.Event()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "offline": True}

    def run(self, params, *, cancel=None, on_status=None, on_created=None) -> Output:
        self.steps.append("started")
        self.started.set()
        assert cancel is not None and cancel.wait(30), "never stopped"
        threading.Event().wait(0.3)  # the remote cancel takes a while
        self.steps.append("canceled at the server")
        raise CanceledError("stopped")


# -- session ----------------------------------------------------------------------------------
def test_an_edit_is_read_from_the_store_unless_fresh(s):
    r = s.generate("a kite")
    e1 = s.edit("make it red")
    s.checkout(r)
    e2 = s.edit("make it red")
    assert e2 == e1 and e2.cached and e2.number == e1.number and s.backend.calls == 2
    s.checkout(r)
    e3 = s.edit("make it red", fresh=True)
    assert e3.id != e1.id and s.backend.calls == 3


def test_a_cache_hit_on_a_held_run_becomes_current(s):
    a = s.generate("a kite")
    b = s.generate("a boat")
    assert s.current is b
    again = s.generate("a kite")
    assert again == a and again.cached and s.current == a and s.backend.calls == 2
    assert s.edit("add a tail").record["parent"] == a.id


def test_checkout_false_leaves_the_current_turn(s):
    a = s.generate("a kite")
    b = s.run(s.params("a boat"), checkout=False)
    assert s.current is a and b in s.history.roots
    s.run(s.params("a kite"), checkout=False)
    assert s.current is a
    s.run(s.params("a boat"))
    assert s.current == b


def test_a_grid_cell_used_as_a_parent_joins_the_tree(s):
    g = s.compare(prompt=["a kite", "a boat"]).run()
    assert len(s.history) == 0  # cells are not turns until used
    cell = g.cells[1].result
    edit = s.edit("make it red", parent=cell)
    assert s.parent_of(edit) is cell and s.history.roots == [cell]
    assert s.history.children(cell) == [edit] and s.current is edit
    assert [t.number for t in s.history] == [1, 2] and cell.number == 1
    up = s.upscale(g.cells[0].result, "2K")
    assert s.parent_of(up) is g.cells[0].result and len(s.history) == 4


def test_a_foreign_result_is_refused_as_a_parent(s, tmp_path):
    other = nb2.Session(backend=OfflineBackend(), store=tmp_path / "other")
    r = other.generate("a kite")
    with pytest.raises(ValidationError) as exc:
        s.edit("x", parent=r)
    assert exc.value.field == "parent"
    with pytest.raises(ValidationError, match="generate"):
        s.edit("x")
    assert s.parent_of(r) is None


def test_subscribers_hear_each_new_result_until_they_leave(s):
    heard: list[str] = []
    leave = s.subscribe(lambda r: heard.append(r.params.prompt))
    s.generate("a kite")
    s.generate("a kite")  # the same turn again: not new
    s.compare(prompt=["a boat"]).run()
    leave()
    s.generate("a cat")
    assert heard == ["a kite", "a boat"]


def test_an_interrupt_waits_for_the_remote_cancel_before_it_propagates(tmp_path):
    backend = Cancellable()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    with sigint_at(0.3), pytest.raises(KeyboardInterrupt):
        s.generate("a kite")
    # the cancel finished (and was recorded) before KeyboardInterrupt reached this frame
    assert backend.steps == ["started", "canceled at the server"]
    records = list(s.store.records())
    assert [r["status"] for r in records] == ["canceled"]
    assert not s.store.has_unsettled() and len(s.history) == 0


def test_the_session_defaults_apply_and_none_means_the_default(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs", resolution="2K")
    assert s.params("x").resolution == "2K"
    assert s.params("x", resolution=None).resolution == "2K"
    assert s.params("x", resolution="4K").resolution == "4K"


# -- grid -------------------------------------------------------------------------------------
def test_a_stopped_grid_runs_again_to_the_end(s):
    g = s.compare(prompt=[f"p{i}" for i in range(4)])
    g.run(max_concurrency=1, on_progress=lambda grid: grid.stop())
    first = g.counts()
    assert first.get("succeeded") == 1 and sum(first.values()) == 4
    g.run(max_concurrency=1)
    assert g.counts() == {"succeeded": 4} and s.backend.calls == 4


def test_an_interrupted_grid_runs_again_and_retry_sends_only_what_is_missing(tmp_path):
    backend = OfflineBackend(latency=0.4)
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    g = s.compare(prompt=[f"p{i}" for i in range(4)])
    with sigint_at(0.6), pytest.raises(KeyboardInterrupt):
        g.run(max_concurrency=1)
    counts = g.counts()
    assert counts.get("canceled", 0) >= 1 and counts.get("succeeded", 0) >= 1
    calls = backend.calls
    g.retry_failed(max_concurrency=2)
    assert g.counts() == {"succeeded": 4}
    assert backend.calls == calls + 4 - counts["succeeded"]  # only what was missing is sent


def test_an_empty_axis_and_an_unknown_axis_are_refused_before_anything_runs(s):
    with pytest.raises(ValidationError) as exc:
        s.compare(prompt=[])
    assert exc.value.field == "prompt"
    with pytest.raises(ValidationError) as exc:
        s.compare(prompt="x", resolution=[])
    assert exc.value.field == "resolution"
    with pytest.raises(ValidationError) as exc:
        s.compare(prompt="x", colour=["red", "blue"])
    assert exc.value.field == "colour" and "resolution" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        s.compare(prompt="x", colour="red")
    assert exc.value.field == "colour"
    with pytest.raises(ValidationError, match="prompt is required"):
        s.compare(resolution=["1K"])
    assert s.backend.calls == 0


def test_identical_cells_are_sent_once_and_planned_once(s):
    g = s.compare(prompt=["a kite", "a kite", "a boat"])
    plan = g.plan()
    assert (plan.cells, plan.cached, plan.new_calls) == (3, 1, 2)
    g.run()
    assert s.backend.calls == 2 and g.cells[0].result.id == g.cells[1].result.id
    # the twin that waited for the other's answer is a cache hit: shown so, never spent twice
    assert g.counts() == {"succeeded": 2, "cached": 1}
    saved = g.records()  # what a saved grid says of each cell
    assert sum(r["cached"] for r in saved) == 1
    assert all(r["cached"] == (c.status == "cached") for r, c in zip(saved, g.cells, strict=True))
    off = nb2.Session(backend=OfflineBackend(), store=s.store.root, cache="off")
    assert off.compare(prompt=["a kite", "a kite"]).plan().new_calls == 2


def test_repeat_makes_samples_and_each_is_its_own_request(s):
    g = s.compare(prompt="a kite", resolution=["1K", "2K"], repeat=3)
    assert len(g.cells) == 6 and g.axes["repeat"] == [("#1", 0), ("#2", 1), ("#3", 2)]
    assert len({c.params.cache_key for c in g.cells}) == 6
    with pytest.raises(ValidationError) as exc:
        s.compare(prompt="x", repeat=0)
    assert exc.value.field == "repeat"
    with pytest.raises(ValidationError):
        s.compare(prompt="x", repeat=True)


def test_the_size_guard_counts_before_building(s):
    g = s.compare(prompt=[str(i) for i in range(100)], resolution=["1K", "2K", "4K"])
    assert len(g.cells) == 300
    with pytest.raises(ValidationError) as exc:
        s.compare(prompt=[str(i) for i in range(101)], aspect_ratio=["1:1"] * 100)
    assert exc.value.field == "cells" and exc.value.value == 10_100
    with pytest.raises(ValidationError, match="confirm=True"):
        g.run()
    assert s.backend.calls == 0


def test_a_budget_stops_launching_and_keeps_what_finished(tmp_path, emulator):
    from .conftest import TOKEN

    backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url, wait=1)
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    nb2.models.set_price("nano-banana-2", "1K", 0.03)
    g = s.compare(prompt=["a", "b", "c"])
    assert g.plan().cost == pytest.approx(0.09)

    def reprice(grid):  # the price rises after the first cell: the cap, not the plan, stops it
        nb2.models.set_price("nano-banana-2", "1K", 0.067)

    g.run(budget=0.09, max_concurrency=1, on_progress=reprice)
    assert g.counts() == {"succeeded": 2, "pending": 1} and len(emulator.created) == 2
    assert g.spent == pytest.approx(0.097)


def test_a_budget_spent_exactly_stops_the_next_cell(tmp_path, emulator):
    from .conftest import TOKEN

    backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url, wait=1)
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    nb2.models.set_price("nano-banana-2", "1K", 0.25)
    g = s.compare(prompt=["a", "b", "c"])

    def reprice(grid):  # binary fractions, so 0.25 + 0.5 is exactly the 0.75 cap
        nb2.models.set_price("nano-banana-2", "1K", 0.5)

    g.run(budget=0.75, max_concurrency=1, on_progress=reprice)
    assert g.spent == 0.75 and g.counts() == {"succeeded": 2, "pending": 1}
    # what each cell cost: a cell answered from the store costs nothing
    again = s.compare(prompt=["a", "d"]).run()
    assert [r["cost"] for r in again.records()] == [0.0, 0.5]
    assert [r["status"] for r in again.records()] == ["cached", "succeeded"]


def test_exactly_the_largest_grid_is_allowed(s):
    g = s.compare(prompt=[f"p{i}" for i in range(10_000)])
    assert len(g.cells) == 10_000
    with pytest.raises(ValidationError):
        s.compare(prompt=[f"p{i}" for i in range(10_001)])


def test_the_plan_counts_waves_of_the_concurrency(s, emulator):
    from .conftest import TOKEN

    live = nb2.Session(
        backend=nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url),
        store=s.store.root,
    )
    g = live.compare(prompt=["a", "b", "c"])
    per_cell = g.cells[0].params.spec.latency_s["1K"]
    assert g.plan(max_concurrency=1).seconds == 3 * per_cell
    assert g.plan(max_concurrency=2).seconds == 2 * per_cell
    assert g.plan().concurrency == 8 and g.plan().seconds == per_cell
    assert "cells" in g.plan()._repr_html_()


def test_a_grid_shows_and_saves_what_it_holds(s, tmp_path):
    g = s.compare(prompt=["a kite", "a boat"], resolution=["1K", "2K"]).run()
    assert [r.params.prompt for r in g.results] == ["a kite", "a kite", "a boat", "a boat"]
    assert repr(g) == "<nb2.Grid 4 cells over prompt (2) x resolution (2): 4 succeeded>"
    out = g.to_html(tmp_path / "report.html")
    assert out == tmp_path / "report.html" and "a kite" in out.read_text()
    manifest = g.manifest()
    assert len(manifest["cells"]) == 4
    assert g.contact_sheet().size[0] > 0


def test_reference_sets_are_named_and_duplicates_numbered(images):
    from nb2.grids.cells import labelled, leave_one_out

    same = images["palette"]
    sets = leave_one_out([same, images["face"], same])
    assert list(sets) == [
        "all",
        "without palette.jpg",
        "without face.png",
        "without palette.jpg #3",
    ]
    assert sets["without face.png"] == [same, same]
    assert labelled("references", {"mood": [same], "none": []}) == [
        ("mood", [same]),
        ("none", []),
    ]
    assert [label for label, _ in labelled("references", [[same], []])] == ["set 1", "set 2"]
    assert labelled("prompt", ["x", "y"]) == [("P1", "x"), ("P2", "y")]
    assert labelled("google_search", [False, True]) == [("off", False), ("on", True)]
    assert labelled("model", ["google/nano-banana-2"]) == [
        ("nano-banana-2", "google/nano-banana-2")
    ]


def test_durations_read_as_people_say_them():
    from nb2.grids.cells import duration

    assert [duration(x) for x in (0, 59.4, 60, 125, 3600)] == [
        "0 s",
        "59 s",
        "1 min 0 s",
        "2 min 5 s",
        "60 min 0 s",
    ]


# -- the runner ---------------------------------------------------------------------------
class Scripted:
    """A backend that answers what a test tells it, after the test lets it go."""

    name = "scripted"
    offline = True

    def __init__(self, answer: Any) -> None:
        self.answer, self.calls, self.go = answer, 0, threading.Event()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "offline": True}

    def run(self, params, *, cancel=None, on_status=None, on_created=None) -> Output:
        self.calls += 1
        assert self.go.wait(30)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def test_identical_requests_wait_for_a_blocked_one_and_are_not_sent(tmp_path):
    from nb2.errors import ModerationError

    backend = Scripted(ModerationError("E005: flagged as sensitive"))
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            s.generate("a kite")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    while backend.calls == 0:
        threading.Event().wait(0.01)
    threading.Event().wait(1.0)  # time for the others to reach the wait on the first
    backend.go.set()
    for t in threads:
        t.join(30)
    assert backend.calls == 1 and len(errors) == 3
    assert all(isinstance(e, ModerationError) for e in errors)
    assert sum("just blocked" in str(e) for e in errors) == 2


def test_a_waiter_that_is_stopped_stops_without_sending(tmp_path):
    backend = Scripted(CanceledError("never reached"))
    s = nb2.Session(backend=backend, store=tmp_path / "runs")

    def ask() -> None:
        with pytest.raises(CanceledError):
            s.generate("a kite")

    first = threading.Thread(target=ask)
    first.start()
    while backend.calls == 0:
        threading.Event().wait(0.01)
    stop = threading.Event()
    stop.set()
    with pytest.raises(CanceledError, match="identical request"):
        s.generate("a kite", cancel=stop)
    backend.go.set()
    first.join(30)
    assert backend.calls == 1


def test_an_output_that_is_not_an_image_fails_and_is_recorded(tmp_path):
    from nb2.errors import GenerationError

    backend = Scripted(Output(b"<html>busy</html>", "png", prediction_id="p-junk"))
    backend.go.set()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    with pytest.raises(GenerationError, match="not an image"):
        s.generate("a kite")
    (record,) = s.store.records()
    assert record["status"] == "failed" and record["prediction_id"] == "p-junk"
    assert 0 <= record["wall_time"] < 60 and not s.store.has_unsettled()


def test_a_store_that_fills_after_the_money_is_spent_keeps_the_prediction(tmp_path, monkeypatch):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    backend = Scripted(Output(buf.getvalue(), "png", prediction_id="p-paid"))
    backend.go.set()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")

    def full(data, ext):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(s.store, "put_image", full)
    with pytest.raises(StoreError, match="p-paid"):
        s.generate("a kite")
    (record,) = s.store.records()
    assert record["status"] == "pending" and record["prediction_id"] == "p-paid"
    assert s.store.has_unsettled() and len(s.history) == 0
    assert 0 <= record["wall_time"] < 60  # this run's own time, not a clock reading


def test_the_record_keeps_the_model_version_the_backend_ran(tmp_path):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    backend = Scripted(Output(buf.getvalue(), "png", prediction_id="p-1", model_version="v-42"))
    backend.go.set()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    r = s.generate("a kite")
    assert r.record["version"] == "v-42"
    assert codec.read(r.path)["version"] == "v-42"  # the file's own metadata says it too


def test_records_say_when_in_utc_and_name_runs_by_time(s):
    import re

    r = s.generate("a kite")
    rec = r.record
    assert re.fullmatch(r"\d{8}T\d{12}-[0-9a-f]{8}", rec["run_id"])
    for key in ("requested_at", "completed_at"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec[key]), key
    assert rec["requested_at"] <= rec["completed_at"] and s.recovered == []


def test_replay_never_calls_the_backend(s):
    s.generate("a kite")
    replay = nb2.Session(backend=s.backend, store=s.store.root, cache="replay")
    assert replay.generate("a kite").cached
    with pytest.raises(nb2.errors.ReplayMissError):
        replay.generate("a boat")
    assert s.backend.calls == 1


def test_a_grounded_result_from_the_store_says_it_is_a_snapshot_once(s):
    from nb2.session.result import GroundedSnapshotWarning

    s.generate("a cafe", google_search=True)
    again = nb2.Session(backend=s.backend, store=s.store.root)
    with pytest.warns(GroundedSnapshotWarning, match="snapshot of the web"):
        again.generate("a cafe", google_search=True)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again.generate("a cafe", google_search=True)  # said once per session
        again.generate("a kite")  # not grounded: nothing to say


# -- what outlives a run: locks, siblings, the saved tree ----------------------------------
def test_a_finished_run_holds_no_lock(s):
    r = s.generate("a kite")
    assert s.store.is_live(r.id) is False and not s.store.has_unsettled()


def test_every_output_of_a_list_model_is_stored_and_joins_the_tree(s):
    from nb2.backends.offline import standins

    r = s.generate("jars on a shelf", model=standins.FLUX, num_outputs=3)
    assert len(r.siblings) == 2 and len({x.path for x in [r, *r.siblings]}) == 3
    assert len(s.history) == 3 and all(x.path.is_file() for x in r.siblings)


def test_a_session_resumes_by_default_with_its_current_turn(tmp_path):
    store = tmp_path / "runs"
    s = nb2.Session(backend=OfflineBackend(), store=store, name="hero")
    first = s.generate("a kite")
    s.generate("a boat")
    s.checkout(first)
    again = nb2.Session(backend=OfflineBackend(), store=store, name="hero")
    assert len(again.history) == 2 and again.current.id == first.id
    fresh = nb2.Session(backend=OfflineBackend(), store=store, name="hero", resume=False)
    assert len(fresh.history) == 0


def test_an_adopted_run_is_current_and_marked_from_the_store(s, tmp_path):
    other = nb2.Session(backend=OfflineBackend(), store=s.store.root, name="other")
    made = other.generate("a kite")
    found = nb2.find("kite", store=s.store)[0]
    adopted = s.adopt(found)
    assert adopted.id == made.id and adopted.cached and s.current.id == made.id


def test_a_grid_without_axes_and_an_offline_plan_say_so(s):
    plan = s.compare(prompt="a kite").plan()
    assert "over none" in repr(plan) and plan.cells == 1
    assert plan.time_text() == "seconds (the offline stand-in renders locally)"
    s.compare(prompt="a kite").run()
    assert s.compare(prompt="a kite").plan().time_text() == "none (every cell is in the store)"


def test_up_to_64_cells_run_without_confirm(s):
    from nb2.grids.grid import Grid

    assert len(Grid(s, {"prompt": ["a"]}, {}).cells) == 1  # repeat defaults to one sample
    g = s.compare(prompt=[f"p{i}" for i in range(64)])
    assert g.plan().cells == 64
    g.run()
    assert g.counts() == {"succeeded": 64}
    with pytest.raises(ValidationError, match="confirm=True"):
        s.compare(prompt=[f"q{i}" for i in range(65)]).run()


def test_a_grids_report_plan_is_the_one_taken_when_it_first_ran(s):
    g = s.compare(prompt=["a kite", "a boat"])
    g.run()
    first = g.first_plan
    assert first is not None and first.new_calls == 2
    g.run()
    assert g.first_plan is first and g.plan().new_calls == 0


def test_the_record_is_on_disk_before_the_backend_is_called(tmp_path):
    seen: list[list[str]] = []

    class Watching(OfflineBackend):
        def run(self, params, **kw):
            seen.append([r["status"] for r in store.records()])
            return super().run(params, **kw)

    s = nb2.Session(backend=Watching(), store=tmp_path / "runs")
    store = s.store
    s.generate("a kite")
    assert seen == [["running"]]


def test_a_webp_output_is_stored_as_webp(tmp_path):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 9, 9)).save(buf, "WEBP")
    backend = Scripted(Output(buf.getvalue(), "png", prediction_id="p-webp"))
    backend.go.set()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    with pytest.warns(UserWarning):  # no nb2 metadata can be embedded in a webp
        r = s.generate("a kite")
    assert r.path.suffix == ".webp"


def test_session_settings_and_verbs_answer_as_documented(s):
    with pytest.raises(ValidationError) as exc:
        nb2.Session(backend=OfflineBackend(), store=s.store.root, cache="sometimes")
    assert exc.value.field == "cache"
    r = s.generate("a kite", model="nano-banana")  # a model without resolution
    e = s.edit("make it red")
    assert e.params.model == "google/nano-banana" and e.params.resolution is None
    calls = s.backend.calls
    with pytest.raises(ValidationError) as exc:  # named, never silently dropped
        s.edit("make it blue", resolution="2K")
    assert exc.value.field == "resolution" and s.backend.calls == calls
    assert s.checkout(r) == r


def test_a_grid_without_the_cache_counts_every_cell_as_spent(tmp_path, emulator):
    from .conftest import TOKEN

    backend = nb2.ReplicateBackend(api_token=TOKEN, base_url=emulator.base_url, wait=1)
    auto = nb2.Session(backend=backend, store=tmp_path / "runs")
    auto.generate("a kite")
    off = nb2.Session(backend=backend, store=tmp_path / "runs", cache="off")
    g = off.compare(prompt=["a kite"]).run()
    assert g.counts() == {"succeeded": 1} and g.spent == pytest.approx(0.067)
    assert "nb2-grid" in g._repr_html_() and g.summary() is not None


class Live(OfflineBackend):
    """The offline renderer dressed as a billed backend, so a plan prices and times its calls."""

    offline = False


def test_a_live_plan_says_its_time_in_waves_of_calls(tmp_path):
    s = nb2.Session(backend=Live(), store=tmp_path / "runs")
    three = s.compare(prompt=["a", "b", "c"]).plan(max_concurrency=2).time_text()
    assert three.endswith(", 2 calls at once"), three
    one = s.compare(prompt="a").plan().time_text()
    assert one.startswith("~") and one.endswith(" s, 1 call at once"), one


def test_explore_gives_the_registered_widget(s):
    from nb2.notebook.explore import Explorer

    g = s.compare(prompt=["a kite", "a boat"]).run()
    view = g.explore()
    assert isinstance(view, Explorer) and view.grid is g


def test_the_offline_notice_is_said_once_and_never_for_a_live_one(tmp_path, monkeypatch, caplog):
    from nb2.session import runner

    monkeypatch.setattr(runner, "_announced", False)
    notice = "offline stand-in"
    with caplog.at_level("WARNING", logger="nb2"):
        nb2.Session(backend=Live(), store=tmp_path / "live").generate("a kite")
        assert notice not in caplog.text
        nb2.Session(backend=OfflineBackend(), store=tmp_path / "off").generate("a kite")
        nb2.Session(backend=OfflineBackend(), store=tmp_path / "off2").generate("a boat")
    assert caplog.text.count(notice) == 1  # once a kernel, not once a session


def test_adopted_runs_keep_their_kind_and_a_grid_cell_becomes_current(s):
    other = nb2.Session(backend=OfflineBackend(), store=s.store.root, name="other")
    other.generate("a kite")
    edit = other.edit("make it red")
    cell = other.compare(prompt=["a boat"]).run().cells[0].result
    s.adopt(edit)
    assert "#1 edit" in repr(s.history) and s.current.id == edit.id
    s.adopt(cell)
    assert "#2 generate" in repr(s.history) and s.current.id == cell.id


class Journaling(Scripted):
    """A Scripted backend that names its prediction as soon as it is made."""

    def run(self, params, *, cancel=None, on_status=None, on_created=None) -> Output:
        on_created("p-made")
        return super().run(params, cancel=cancel, on_status=on_status, on_created=on_created)


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "PNG")
    return buf.getvalue()


def test_the_prediction_id_is_on_disk_while_the_backend_waits(tmp_path):
    backend = Journaling(Output(_png(), "png", prediction_id="p-made"))
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    done = threading.Thread(target=s.generate, args=("a kite",))
    done.start()
    try:
        seen: list[dict[str, Any]] = []
        for _ in range(500):  # read as a second kernel would, while the run is in flight
            seen = [r for r in nb2.Store(tmp_path / "runs").records() if r.get("prediction_id")]
            if seen:
                break
            threading.Event().wait(0.01)
        assert seen and seen[0]["prediction_id"] == "p-made" and seen[0]["status"] != "succeeded"
    finally:
        backend.go.set()
        done.join(10)


def test_a_backend_error_is_recorded_with_the_runs_own_time(tmp_path):
    from nb2.errors import GenerationError

    backend = Scripted(GenerationError("the model failed", prediction_id="p-bad"))
    backend.go.set()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    with pytest.raises(GenerationError):
        s.generate("a kite")
    (record,) = s.store.records()
    assert record["status"] == "failed" and 0 <= record["wall_time"] < 60


def test_a_record_that_cannot_be_written_after_the_image_is_stored_says_so(tmp_path, monkeypatch):
    backend = Scripted(Output(_png(), "png", prediction_id="p-paid"))
    backend.go.set()
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    real = s.store.save

    def save(record):
        if record.get("status") == "succeeded":
            raise OSError(28, "No space left on device")
        return real(record)

    monkeypatch.setattr(s.store, "save", save)
    with pytest.raises(StoreError, match=r"stays pending: nb2\.recover\(\) finishes it"):
        s.generate("a kite")
    assert s.store.has_unsettled() and len(s.history) == 0


def test_a_reference_that_cannot_be_stored_leaves_no_run_for_recover(tmp_path, monkeypatch):
    # the record is on disk, then a reference cannot be copied in: nothing was sent, so the
    # run is closed failed (not left running, which recover would take for a lost create)
    from PIL import Image

    ref = tmp_path / "ref.png"
    Image.new("RGB", (8, 8), "red").save(ref)
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")

    def full(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(s.store, "put_image", full)
    with pytest.raises(StoreError, match="nothing was sent"):
        s.generate("a kite", references=[ref])
    assert not s.store.has_unsettled()
    (record,) = s.store.records()
    assert record["status"] == "failed" and "nothing was sent" in record["error"]
