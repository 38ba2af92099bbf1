import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import nb2
from nb2 import models
from nb2.errors import ValidationError
from nb2.request.params import Params

from . import reference


def test_defaults_are_the_models(images):
    p = Params("a cat")
    assert (p.resolution, p.aspect_ratio, p.output_format) == ("1K", "match_input_image", "jpg")
    assert p.google_search is False and p.image_search is False
    assert p.pixel_size() == (1024, 1024)  # match_input_image with no image gives 1:1
    # explicit defaults mean the same request
    assert Params("a cat", resolution="1K", output_format="jpg").cache_key == p.cache_key


@pytest.mark.parametrize(
    ("field", "value", "allowed_bit"),
    [("resolution", "1k", "1K, 2K, 4K"), ("resolution", "8K", "4K"),
     ("aspect_ratio", "7:5", "16:9"), ("output_format", "webp", "jpg, png"),
     ("google_search", "yes", "True, False"), ("image_search", 1, "True, False")],
)  # fmt: skip
def test_bad_values_name_field_value_and_allowed(field, value, allowed_bit):
    with pytest.raises(ValidationError) as exc:
        Params("a cat", **{field: value})
    err = exc.value
    assert err.field == field and err.value == value
    assert field in str(err) and repr(value) in str(err) and allowed_bit in str(err)


def test_lower_case_k_gets_a_hint():
    with pytest.raises(ValidationError, match="did you mean '2K'"):
        Params("a cat", resolution="2k")


def test_empty_prompt():
    with pytest.raises(ValidationError) as exc:
        Params("   ")
    assert exc.value.field == "prompt"


def test_fifteen_references_are_too_many(images):
    with pytest.raises(ValidationError) as exc:
        Params("x", references=[images["palette"]] * 15)
    assert exc.value.field == "references" and exc.value.value == 15
    assert "at most 14" in str(exc.value)
    assert len(Params("x", references=[images["palette"]] * 14).references) == 14


def test_a_file_that_is_not_an_image(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    with pytest.raises(ValidationError) as exc:
        Params("x", references=[notes])
    assert exc.value.field == "references[0]" and "notes.txt" in str(exc.value)
    assert "not a readable image" in str(exc.value)


def test_missing_file_is_named():
    with pytest.raises(ValidationError, match=r"nope\.png.*no such file"):
        Params("x", references=["nope.png"])


def test_fields_a_model_does_not_have():
    with pytest.raises(ValidationError) as exc:
        Params("x", model="nano-banana", resolution="2K")
    assert exc.value.field == "resolution" and "google/nano-banana has no resolution" in str(
        exc.value
    )
    with pytest.raises(ValidationError) as exc:
        Params("x", model="nano-banana-2", aspect_ratio="1:8", options={"allow_fallback_model": 1})
    assert exc.value.field == "allow_fallback_model"
    pro = Params(
        "x", model="nano-banana-pro", options={"safety_filter_level": "block_low_and_above"}
    )
    assert pro.scalar_input()["safety_filter_level"] == "block_low_and_above"
    assert pro.resolution == "2K"
    with pytest.raises(ValidationError, match=r"aspect_ratio.*'1:8'"):
        Params("x", model="nano-banana-pro", aspect_ratio="1:8")


def test_image_search_turns_web_search_on():
    p = Params("x", image_search=True)
    assert p.google_search is True
    assert p.cache_key == Params("x", image_search=True, google_search=True).cache_key


def test_cache_key_covers_every_input(images, tmp_path):
    base = Params("a cat", references=[images["palette"]])
    variants = [
        base.replace(prompt="a dog"),
        base.replace(resolution="2K"),
        base.replace(aspect_ratio="16:9"),
        base.replace(output_format="png"),
        base.replace(google_search=True),
        base.replace(image_search=True),
        base.replace(model="nano-banana-pro"),
        base.replace(repeat=1),
        base.replace(references=(nb2.Reference(images["palette"], role="palette"),)),
        base.replace(references=(images["face"],)),
        base.replace(references=()),
    ]
    keys = {v.cache_key for v in variants}
    assert len(keys) == len(variants) and base.cache_key not in keys
    # the same picture under another name is the same request
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(images["palette"].read_bytes())
    assert base.replace(references=(copy,)).cache_key == base.cache_key
    # a changed pixel is not
    img = Image.open(images["palette"]).copy()
    img.putpixel((0, 0), (0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    assert base.replace(references=(buf.getvalue(),)).cache_key != base.cache_key


def test_composed_prompt_names_each_role(images):
    p = Params(
        "a serum bottle on marble",
        references=[
            images["palette"],
            nb2.Reference(images["bottle"], role="subject"),
            nb2.Reference(images["face"], role="palette"),
            nb2.Reference(images["face"], role="the label's typeface"),
        ],
    )
    assert p.composed_prompt == (
        "a serum bottle on marble\n"
        "Keep the subject of image 2 (same identity, shape and details). "
        "Use the colour palette from image 3. Image 4: the label's typeface."
    )
    assert p.scalar_input()["prompt"] == p.composed_prompt


def test_round_trip_through_a_record(images):
    p = Params(
        "x",
        references=[nb2.Reference(images["bottle"], role="subject")],
        repeat=2,
        resolution="4K",
        aspect_ratio="21:9",
        output_format="png",
        google_search=True,
    )
    blobs = {r.sha256: r.data for r in p.references}
    again = Params.from_dict(p.to_dict(), blobs.__getitem__)
    assert again == p and again.cache_key == p.cache_key


# -- property-based: nothing the schema forbids gets past Params -------------------------------

_value = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 3), st.text(max_size=6),
    st.sampled_from(["1K", "2K", "4K", "1k", "16:9", "1:8", "match_input_image", "jpg", "png",
                     "webp", "block_only_high"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    model=st.sampled_from(sorted(models.MODELS)),
    prompt=st.one_of(st.text(max_size=8), st.none()),
    fields=st.fixed_dictionaries(
        {},
        optional={
            k: _value
            for k in (
                "resolution",
                "aspect_ratio",
                "output_format",
                "google_search",
                "image_search",
            )
        },
    ),
)
def test_no_invalid_request_passes_validation(model, prompt, fields):
    try:
        p = Params(prompt, model=model, **fields)
    except ValidationError as exc:
        assert exc.field  # every refusal names its field
        return
    # what would be sent is what the reference's schema accepts (not the code's own table)
    for name, value in p.scalar_input().items():
        assert reference.accepts(model, name, value), (model, name, value)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    field=st.sampled_from(["resolution", "aspect_ratio", "output_format", "google_search"]),
    value=st.text(min_size=1, max_size=5),
)
def test_invalid_requests_never_reach_the_network(emulator, backend, tmp_path: Path, field, value):
    s = nb2.Session(backend=backend, store=tmp_path / "runs", cache="off")
    before = len(emulator.requests)
    try:
        s.generate("a cat", **{field: value})
    except ValidationError:
        assert len(emulator.requests) == before
    else:  # only values the reference's schema allows get through
        assert reference.accepts("nano-banana-2", field, value)
