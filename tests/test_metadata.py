import io
import json
import shutil
import struct
import warnings

import pytest
from PIL import Image

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.errors import MissingReferenceError, NoMetadataError
from nb2.session.result import GroundedSnapshotWarning
from nb2.store import codec as metadata
from nb2.store import jpeg


@pytest.fixture
def s(tmp_path):
    return nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")


def _pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_png_round_trip_keeps_pixels(s):
    r = s.generate("a red kite over the sea", resolution="1K", aspect_ratio="3:2")
    raw = OfflineBackend().run(r.params).data  # what the backend delivered
    data = r.path.read_bytes()
    assert data != raw and _pixels(data) == _pixels(raw)
    assert r.record["output"]["raw_sha256"] == __import__("hashlib").sha256(raw).hexdigest()
    meta = metadata.read(r.path)
    assert meta["run_id"] == r.id and meta["nb2_version"] == nb2.__version__
    assert meta["params"] == r.record["params"] and meta["model"] == "google/nano-banana-2"
    assert meta["parent"] is None and meta["ancestors"] == [] and meta["kind"] == "generate"
    assert meta["backend"] == {"name": "offline", "offline": True}
    # a standard iTXt chunk, right after IHDR: other tools see it too
    assert data[37:41] == b"iTXt" and data[41:45] == b"nb2\x00"
    assert "nb2" in Image.open(r.path).text


def test_jpeg_round_trip_keeps_pixels_and_writes_exif_and_xmp(s):
    r = s.generate("a lighthouse at dusk", resolution="1K", output_format="jpg")
    raw = OfflineBackend().run(r.params).data
    data = r.path.read_bytes()
    assert _pixels(data) == _pixels(raw)
    # only header segments were added: the compressed image data is the same bytes
    assert data.endswith(raw[raw.index(b"\xff\xdb") :])
    meta = metadata.read(r.path)
    assert meta["run_id"] == r.id and meta["params"]["output_format"] == "jpg"
    img = Image.open(r.path)
    exif = img.getexif()
    assert exif[0x010E] == "a lighthouse at dusk" and exif[0x0131].startswith("nb2 ")
    assert b"nb2-metadata/1" in exif.get_ifd(0x8769)[0x9286]
    assert b"<nb2:data>" in img.info["xmp"]
    assert data[2:4] == b"\xff\xe0"  # JFIF APP0 still comes first


def test_jpeg_reads_from_exif_when_xmp_was_stripped(s):
    r = s.generate("a teapot", output_format="jpg")
    data = r.path.read_bytes()
    start = data.index(b"http://ns.adobe.com/xap/1.0/\x00") - 4
    (length,) = struct.unpack(">H", data[start + 2 : start + 4])
    stripped = s.store.root.parent / "stripped.jpg"
    stripped.write_bytes(data[:start] + data[start + 2 + length :])
    assert b"nb2:data" not in stripped.read_bytes()
    assert metadata.read(stripped)["run_id"] == r.id


def test_embedding_again_replaces_and_keeps_a_files_own_exif(s):
    img = Image.new("RGB", (64, 48), (10, 200, 30))
    own = Image.Exif()
    own[0x010F] = "CameraMaker"
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=own.tobytes())
    once = metadata.embed(buf.getvalue(), {"format": metadata.FORMAT, "params": {"prompt": "a"}})
    twice = metadata.embed(once, {"format": metadata.FORMAT, "params": {"prompt": "b"}})
    assert twice.count(b"Exif\x00\x00") == 1 and twice.count(b"<nb2:data>") == 1
    assert twice.index(b"Exif\x00\x00") < twice.index(b"<nb2:data>")  # its EXIF stays first
    assert Image.open(io.BytesIO(twice)).getexif()[0x010F] == "CameraMaker"
    path = s.store.root.parent / "x.jpg"
    path.write_bytes(twice)
    assert metadata.read(path)["params"]["prompt"] == "b"
    png = io.BytesIO()
    img.save(png, "PNG")
    p1 = metadata.embed(png.getvalue(), {"format": metadata.FORMAT, "params": {"prompt": "a"}})
    p2 = metadata.embed(p1, {"format": metadata.FORMAT, "params": {"prompt": "b"}})
    assert p2.count(b"iTXtnb2\x00") == 1 and _pixels(p2) == _pixels(png.getvalue())
    assert Image.open(io.BytesIO(p2)).text["nb2"].find('"prompt":"b"') > 0


def test_a_long_chain_is_kept_whole_in_a_jpeg_and_its_exif_copy_is_shortened():
    step = {"kind": "edit", "prompt": "x" * 500, "params": {"prompt": "x" * 500}, "run_id": "r"}
    meta = {"format": metadata.FORMAT, "params": {"prompt": "end"}, "ancestors": [step] * 300}
    img = io.BytesIO()
    Image.new("RGB", (8, 8)).save(img, "JPEG")
    data = metadata.embed(img.getvalue(), meta)
    assert Image.open(io.BytesIO(data)).size == (8, 8)  # still a valid file
    back = metadata.jpeg.read(io.BytesIO(data), metadata.FORMAT)
    assert back is not None and len(json.loads(back)["ancestors"]) == 300  # extended XMP
    copy = Image.open(io.BytesIO(data)).getexif().get_ifd(0x8769)[0x9286]
    assert b'"truncated"' in copy and len(copy) < 65533  # the EXIF copy says what it lacks


def test_open_an_edit_gives_its_chain_and_repeats_it(s, tmp_path):
    root = s.generate("a glass serum bottle on marble", resolution="1K")
    darker = s.edit("make the background darker")
    fog = s.edit("add subtle fog", output_format="jpg")
    opened = nb2.open(fog.path)
    assert [(st.kind, st.prompt) for st in opened.chain] == [
        ("generate", "a glass serum bottle on marble"),
        ("edit", "make the background darker"),
        ("edit", "add subtle fog"),
    ]
    assert [st.run_id for st in opened.chain] == [root.id, darker.id, fog.id]
    assert opened.parent == darker.id and opened.record["edit_instruction"] == "add subtle fog"
    assert opened.chain[0].params["resolution"] == "1K"
    # the edited image (reference 1) is found in the store the file sits in
    assert opened.params == fog.params
    assert opened.params.references[0].sha256 == darker.record["output"]["sha256"]
    calls = s.backend.calls
    again = s.run(opened.params)  # repeating it: the store answers
    assert again.id == fog.id and s.backend.calls == calls
    fresh = s.run(opened.params, fresh=True)  # or ask the backend again
    assert fresh.id != fog.id and _pixels(fresh.path.read_bytes()) == _pixels(fog.path.read_bytes())
    assert "add subtle fog" in repr(opened)


def test_open_a_copy_needs_the_store_for_its_references(s, tmp_path):
    s.generate("a kite")
    edited = s.edit("make it warmer")
    away = tmp_path / "sent" / "kite.png"
    away.parent.mkdir()
    shutil.copy(edited.path, away)
    opened = nb2.open(away)
    assert opened.chain[-1].prompt == "make it warmer"  # the chain needs no store
    with pytest.raises(MissingReferenceError, match="pass store=") as exc:
        _ = opened.params
    assert exc.value.missing[0]["role"] == "edit"
    assert nb2.open(away, store=s).params == edited.params
    assert nb2.open(away, store=s.store.root).params == edited.params
    # or name the images yourself
    other = nb2.open(away).to_params(references=[])
    assert other.prompt == "make it warmer" and other.references == ()


def test_open_finds_a_reference_by_name_next_to_the_file(s, images, tmp_path):
    r = s.generate("a bottle", references=[nb2.Reference(images["palette"], role="palette")])
    copy = images["palette"].parent / "bottle-result.png"
    shutil.copy(r.path, copy)
    shutil.rmtree(s.store.root / "images" / r.params.references[0].sha256[:2])
    assert nb2.open(copy).params == r.params


def test_a_file_without_nb2_metadata_is_a_named_error(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    with pytest.raises(NoMetadataError, match=r"plain\.png: no nb2 metadata"):
        nb2.open(plain)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(NoMetadataError):
        nb2.open(text)
    assert issubclass(NoMetadataError, nb2.errors.Nb2Error)
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(plain.read_bytes()[:8] + b"\x00\x00\x00\x05iTXtnb")
    with pytest.raises(NoMetadataError):
        nb2.open(damaged)
    with pytest.warns(metadata.MetadataWarning, match="no nb2 metadata written"):
        bare = metadata.embed(b"\x89PNG\r\n\x1a\n", {"format": metadata.FORMAT})
    assert bare == b"\x89PNG\r\n\x1a\n"


def test_grounded_runs_say_when_and_replay_says_it_is_a_snapshot(s, tmp_path):
    live = s.generate("today's weather in Lisbon", google_search=True)
    assert live.grounded_at and live.record["grounded_at"] == live.grounded_at
    assert metadata.read(live.path)["grounded_at"] == live.grounded_at
    assert nb2.open(live.path).grounded_at == live.grounded_at
    assert s.generate("a plain kite").grounded_at is None
    replay = nb2.Session(backend=OfflineBackend(), store=s.store, cache="replay")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = replay.generate("today's weather in Lisbon", google_search=True)
        replay.generate("today's weather in Lisbon", google_search=True, fresh=False)
    notes = [w for w in caught if issubclass(w.category, GroundedSnapshotWarning)]
    assert len(notes) == 1 and live.grounded_at in str(notes[0].message)
    assert again.cached and again.grounded_at == live.grounded_at
    assert f"snapshot {live.grounded_at[:16]}" in again._repr_mimebundle_()["text/html"]
    assert "web snapshot of" in repr(again)


# -- large records in JPEG: extended XMP, each prompt once -----------------------------------
def _segments(data: bytes, head: bytes) -> list[tuple[int, int]]:
    """(start, end) of the APP1 segments whose payload starts with ``head``."""
    return [(s, e) for s, e, m in jpeg.segments(data) if m == 0xE1 and data.startswith(head, s + 4)]


def _without(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    for s, e in sorted(spans, reverse=True):
        data = data[:s] + data[e:]
    return data


def test_a_jpeg_with_a_40_kb_prompt_keeps_its_metadata(s):
    prompt = ("красный змей над серым морем " * 700)[:19_900] + " TAIL-OF-THE-PROMPT"
    assert len(prompt.encode()) > 36_000  # about 40 KB of text, within the 20,000 characters
    with warnings.catch_warnings():
        warnings.simplefilter("error", metadata.MetadataWarning)  # nothing is dropped
        r = s.generate(prompt, output_format="jpg")
        opened = nb2.open(r.path)  # before: NoMetadataError, the record did not fit a segment
    assert opened.params == r.params and opened.record["params"] == r.record["params"]
    raw = OfflineBackend().run(r.params).data
    data = r.path.read_bytes()
    assert data.endswith(raw[raw.index(b"\xff\xdb") :])  # spliced: the same image data
    assert len(_segments(data, jpeg.EXT_HEAD)) >= 1 and len(_segments(data, jpeg.XMP_HEAD)) == 1
    # the prompt once, in the XMP record: no params.composed_prompt (derived again on reading),
    # no EXIF copy (as JSON it is larger than one segment), a summary for other tools
    assert data.count(b"TAIL-OF-THE-PROMPT") == 1
    exif = Image.open(r.path).getexif()
    assert len(exif[0x010E]) == 1000 and 0x9286 not in exif.get_ifd(0x8769)
    png = s.generate(prompt)
    assert png.path.read_bytes().count(b"TAIL-OF-THE-PROMPT") == 1  # was 2 (composed_prompt)
    assert nb2.open(png.path).params == png.params


def test_a_jpeg_edit_chain_of_long_prompts_keeps_its_lineage(s):
    prompts = [f"step {i}: " + "soft light and fog, " * 995 + f"END-{i}" for i in range(4)]
    root = s.generate(prompts[0], output_format="jpg")
    last = root
    for text in prompts[1:]:
        last = s.edit(text, output_format="jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error", metadata.MetadataWarning)
        opened = nb2.open(last.path)  # before: NoMetadataError
    assert [st.prompt for st in opened.chain] == prompts
    assert opened.params == last.params and opened.chain[0].run_id == root.id
    assert opened.record["edit_instruction"] == prompts[3]
    assert opened.record["params"]["composed_prompt"] == last.params.composed_prompt
    data = last.path.read_bytes()
    xmp = b"".join(data[s:e] for s, e in _segments(data, jpeg.EXT_HEAD))
    assert [xmp.count(f"END-{i}".encode()) for i in range(4)] == [1, 1, 1, 1]  # each prompt once

    # a tool that drops the XMP (or only its extended part) leaves the shortened EXIF copy
    for head in (jpeg.XMP_HEAD, jpeg.EXT_HEAD):
        stripped = s.store.root.parent / "stripped.jpg"
        stripped.write_bytes(_without(data, _segments(data, head)))
        with pytest.warns(metadata.MetadataWarning, match=r"the prompts of the \d+ oldest"):
            short = nb2.open(stripped, store=s)
        assert short.params == last.params  # the image's own request is whole
        assert short.chain[-1].prompt == prompts[3] and short.chain[0].prompt == ""
        assert short.record["truncated"]["of"] == 3


def test_extended_xmp_is_assembled_in_any_order_and_refused_when_incomplete(s):
    r = s.generate("туман над гаванью, " * 1000, output_format="jpg")  # 114 KB as JSON
    data = r.path.read_bytes()
    spans = _segments(data, jpeg.EXT_HEAD)
    assert len(spans) >= 2
    parts = [data[a:b] for a, b in spans]
    shuffled = data[: spans[0][0]] + b"".join(parts[::-1]) + data[spans[-1][1] :]
    path = s.store.root.parent / "shuffled.jpg"
    path.write_bytes(shuffled)
    assert nb2.open(path).params == r.params
    again = metadata.embed(data, metadata.read(r.path))  # replaced, never doubled
    assert len(_segments(again, jpeg.EXT_HEAD)) == len(spans) and again.count(b"nb2:format") == 1
    path.write_bytes(_without(data, spans[1:2]))  # one portion lost: the GUID's MD5 fails
    assert metadata.read(path) is None  # and its own request is too large for the EXIF copy
    with pytest.raises(NoMetadataError):
        nb2.open(path)
