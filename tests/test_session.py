import pytest

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.errors import ValidationError


@pytest.fixture
def session(tmp_path):
    return nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")


def test_the_researchers_walkthrough(session, images):
    r = session.generate(
        "a glass serum bottle on white marble, soft light from the right",
        resolution="2K",
        aspect_ratio="16:9",
        output_format="png",
        references=[images["palette"], nb2.Reference(images["bottle"], role="subject")],
    )
    assert r.image.size == (2752, 1536)
    assert r.path.is_file() and r.path.is_relative_to(session.store.root)
    rec = r.record
    assert rec["status"] == "succeeded" and rec["kind"] == "generate" and rec["parent"] is None
    assert rec["params"]["composed_prompt"].endswith(
        "Keep the subject of image 2 (same identity, shape and details)."
    )
    assert [x["name"] for x in rec["params"]["references"]] == ["palette.jpg", "bottle.png"]
    for ref in rec["params"]["references"]:  # the inputs are stored too
        assert session.store.image_path(ref["sha256"]) is not None
    assert rec["nb2_version"] == nb2.__version__ and rec["cache_key"] == r.params.cache_key

    r2 = session.edit("make the background darker and add subtle fog")
    r3 = session.edit("shift the colour grade cooler", parent=r)
    # an edit sends the image being edited first, then the references
    sent = [x["sha256"] for x in r2.record["params"]["references"]]
    assert sent[0] == rec["output"]["sha256"]
    assert sent[1:] == [x["sha256"] for x in rec["params"]["references"]]
    assert r2.record["params"]["composed_prompt"].startswith(
        "Using image 1 as the base image, make the background darker"
    )
    assert r2.record["parent"] == r.id and r3.record["parent"] == r.id
    assert r2.size == r.size  # match_input_image follows the edited image

    h = session.history
    assert h.roots == [r] and h.children(r) == [r2, r3] and h.current == r3
    r4 = r3.upscale("4K")
    assert r4.size == (5504, 3072) and r4.record["kind"] == "upscale"
    assert r4.params.prompt == r3.params.prompt and r4.params.references == r3.params.references
    assert session.history.path(r4) == [r, r3, r4]
    assert repr(session.history) == (
        "History (4 turns)\n"
        "#1 generate 2752x1536 'a glass serum bottle on white marble, soft ligh…'\n"
        "├── #2 edit 2752x1536 'make the background darker and add subtle fog'\n"
        "└── #3 edit 2752x1536 'shift the colour grade cooler'\n"
        "    └── #4 upscale 5504x3072 'shift the colour grade cooler'  <- current"
    )


def test_checkout_moves_where_the_next_edit_lands(session):
    r = session.generate("a cat")
    r2 = session.edit("darker")
    session.checkout(r)
    r3 = session.edit("warmer")
    assert r3.parent == r and r2.parent == r and session.current == r3
    assert r3.edit("brighter").parent == r3


def test_edit_needs_something_to_edit(session):
    with pytest.raises(ValidationError, match="no image to edit"):
        session.edit("darker")
    other = nb2.Session(backend=OfflineBackend(), store=session.store)
    r = other.generate("x")
    with pytest.raises(ValidationError, match="not a result of this session"):
        session.edit("darker", parent=r)


def test_edit_options_override_the_parents(session, images):
    session.generate(
        "x",
        resolution="2K",
        aspect_ratio="1:1",
        references=[nb2.Reference(images["face"], role="subject")],
    )
    e = session.edit("make it wide", aspect_ratio="21:9", output_format="jpg", references=[])
    assert e.size == (3168, 1344) and e.record["output"]["format"] == "jpg"
    assert len(e.params.references) == 1  # only the image being edited


def test_session_defaults(tmp_path):
    s = nb2.Session(
        backend=OfflineBackend(),
        store=tmp_path / "r",
        resolution="2K",
        aspect_ratio="3:2",
        output_format="jpg",
    )
    r = s.generate("x")
    assert r.size == (2528, 1696) and r.record["output"]["format"] == "jpg"
    assert s.generate("x", resolution="1K").size == (1264, 848)


def test_images_are_read_lazily(session):
    r = session.generate("x")
    assert "image" not in vars(r) and not any(hasattr(v, "getpixel") for v in vars(r).values())
    assert r.image.size == r.size


def test_results_rebuild_their_params_from_the_record(session, images):
    r = session.generate("x", references=[nb2.Reference(images["face"], role="style")])
    fresh = nb2.Result(r.record, session.store)
    assert fresh.params == r.params and fresh.params.references[0].role == "style"


def test_no_token_means_offline_and_it_says_so(tmp_path, caplog, monkeypatch):
    import nb2.session.runner as session_module

    monkeypatch.setattr(session_module, "_announced", False)
    with caplog.at_level("WARNING", logger="nb2"):
        s = nb2.Session(store=tmp_path / "r")
    assert isinstance(s.backend, OfflineBackend)
    said = [r for r in caplog.records if r.name == "nb2" and "offline stand-in" in r.message]
    assert len(said) == 1 and said[0].levelname == "WARNING"


def test_a_token_means_replicate(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_" + "x" * 37)
    s = nb2.Session(store=tmp_path / "r")
    assert isinstance(s.backend, nb2.ReplicateBackend)


def test_a_failed_run_is_recorded_and_nothing_stored_is_lost(emulator, backend, tmp_path):
    s = nb2.Session(backend=backend, store=tmp_path / "runs")
    good = s.generate("a fine picture")
    with pytest.raises(nb2.errors.ModerationError):
        s.generate("[flag] a bad one")
    statuses = sorted(r["status"] for r in s.store.records())
    assert statuses == ["blocked", "succeeded"]
    assert good.path.is_file() and s.current == good
