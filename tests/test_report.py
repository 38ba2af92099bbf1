import json
from html.parser import HTMLParser

import pytest
from PIL import ImageStat

import nb2
from nb2 import diff_manifests
from nb2.backends.offline import OfflineBackend
from nb2.grids.manifests import VOLATILE

XSS = "a kite <script>alert(1)</script> over the sea"


def _session(path):
    return nb2.Session(backend=OfflineBackend(), store=path)


def _grid(s, prompts=("a red kite over the sea", "a red kite over the sea at night")):
    return s.compare(prompt=list(prompts), aspect_ratio=["1:1", "16:9"], output_format="jpg")


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.imgs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)


# -- contact sheet ------------------------------------------------------------------------------
def test_contact_sheet_places_each_cell_and_labels_the_axes(tmp_path):
    s = _session(tmp_path / "runs")
    g = _grid(s).run()
    sheet = g.contact_sheet(thumb=128)
    boxes = sheet.info["nb2_cells"]
    assert [labels for labels, _ in boxes] == [c.labels for c in g.cells]
    assert sheet.width >= 2 * 128 and sheet.height >= 2 * 128
    for cell, (_, box) in zip(g.cells, boxes, strict=True):
        region = sheet.crop(box).convert("RGB")
        assert region.getextrema() != ((255, 255), (255, 255), (255, 255))  # not blank
        # the thumbnail is this cell's image: its mean colour, within a thumbnail's blur
        want = ImageStat.Stat(cell.result.image.convert("RGB")).mean
        img = cell.result.image
        bw, bh = box[2] - box[0], box[3] - box[1]
        scale = min(bw / img.width, bh / img.height)
        w, h = round(img.width * scale), round(img.height * scale)
        left, top = box[0] + (bw - w) // 2, box[1] + (bh - h) // 2
        got = ImageStat.Stat(sheet.crop((left, top, left + w, top + h)).convert("RGB")).mean
        assert max(abs(a - b) for a, b in zip(want, got, strict=True)) < 8
    # the header band above the first row carries the column labels (dark text pixels)
    header = sheet.crop((boxes[0][1][0], boxes[0][1][1] - 14, sheet.width, boxes[0][1][1]))
    assert min(header.convert("L").getextrema()) < 100


def test_contact_sheet_grows_with_axes_and_thumb_size_and_shows_failures(tmp_path):
    s = _session(tmp_path / "runs")
    two = _grid(s).run().contact_sheet(thumb=96)
    three = s.compare(
        prompt=["a kite", "a boat"], aspect_ratio=["1:1", "16:9"], google_search=[False, True]
    )
    three.run()
    three.cells[0].status, three.cells[0].result = "failed", None
    three.cells[0].error = "the emulator failed"
    big = three.contact_sheet(thumb=96)
    assert big.height > two.height  # one block per value of the outer axis
    assert three.contact_sheet(thumb=192).width > big.width
    box = big.info["nb2_cells"][0][1]
    failed = big.crop(box).convert("RGB")
    assert failed.getpixel((2, 2)) == (251, 225, 225)  # a tinted box, not a blank
    assert min(failed.convert("L").getextrema()) < 100  # with its status written in


# -- HTML report --------------------------------------------------------------------------------
def test_to_html_is_self_contained_escaped_and_has_one_img_per_finished_cell(tmp_path):
    s = _session(tmp_path / "runs")
    g = s.compare(prompt=[XSS, "a boat"], resolution=["1K", "2K"])
    g.run()
    g.cells[1].status, g.cells[1].result = "blocked", None
    g.cells[1].error = "flagged <b>sensitive</b> (E005)"
    out = g.to_html(tmp_path / "report.html")
    assert out == tmp_path / "report.html"
    page = out.read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    finished = [c for c in g.cells if c.result is not None]
    assert len(parser.imgs) == len(finished) == 3
    assert all(img["src"].startswith("data:image/") for img in parser.imgs)
    assert "script" not in parser.tags
    text = "".join(parser.text)
    assert XSS in text and "flagged <b>sensitive</b> (E005)" in text  # shown, as text
    assert "file://" not in page and "http" not in page.replace("http-equiv", "")


# -- manifest -----------------------------------------------------------------------------------
def _strip(m):
    m = json.loads(json.dumps(m))
    m.pop("created_at")
    for cell in m["cells"]:
        for name in VOLATILE:
            cell.pop(name)
    return m


def test_manifest_is_the_same_for_two_identical_runs_except_ids_and_times(tmp_path):
    m1 = _grid(_session(tmp_path / "a")).run().manifest(tmp_path / "a.json")
    m2 = _grid(_session(tmp_path / "b")).run().manifest()
    assert _strip(m1) == _strip(m2) and diff_manifests(m1, m2) == []
    assert json.loads((tmp_path / "a.json").read_text()) == m1
    assert (tmp_path / "a.json").read_text() == json.dumps(m1, indent=1, sort_keys=True) + "\n"
    # what does differ is only what must: run ids, files, times
    c1, c2 = m1["cells"][0], m2["cells"][0]
    assert c1["run_id"] != c2["run_id"] and c1["sha256"] != c2["sha256"]
    assert c1["raw_sha256"] == c2["raw_sha256"] and c1["cache_key"] == c2["cache_key"]
    assert c1["labels"] == {"prompt": "P1", "aspect_ratio": "1:1"} and c1["status"] == "succeeded"
    assert c1["record"]["run_id"] == c1["run_id"] and c1["path"].endswith(".jpg")
    assert m1["axes"]["aspect_ratio"] == [
        {"label": "1:1", "value": "1:1"},
        {"label": "16:9", "value": "16:9"},
    ]
    assert m1["fixed"] == {"output_format": "jpg"} and m1["nb2_version"] == nb2.__version__


def test_diff_manifests_names_the_changed_cells(tmp_path):
    m1 = _grid(_session(tmp_path / "a")).run().manifest(tmp_path / "a.json")
    s = _session(tmp_path / "b")
    g = _grid(s, prompts=("a red kite over the sea", "a blue kite over the sea at night")).run()
    changes = diff_manifests(tmp_path / "a.json", g.manifest())
    assert changes[0]["change"] == "grid" and "axes" in changes[0]["fields"]
    changed = [c["labels"] for c in changes[1:]]
    assert changed == [
        {"aspect_ratio": "1:1", "prompt": "P2"},
        {"aspect_ratio": "16:9", "prompt": "P2"},
    ]
    assert {"params", "cache_key", "raw_sha256"} <= set(changes[1]["fields"])
    # the same grid replayed from its store: identical, and now all from the cache
    replay = _grid(nb2.Session(backend=OfflineBackend(), store=tmp_path / "a", cache="replay"))
    mr = replay.run().manifest()
    assert diff_manifests(m1, mr) == [] and all(c["cached"] for c in mr["cells"])
    assert [c["run_id"] for c in mr["cells"]] == [c["run_id"] for c in m1["cells"]]
    assert diff_manifests(m1, mr, ignore=())[0]["fields"]["cached"] == [False, True]
    extra = s.compare(prompt=["a red kite over the sea"], aspect_ratio=["1:1", "16:9", "4:3"])
    only = [c["change"] for c in diff_manifests(m1, extra.manifest()) if c["labels"]]
    assert only.count("only in b") == 1 and only.count("only in a") == 2


# -- leave_one_out ------------------------------------------------------------------------------
def test_leave_one_out_names_and_contents(images, tmp_path):
    face = nb2.Reference(images["face"], role="subject")
    refs = [str(images["palette"]), (images["bottle"], "style"), face]
    sets = nb2.leave_one_out(refs)
    assert list(sets) == [
        "all",
        "without palette.jpg",
        "without bottle.png (style)",
        "without face.png (subject)",
    ]
    assert sets["all"] == refs and sets["without palette.jpg"] == refs[1:]
    assert sets["without bottle.png (style)"] == [refs[0], face]
    assert sets["without face.png (subject)"] == refs[:2]
    twice = nb2.leave_one_out([images["palette"], images["palette"]])
    assert list(twice) == ["all", "without palette.jpg", "without palette.jpg #2"]
    s = _session(tmp_path / "runs")
    g = s.compare(prompt="a bottle", references=sets)
    assert [c.labels["references"] for c in g.cells] == list(sets)
    assert [len(c.params.references) for c in g.cells] == [3, 2, 2, 2]
    assert [r.role for r in g.cells[2].params.references] == [None, "subject"]


def test_replayed_grounded_cells_are_marked_as_snapshots(tmp_path):
    s = _session(tmp_path / "runs")
    live = s.compare(prompt=["news today", "weather today"], google_search=[True]).run()
    replay = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs", cache="replay")
    with pytest.warns(nb2.session.result.GroundedSnapshotWarning, match="snapshot of the web"):
        again = replay.compare(prompt=["news today", "weather today"], google_search=[True])
        again.run(max_concurrency=1)
    for old, new in zip(live.cells, again.cells, strict=True):
        assert new.result.cached and new.result.grounded_at == old.result.grounded_at
    assert again._repr_html_().count(">snapshot ") == 2
    assert all(c["grounded_at"] for c in again.manifest()["cells"])
