"""Sharing runs: nb2.export writes a self-contained zip; nb2.import_bundle merges one in."""

from __future__ import annotations

import json
import zipfile

import pytest

import nb2
from nb2.errors import ValidationError
from nb2.store import StoreWarning


@pytest.fixture
def made(tmp_path, images):
    s = nb2.Session(nb2.OfflineBackend(), store=tmp_path / "mine", name="hero")
    a = s.generate("a lighthouse", references=[nb2.Reference(images["palette"], role="palette")])
    b = s.edit("add fog")
    c = s.generate("a kite")
    return s, a, b, c


def test_a_round_trip_keeps_records_images_and_lineage(made, tmp_path):
    _s, a, b, c = made
    path = nb2.export([b], tmp_path / "share.zip")
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["runs"] == sorted([a.id, b.id])  # b and its parent, not c
    assert f"runs/{b.id}.json" in names and f"runs/{c.id}.json" not in names
    palette = a.params.references[0].sha256
    assert any(palette in n for n in names)  # the reference image travels too
    theirs = nb2.Store(tmp_path / "theirs")
    report = nb2.import_bundle(path, store=theirs)
    assert sorted(r.id for r in report.added) == sorted([a.id, b.id]) and not report.conflicts
    got = nb2.find(store=theirs)
    assert {r.id for r in got} == {a.id, b.id}
    moved = next(r for r in got if r.id == b.id)
    assert moved.path.read_bytes() == b.path.read_bytes()
    assert moved.record["parent"] == a.id
    assert moved.params.references[0].data == b.params.references[0].data  # inputs readable
    # the imported run answers the same request from the other store (a cache hit)
    again = nb2.Session(nb2.OfflineBackend(), store=theirs, name="x").run(a.params)
    assert again.cached and again.id == a.id
    # importing twice adds nothing
    report = nb2.import_bundle(path, store=theirs)
    assert report.added == [] and sorted(report.same) == sorted([a.id, b.id])


def test_a_different_record_under_the_same_id_is_never_overwritten(made, tmp_path):
    _s, a, _, _ = made
    path = nb2.export([a], tmp_path / "a.zip")
    theirs = nb2.Store(tmp_path / "theirs")
    nb2.import_bundle(path, store=theirs)
    changed = dict(a.record, session="edited by hand")
    theirs.save(changed)
    with pytest.warns(StoreWarning, match="differ"):
        report = nb2.import_bundle(path, store=theirs)
    assert report.conflicts == [a.id] and theirs.get(a.id)["session"] == "edited by hand"


def _rewrite(src, dst, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))


def test_a_tampered_bundle_is_refused_before_anything_is_written(made, tmp_path):
    _, a, _, _ = made
    path = nb2.export([a], tmp_path / "a.zip")
    image = f"images/{a.record['output']['sha256'][:2]}/"

    def flip(name, data):
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith(image) else data

    _rewrite(path, tmp_path / "bad.zip", flip)
    theirs = nb2.Store(tmp_path / "theirs")
    with pytest.raises(ValidationError, match="does not match its hash"):
        nb2.import_bundle(tmp_path / "bad.zip", store=theirs)
    assert list(theirs.records()) == [] and not any((theirs.root / "images").rglob("*.*"))

    def escape(name, data):
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["files"]["../../evil.json"] = m["files"].popitem()[1]
        return json.dumps(m).encode()

    _rewrite(path, tmp_path / "evil.zip", escape)
    with pytest.raises(ValidationError, match="unexpected file"):
        nb2.import_bundle(tmp_path / "evil.zip", store=theirs)
    (tmp_path / "junk.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    with pytest.raises(ValidationError, match="no readable manifest"):
        nb2.import_bundle(tmp_path / "junk.zip", store=theirs)


def test_export_takes_ids_a_history_or_a_find(made, tmp_path):
    s, _a, _b, c = made
    by_id = nb2.export([c.id], tmp_path / "c.zip", store=s.store)
    assert json.loads(zipfile.ZipFile(by_id).read("manifest.json"))["runs"] == [c.id]
    whole = nb2.export(s.history, tmp_path / "all.zip")
    assert len(json.loads(zipfile.ZipFile(whole).read("manifest.json"))["runs"]) == 3
    found = nb2.export(nb2.find("kite", store=s.store), tmp_path / "k.zip")
    assert json.loads(zipfile.ZipFile(found).read("manifest.json"))["runs"] == [c.id]
    with pytest.raises(ValidationError, match="not a run"):
        nb2.export(["no-such-run"], tmp_path / "x.zip", store=s.store)


def test_a_bundle_missing_an_image_its_records_need_is_refused(made, tmp_path):
    _, a, _, _ = made
    path = nb2.export([a], tmp_path / "a.zip")
    output = a.record["output"]["sha256"]

    def drop(name, data):
        if name != "manifest.json":
            return data
        m = json.loads(data)
        m["files"] = {k: v for k, v in m["files"].items() if output not in k}
        return json.dumps(m).encode()

    _rewrite(path, tmp_path / "thin.zip", drop)
    theirs = nb2.Store(tmp_path / "theirs")
    with pytest.raises(ValidationError, match="does not carry"):
        nb2.import_bundle(tmp_path / "thin.zip", store=theirs)
    assert list(theirs.records()) == []
