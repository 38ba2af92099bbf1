"""The store's promises, one at a time (each pins behaviour a mutation run found unpinned)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from nb2.store import Store, StoreWarning

KEY = "c" * 64


def _record(store: Store, run_id: str, data: bytes = b"image bytes", **extra) -> dict:
    sha, _ = store.put_image(data, "png")
    record = {
        "run_id": run_id,
        "status": "succeeded",
        "cache_key": KEY,
        "params": {"prompt": "a teapot"},
        "output": {"sha256": sha, "format": "png", "width": 8, "height": 6},
        "backend": {"offline": True},
        **extra,
    }
    store.save(record)
    return record


def test_a_failed_run_never_replaces_the_cached_answer(store):
    _record(store, "good")
    store.save({"run_id": "bad", "status": "failed", "cache_key": KEY, "error": "boom"})
    store.save({"run_id": "late", "status": "canceled", "cache_key": KEY})
    assert store.lookup(KEY)["run_id"] == "good"
    assert store.get("bad")["error"] == "boom"


def test_a_later_success_answers_and_each_endpoint_keeps_its_own(store):
    _record(store, "first")
    _record(store, "second", data=b"other", backend={"base_url": "http://127.0.0.1:9/"})
    assert store.lookup(KEY)["run_id"] == "second"
    assert store.lookup(KEY, endpoint="offline")["run_id"] == "first"
    assert store.lookup(KEY, endpoint="http://127.0.0.1:9")["run_id"] == "second"
    assert store.lookup(KEY, endpoint="https://api.replicate.com") is None


def test_endpoint_of_names_who_answered():
    assert Store.endpoint_of({"offline": True}) == "offline"
    assert Store.endpoint_of({"base_url": "http://h:1/"}) == "http://h:1"
    assert Store.endpoint_of({"offline": False}) == "https://api.replicate.com"
    assert Store.endpoint_of(None) == "https://api.replicate.com"


def test_store_without_a_root_follows_nb2_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NB2_STORE", str(tmp_path / "shared"))
    assert Store().root == (tmp_path / "shared").resolve()
    assert Store.default_root(env=False) == (tmp_path / "nb2-runs").resolve()
    monkeypatch.delenv("NB2_STORE")
    assert Store().root == (tmp_path / "nb2-runs").resolve()
    assert Store.is_store(tmp_path / "nb2-runs") and not Store.is_store(tmp_path / "shared" / "x")
    (tmp_path / "half" / "images").mkdir(parents=True)
    assert not Store.is_store(tmp_path / "half")


def test_a_failed_rename_raises_and_leaves_no_temp_file_and_the_old_file(store, monkeypatch):
    _record(store, "r1")
    before = (store.root / "runs" / "r1.json").read_bytes()

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space"):
        store.save({"run_id": "r1", "status": "failed", "cache_key": KEY})
    monkeypatch.undo()
    assert (store.root / "runs" / "r1.json").read_bytes() == before
    assert not [p for p in store.root.rglob("*") if p.name.endswith(".tmp")]


def test_a_deleted_image_is_not_present_even_after_it_was_verified(store):
    record = _record(store, "r1")
    sha = record["output"]["sha256"]
    path = store.image_path(sha, "png")
    assert path is not None and store.lookup(KEY) is not None  # verified once, remembered
    path.unlink()
    assert store.image_path(sha, "png") is None and store.image_path(sha) is None
    assert store.lookup(KEY) is None


def test_put_image_repairs_a_corrupted_file_of_the_same_hash(store):
    sha, path = store.put_image(b"the real bytes", "png")
    path.write_bytes(b"rotten")
    with pytest.warns(StoreWarning, match="does not match"):
        again, same = store.put_image(b"the real bytes", "png")
    assert (again, same) == (sha, path) and path.read_bytes() == b"the real bytes"
    assert store.read_image(sha) == b"the real bytes"


def test_a_file_changed_after_verification_is_checked_again(store):
    sha, path = store.put_image(b"x" * 100, "png")
    assert store.image_path(sha, "png") == path
    path.write_bytes(b"y" * 100)  # same size, new mtime
    os.utime(path, ns=(1, 1))
    with pytest.warns(StoreWarning):
        assert store.image_path(sha, "png") is None


def test_read_image_of_an_unknown_or_malformed_hash_is_a_named_error(store):
    with pytest.raises(FileNotFoundError, match="image 0123456789ab is not in the store"):
        store.read_image("0123456789ab" + "0" * 52)
    assert store.image_path(None) is None and store.image_path(123) is None  # type: ignore[arg-type]
    assert store.image_path("../../etc/passwd") is None
    assert store.image_path("A" * 64) is None


def test_image_path_without_ext_finds_the_file_by_hash(store):
    sha, path = store.put_image(b"jpeg bytes", "jpg")
    assert store.image_path(sha) == path and path.suffix == ".jpg"
    assert store.image_path(sha, ".jpg") == path


def test_lookup_refuses_pointers_and_records_it_cannot_trust(store):
    record = _record(store, "r1")
    # a pointer aimed at a record of another request
    other = {**record, "run_id": "r2", "cache_key": "d" * 64}
    store.save(other)
    pointer = store.root / "keys" / KEY[:2] / f"{KEY}.json"
    pointer.write_text('{"run_id": "r2"}')
    assert store.lookup(KEY) is None
    # a damaged record (no size) behind a good pointer
    store.save({**record, "output": {**record["output"], "width": 0}})
    with pytest.warns(StoreWarning, match="damaged"):
        assert store.lookup(KEY) is None
    store.save({**record, "params": {"prompt": 3}})
    with pytest.warns(StoreWarning, match="damaged"):
        assert store.lookup(KEY) is None
    store.save(record)
    assert store.lookup(KEY)["run_id"] == "r1"
    assert store.lookup("e" * 64) is None


def test_a_record_under_a_bad_id_is_refused_with_a_warning(store):
    with pytest.warns(StoreWarning, match="not a run id"):
        assert store.get("../../etc/passwd") is None
    (store.root / "runs" / "list.json").write_text("[1, 2]")
    with pytest.warns(StoreWarning, match="not a record"):
        assert store.get("list") is None


def test_records_come_oldest_first_and_skip_what_they_cannot_read(store):
    for run_id in ("20260101-b", "20260101-a", "20251231-z"):
        store.save({"run_id": run_id, "status": "failed"})
    (store.root / "runs" / "20260102-x.json").write_text("nope")
    with pytest.warns(StoreWarning):
        ids = [r["run_id"] for r in store.records()]
    assert ids == ["20251231-z", "20260101-a", "20260101-b"]


def test_the_pending_journal_follows_a_runs_status(store):
    store.save({"run_id": "r1", "status": "running", "prediction_id": "p1"})
    store.save({"run_id": "r2", "status": "pending"})
    assert store.has_unsettled()
    assert [r["run_id"] for r in store.unsettled()] == ["r1", "r2"]
    store.save({"run_id": "r1", "status": "canceled", "prediction_id": "p1"})
    assert not (store.root / "pending" / "r1").exists()  # settled: off the journal at once
    assert [r["run_id"] for r in store.unsettled()] == ["r2"]
    # a crash between the record and the marker's removal: the marker is cleared on reading
    store.save({"run_id": "r2", "status": "succeeded"})
    (store.root / "pending" / "r2").touch()
    assert store.unsettled() == [] and not store.has_unsettled()


_HOLDER = textwrap.dedent("""
    import sys, time
    from nb2.store import Store
    s = Store(sys.argv[1])
    h = s.hold("r1")
    print("held", flush=True)
    sys.stdin.readline()
""")


def test_a_run_held_by_another_process_is_live_until_it_exits(store):
    assert store.is_live("r1") is False
    assert not (store.root / "pending" / "r1").exists()  # asking creates nothing
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout.readline().strip() == b"held"
        assert store.is_live("r1")
    finally:
        proc.communicate(b"\n", timeout=30)
    assert store.is_live("r1") is False
    handle = store.hold("r2")
    assert store.is_live("r2")
    handle.close()
    assert not store.is_live("r2")


def test_files_follow_the_umask_so_a_shared_store_is_readable(tmp_path):
    old = os.umask(0o002)
    try:
        store = Store(tmp_path / "shared")
        assert os.umask(0o002) == 0o002  # reading it left the process's umask as it was
        _, path = store.put_image(b"bytes", "png")
        record = store.save({"run_id": "r1", "status": "failed"})
    finally:
        os.umask(old)
    for p in (path, record):
        assert stat.S_IMODE(p.stat().st_mode) == 0o664


def test_root_of_an_image_is_its_store(store):
    _, path = store.put_image(b"bytes", "png")
    assert Store.root_of(path) == store.root
    assert hashlib.sha256(b"bytes").hexdigest() in path.name
    assert repr(store) == f"Store({str(store.root)!r})"


def test_nothing_warns_on_a_healthy_store(store):
    _record(store, "r1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.lookup(KEY)["run_id"] == "r1"
        assert [r["run_id"] for r in store.records()] == ["r1"]
        assert Path(store.image_path(store.get("r1")["output"]["sha256"])).exists()


def test_a_one_pixel_image_is_a_well_formed_record(store):
    record = _record(store, "r1")
    store.save({**record, "output": {**record["output"], "width": 1, "height": 1}})
    assert store.lookup(KEY)["output"]["width"] == 1


def test_a_store_whose_journal_folder_was_removed_still_journals(store):
    import shutil

    shutil.rmtree(store.root / "pending")
    store.save({"run_id": "r1", "status": "running"})
    assert store.has_unsettled()
    shutil.rmtree(store.root / "pending")
    store.hold("r2").close()
    assert (store.root / "pending" / "r2").exists()


def test_try_hold_takes_only_a_pending_run_nobody_holds(tmp_path):
    store = Store(tmp_path / "runs")
    assert store.try_hold("20260101T000000000000-0000abcd") is None  # nothing pending
    held = store.hold("20260101T000000000000-0000abcd")
    assert store.try_hold("20260101T000000000000-0000abcd") is None  # held elsewhere
    held.close()
    again = store.try_hold("20260101T000000000000-0000abcd")
    assert again is not None and store.is_live("20260101T000000000000-0000abcd")
    again.close()
