"""The offline stand-in in comparisons: the scene comes from the content (prompt, references)
alone, so a grid shows only what it varies. Resolution changes size and detail, grounding adds
a mark, a subject reference is the subject in every scene, an edit changes what it names, and
non-ASCII captions are drawn as letters."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.backends.offline.render import render, subject_phrase
from nb2.imaging import font
from nb2.request.params import Params


def _img(params: Params) -> Image.Image:
    return Image.open(io.BytesIO(OfflineBackend().run(params).data)).convert("RGB")


def _diff(a: Image.Image, b: Image.Image, box: tuple[float, float, float, float] = (0, 0, 1, 1)):
    """Mean absolute difference (0..255) of two images at one small size, in a relative box."""
    side = (192, round(192 * a.height / a.width))
    a, b = a.resize(side, Image.Resampling.BOX), b.resize(side, Image.Resampling.BOX)
    crop = tuple(round(v * side[i % 2]) for i, v in enumerate(box))
    return sum(ImageStat.Stat(ImageChops.difference(a.crop(crop), b.crop(crop))).mean) / 3


PROMPT = "A rooftop café in Lisbon at golden hour, terracotta roofs and the river behind"


def test_resolution_changes_size_and_detail_not_the_picture():
    one = _img(Params(PROMPT, resolution="1K", aspect_ratio="16:9", output_format="png"))
    two = _img(Params(PROMPT, resolution="2K", aspect_ratio="16:9", output_format="png"))
    four = _img(Params(PROMPT, resolution="4K", aspect_ratio="16:9", output_format="png"))
    other = _img(Params("a lighthouse at blue hour", resolution="1K", aspect_ratio="16:9"))
    assert (one.size, two.size, four.size) == ((1376, 768), (2752, 1536), (5504, 3072))
    assert two.tobytes() != one.resize(two.size).tobytes()  # not a mere upscale: more detail
    assert _diff(one, two) < 4 and _diff(one, four) < 4  # the same scene
    assert _diff(one, other) > 25  # while another prompt is another scene


def test_grounding_adds_a_mark_and_changes_nothing_else():
    off = _img(Params(PROMPT, aspect_ratio="16:9", output_format="png"))
    web = _img(Params(PROMPT, aspect_ratio="16:9", google_search=True, output_format="png"))
    both = _img(Params(PROMPT, aspect_ratio="16:9", image_search=True, output_format="png"))
    corner = (0.7, 0.0, 1.0, 0.08)  # the top-right band
    below = (0.0, 0.12, 1.0, 1.0)
    assert _diff(off, web, below) == 0 and _diff(off, both, below) == 0
    assert _diff(off, web, corner) > 20
    assert web.getpixel((web.width - 20, 30)) == (25, 103, 210)  # the mark's blue
    assert _diff(web, both, corner) > 0  # "web search" and "web + image search" differ


def test_the_model_and_the_format_are_not_in_the_scene():
    a = _img(Params(PROMPT, aspect_ratio="16:9", output_format="png"))
    b = _img(Params(PROMPT, aspect_ratio="16:9", output_format="png", model="nano-banana"))
    assert _diff(a, b, (0.0, 0.1, 1.0, 1.0)) < 3  # only the mark names the model
    jpg = _img(Params(PROMPT, aspect_ratio="16:9", output_format="jpg"))
    assert _diff(a, jpg) < 2


def test_rerun_at_4k_is_the_same_picture(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    r = s.generate(PROMPT, aspect_ratio="3:2")
    big = r.upscale("4K")
    assert big.size[0] > 3 * r.size[0] and _diff(r.image.convert("RGB"), big.image) < 4


def test_a_subject_reference_is_the_subject_of_every_scene(tmp_path):
    face = tmp_path / "pip.png"
    checker = Image.new("RGB", (64, 64), (255, 0, 255))
    ImageDraw.Draw(checker).rectangle((0, 0, 31, 31), fill=(0, 255, 0))
    checker.save(face)
    scenes = ["Pip making tea in a cosy kitchen", "Pip jumping into autumn leaves in a park"]

    def magenta(img: Image.Image) -> int:
        """Pixels of both the reference's colours, the fewer of the two (its checker pattern,
        not one colour a palette would lend)."""
        px = list(img.resize((128, 160)).get_flattened_data())
        pink = sum(1 for p in px if min(p[0], p[2]) > p[1] + 80)
        green = sum(1 for p in px if p[1] > max(p[0], p[2]) + 80)
        return min(pink, green)

    with_subject = [
        _img(Params(p, references=[nb2.Reference(face, role="subject")], aspect_ratio="4:5"))
        for p in scenes
    ]
    as_palette = _img(
        Params(scenes[0], references=[nb2.Reference(face, role="palette")], aspect_ratio="4:5")
    )
    counts = [magenta(i) for i in with_subject]
    assert min(counts) > 150  # the reference itself stands in each scene
    assert magenta(as_palette) < min(counts) / 4  # a palette lends colours, not the subject
    assert _diff(with_subject[0], with_subject[1]) > 10  # and the settings still differ


def test_the_subject_is_the_prompts_first_phrase():
    assert subject_phrase("A glass serum bottle on white marble") == "glass serum bottle"
    assert subject_phrase("a lighthouse at golden hour, fog") == "lighthouse"
    assert subject_phrase("Pip the fox mascot making tea in a kitchen") == "pip fox mascot"


def test_an_edit_changes_only_what_it_names(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    base = s.generate("a white cup on a wooden table", aspect_ratio="4:3")
    vignette = s.edit("add a vignette")
    b, v = base.image.convert("RGB"), vignette.image.convert("RGB")
    assert _diff(b, v, (0.4, 0.4, 0.6, 0.6)) < 2  # the centre stays
    assert _diff(b, v, (0.0, 0.2, 0.08, 0.8)) > 20  # the edges darken
    # the same instruction on the same image at another output size is the same change
    again = _img(
        Params(
            "add a vignette",
            references=[nb2.Reference(base.path, role="edit")],
            aspect_ratio="4:3",
            resolution="2K",
        )
    )
    assert _diff(v, again) < 4


@pytest.mark.parametrize("text", ["café", "Zürich", "Ελλάδα", "Москва"])
def test_non_ascii_captions_are_letters_not_boxes(text):
    face = font(24)
    missing = face.getmask("\ue000")  # a private-use code point: the font's "no glyph" box
    for ch in {c for c in text if ord(c) > 127}:
        glyph = face.getmask(ch)
        assert (glyph.size, bytes(glyph)) != (missing.size, bytes(missing)), ch
    # and the renderer draws with it: the caption differs from the same text unaccented
    a = render({"prompt": text, "output_format": "png"}, [])
    b = render({"prompt": "x" * len(text), "output_format": "png"}, [])
    assert a != b
