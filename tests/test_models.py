import pytest

from nb2 import models
from nb2.errors import ValidationError


def test_nano_banana_2_schema_matches_the_reference():
    spec = models.resolve_model("nano-banana-2")
    assert spec.id == "google/nano-banana-2"
    assert len(spec.aspect_ratios) == 15
    assert spec.aspect_ratios[0] == "match_input_image"
    assert set(spec.aspect_ratios[1:]) == {
        "1:1", "1:4", "1:8", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5", "5:4", "8:1", "9:16",
        "16:9", "21:9",
    }  # fmt: skip
    assert spec.fields["resolution"].choices == ("1K", "2K", "4K")
    assert spec.default("resolution") == "1K"
    assert spec.default("output_format") == "jpg"
    assert spec.default("aspect_ratio") == "match_input_image"
    assert spec.default("google_search") is False and spec.default("image_search") is False
    assert spec.max_references == 14
    assert [f.name for f in spec.fields.values() if f.required] == ["prompt"]


@pytest.mark.parametrize(
    ("resolution", "ratio", "size"),
    # the reference's numbers: Google's table, and live measurements for the extreme ratios
    [("1K", "1:1", (1024, 1024)), ("2K", "16:9", (2752, 1536)), ("2K", "21:9", (3168, 1344)),
     ("4K", "9:16", (3072, 5504)), ("4K", "2:3", (3392, 5056)),
     ("1K", "1:4", (512, 2064)), ("2K", "1:4", (1024, 4128)), ("4K", "1:4", (2048, 8256)),
     ("1K", "4:1", (2064, 512)), ("4K", "4:1", (8256, 2048)),
     ("1K", "1:8", (352, 2928)), ("2K", "1:8", (704, 5856)), ("4K", "1:8", (1408, 11712)),
     ("1K", "8:1", (2928, 352)), ("4K", "8:1", (11712, 1408))],
)  # fmt: skip
def test_pixel_sizes(resolution, ratio, size):
    assert models.resolve_model("nano-banana-2").size(resolution, ratio) == size


def test_every_tier_has_every_ratio_and_the_right_shape():
    spec = models.MODELS["google/nano-banana-2"]
    for res in models.RESOLUTIONS:
        assert len(spec.sizes[res]) == 14
        for ratio, (w, h) in spec.sizes[res].items():
            a, b = (int(x) for x in ratio.split(":"))
            assert abs(w / h - a / b) / (a / b) < 0.05, (res, ratio)


def test_siblings():
    nb = models.resolve_model("google/nano-banana")
    assert not nb.has_resolution and not nb.has_grounding
    assert nb.size(None, "9:16") == (768, 1344)
    assert len(nb.aspect_ratios) == 11
    pro = models.resolve_model("nano-banana-pro")
    assert pro.default("resolution") == "2K"
    assert pro.default("safety_filter_level") == "block_only_high"
    assert "1:8" not in pro.aspect_ratios


def test_unknown_model_is_named():
    with pytest.raises(ValidationError) as exc:
        models.resolve_model("nano-banana-3")
    assert exc.value.field == "model" and "nano-banana-3" in str(exc.value)
    assert "google/nano-banana-2" in str(exc.value)


def test_prices_are_dated_sourced_and_overridable():
    assert models.PRICE_AS_OF and "UNVERIFIED" in models.PRICE_SOURCE
    assert models.price("nano-banana-2", "2K") == pytest.approx(0.101)
    # $60 per million output tokens x the token counts, as the reference says
    for res, tokens in {"1K": 1120, "2K": 1680, "4K": 2520}.items():
        assert models.price("nano-banana-2", res) == pytest.approx(60e-6 * tokens, abs=0.001)
    models.set_price("nano-banana-2", "4K", 0.2)
    assert models.price("google/nano-banana-2", "4K") == 0.2
    models.reset_prices()
    assert models.price("nano-banana-2", "4K") == pytest.approx(0.151)


def test_check_input_uses_the_api_shape():
    problems = models.check_input(
        "google/nano-banana-2", {"prompt": "x", "resolution": "1k", "seed": 3}
    )
    fields = {p["field"] for p in problems}
    assert fields == {"input.resolution", "input.seed"}
    assert models.check_input("google/nano-banana-2", {"prompt": "x"}) == []
    too_many = {"prompt": "x", "image_input": ["data:image/png;base64,AA"] * 15}
    assert [p["type"] for p in models.check_input("nano-banana-2", too_many)] == ["max_items"]
