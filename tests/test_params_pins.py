"""Params, pinned against the reference's schema (tests/reference.py), one promise a test."""

from __future__ import annotations

import pytest

import nb2
from nb2.errors import ValidationError
from nb2.request.params import Params

from . import reference

MODELS = ("google/nano-banana-2", "google/nano-banana-pro", "google/nano-banana")
FIELDS = {
    "aspect_ratio": reference.RATIOS,
    "resolution": reference.RESOLUTIONS,
    "output_format": reference.FORMATS,
    "google_search": (False, True),
    "image_search": (False, True),
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_exactly_what_the_reference_allows_is_accepted(model, field):
    for value in FIELDS[field]:
        if reference.accepts(model, field, value):
            assert getattr(Params("a cat", model=model, **{field: value}), field) == value
        elif value is not False:  # False means "off", which a model without the input is
            with pytest.raises(ValidationError) as exc:
                Params("a cat", model=model, **{field: value})
            assert exc.value.field == field


def test_every_ratio_at_every_resolution_has_the_references_size():
    for res in reference.RESOLUTIONS:
        for ratio in reference.SIZES_1K:
            p = Params("a cat", resolution=res, aspect_ratio=ratio)
            assert p.pixel_size() == reference.size(res, ratio), (res, ratio)


def test_one_reference_without_a_list_is_one_reference(images):
    for one in (images["palette"], str(images["palette"]), images["palette"].read_bytes()):
        p = Params("x", references=one)
        assert len(p.references) == 1
        assert p.cache_key == Params("x", references=[images["palette"]]).cache_key
    p = Params("x", references=nb2.Reference(images["face"], role="subject"))
    assert [r.role for r in p.references] == ["subject"]
    assert Params("x", references=None).references == ()


def test_a_round_trip_keeps_the_options_and_the_model():
    p = Params(
        "x",
        model="nano-banana-pro",
        options={"safety_filter_level": "block_low_and_above", "allow_fallback_model": True},
    )
    again = Params.from_dict(p.to_dict(), lambda sha: b"")
    assert again.options == p.options and again.model == "google/nano-banana-pro"
    assert again.cache_key == p.cache_key
    assert again.scalar_input()["safety_filter_level"] == "block_low_and_above"


@pytest.mark.parametrize("bad", [True, False, -1, 1.5, "2"])
def test_repeat_must_be_a_sample_index(bad):
    with pytest.raises(ValidationError) as exc:
        Params("x", repeat=bad)
    assert exc.value.field == "repeat" and exc.value.value == bad
    assert Params("x", repeat=3).repeat == 3 and Params("x").repeat == 0


def test_implicit_and_explicit_defaults_are_one_request():
    pro = Params("x", model="nano-banana-pro")
    explicit = Params(
        "x",
        model="google/nano-banana-pro",
        resolution="2K",
        aspect_ratio="match_input_image",
        output_format="jpg",
        options={"safety_filter_level": "block_only_high", "allow_fallback_model": False},
    )
    assert pro.cache_key == explicit.cache_key and pro == explicit
    assert pro.cache_key != Params("x", model="nano-banana-pro", resolution="1K").cache_key
    two = Params("x")
    assert two.cache_key == Params("x", google_search=False, image_search=False).cache_key
    assert two != pro and hash(two) != hash(pro)


def test_prompt_limits_are_the_references():
    assert Params("x" * 20_000).prompt == "x" * 20_000
    with pytest.raises(ValidationError) as exc:
        Params("x" * 20_001)
    assert exc.value.field == "prompt" and "20001" in str(exc.value)
    with pytest.raises(ValidationError, match="prompt"):
        Params("a \ud800 lone surrogate")
    with pytest.raises(ValidationError, match="empty"):
        Params(None)  # type: ignore[arg-type]


def test_unknown_options_are_named_with_what_the_model_allows():
    with pytest.raises(ValidationError) as exc:
        Params("x", model="nano-banana-pro", options={"seed": 3})
    assert exc.value.field == "seed" and "safety_filter_level" in str(exc.value)
    with pytest.raises(ValidationError, match="none"):
        Params("x", options={"seed": 3})


def test_an_edit_is_a_request_whose_first_image_is_the_one_to_edit(images):
    edit = Params("x", references=[nb2.Reference(images["face"], role="edit")])
    assert edit.is_edit
    assert not Params("x", references=[images["face"]]).is_edit
    assert not Params("x").is_edit
    later = Params("x", references=[images["face"], nb2.Reference(images["bottle"], role="edit")])
    assert not later.is_edit


def test_match_input_image_follows_the_first_image(images):
    # palette.jpg is 300x200 (3:2), bottle.png 400x600 (2:3)
    p = Params("x", references=[images["palette"], images["bottle"]])
    assert p.effective_aspect_ratio() == "3:2" and p.pixel_size() == reference.size("1K", "3:2")
    q = Params("x", references=[images["bottle"], images["palette"]], resolution="2K")
    assert q.effective_aspect_ratio() == "2:3" and q.pixel_size() == reference.size("2K", "2:3")
    assert Params("x", aspect_ratio="16:9").effective_aspect_ratio() == "16:9"


def test_the_repr_says_what_differs_from_a_plain_request(images):
    plain = repr(Params("a cat"))
    assert plain.startswith("Params('a cat', model='nano-banana-2'")
    assert "google_search" not in plain and "repeat" not in plain and "references" not in plain
    full = repr(
        Params("a cat", image_search=True, repeat=2, references=[images["face"]], resolution="4K")
    )
    for bit in ("google_search=True", "image_search=True", "repeat=2", "references=1", "'4K'"):
        assert bit in full


def test_an_old_record_without_repeat_or_options_is_the_first_sample():
    data = Params("x").to_dict()
    del data["repeat"], data["options"]
    again = Params.from_dict(data, lambda sha: b"")
    assert again.repeat == 0 and again == Params("x")


def test_a_boolean_field_names_what_it_allows():
    with pytest.raises(ValidationError) as exc:
        Params("x", google_search="yes")
    assert exc.value.allowed == [False, True]


def test_options_in_any_order_are_one_request():
    one = {"safety_filter_level": "block_only_high", "allow_fallback_model": True}
    other = dict(reversed(list(one.items())))
    a = Params("x", model="nano-banana-pro", options=one)
    b = Params("x", model="nano-banana-pro", options=other)
    assert list(a.options) != list(b.options)  # the orders do differ
    assert a.cache_key == b.cache_key


def test_the_api_input_carries_the_references_uris_in_order_and_only_them(images):
    refs = Params("x", references=[str(images["palette"]), str(images["bottle"])])
    sent = refs.api_input(["data:image/png;base64,AA", "https://x/b.png"])
    assert sent["image_input"] == ["data:image/png;base64,AA", "https://x/b.png"]
    assert {k: v for k, v in sent.items() if k != "image_input"} == refs.scalar_input()
    alone = Params("x").api_input([])
    assert alone == Params("x").scalar_input() and "image_input" not in alone
