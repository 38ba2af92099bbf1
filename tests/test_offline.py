import io

import pytest
from PIL import Image, ImageStat

import nb2
from nb2 import models
from nb2.backends.offline import OfflineBackend
from nb2.backends.offline.render import render
from nb2.backends.offline.render_edit import edit_ops
from nb2.request.params import Params

from . import reference

SPEC = models.MODELS["google/nano-banana-2"]
CASES = [(res, ratio) for res in models.RESOLUTIONS for ratio in SPEC.sizes[res]]


@pytest.mark.parametrize(("resolution", "ratio"), CASES, ids=[f"{r}-{a}" for r, a in CASES])
def test_every_ratio_and_resolution_has_the_models_size(resolution, ratio):
    out = OfflineBackend().run(
        Params(
            "a lighthouse at dusk", resolution=resolution, aspect_ratio=ratio, output_format="jpg"
        )
    )
    img = Image.open(io.BytesIO(out.data))
    assert img.size == reference.size(resolution, ratio)
    assert img.format == "JPEG"


def test_output_format_and_siblings():
    png = OfflineBackend().run(Params("x", output_format="png", aspect_ratio="9:16"))
    assert Image.open(io.BytesIO(png.data)).format == "PNG"
    nb = OfflineBackend().run(Params("x", model="nano-banana", aspect_ratio="21:9"))
    assert Image.open(io.BytesIO(nb.data)).size == (1536, 672)


def test_deterministic_and_sensitive_to_the_request(images):
    p = Params("a red kite over green hills", references=[images["palette"]], output_format="png")
    a, b = OfflineBackend().run(p).data, OfflineBackend().run(p).data
    assert a == b
    assert OfflineBackend().run(p.replace(repeat=1)).data != a
    assert OfflineBackend().run(p.replace(prompt="a blue kite")).data != a


def test_match_input_image_follows_image_one(images):
    p = Params("x", references=[images["bottle"]])  # 400x600 is 2:3
    assert Image.open(io.BytesIO(OfflineBackend().run(p).data)).size == (848, 1264)


def test_prompt_colours_show_up():
    red = Image.open(io.BytesIO(render({"prompt": "red red red", "output_format": "png"}, [])))
    blue = Image.open(io.BytesIO(render({"prompt": "blue blue blue", "output_format": "png"}, [])))
    r_mean, b_mean = ImageStat.Stat(red.convert("RGB")).mean, ImageStat.Stat(blue).mean
    assert r_mean[0] > b_mean[0] and b_mean[2] > r_mean[2]


@pytest.mark.parametrize(
    ("instruction", "op"),
    [("make the background darker and add subtle fog", "darker"),
     ("shift the colour grade cooler", "cooler"), ("warmer please", "warmer"),
     ("convert to black and white", "black and white"), ("add a vignette", "vignette"),
     ("soft bokeh behind the bottle", "blur"), ("less contrast", "less contrast")],
)  # fmt: skip
def test_edit_instructions_are_understood(instruction, op):
    assert op in edit_ops(instruction)


@pytest.mark.parametrize(
    ("instruction", "ops"),
    [("desaturate the image", ["desaturat"]), ("less contrast", ["less contrast"]),
     ("no fog, just darker", ["darker"]), ("replace the cup with a teapot", [])],
)  # fmt: skip
def test_edit_instructions_match_whole_words_and_negations(instruction, ops):
    assert edit_ops(instruction) == ops


def test_edits_transform_the_previous_image(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    r = s.generate("a white cup on a wooden table", aspect_ratio="4:3")
    darker = s.edit("make it darker")
    cooler = s.edit("make it cooler", parent=r)
    odd = s.edit("replace the cup with a teapot", parent=r)

    def mean(res):
        return ImageStat.Stat(res.image.convert("RGB")).mean

    assert sum(mean(darker)) < 0.8 * sum(mean(r))
    assert mean(cooler)[2] - mean(cooler)[0] > mean(r)[2] - mean(r)[0]
    # an instruction it cannot draw is written on the image: same size, different pixels
    assert odd.size == r.size and odd.path.read_bytes() != r.path.read_bytes()


def test_offline_results_say_so(tmp_path):
    r = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs").generate("x")
    assert r.offline and r.record["backend"]["offline"] is True
    assert r.record["estimated_cost"] == 0.0 and r.record["price"]["usd"] > 0
    assert "offline" in repr(r)
    # and the picture carries the mark: its top-left corner is the yellow label
    assert r.image.convert("RGB").getpixel((2, 2)) == (255, 214, 0)


def test_latency_and_stop():
    import threading

    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    with pytest.raises(nb2.errors.CanceledError):
        OfflineBackend(latency=5).run(Params("x"), cancel=stop)
