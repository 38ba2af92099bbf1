"""The pictures: nb2's offline renderer draws the scene (or edits the previous image) and the
result is brought to the family table's exact pixel size and the answer's MIME type."""

from __future__ import annotations

import io
from typing import Any

from ... import models
from ...request.references import EDIT_PREFIX
from .request import Call

_FORMAT = {"image/png": "PNG", "image/webp": "WEBP"}  # anything else: JPEG


def ratio_of(call: Call) -> str:
    """The output's ratio: as asked, else the input image's (the edited one first), else 1:1."""
    if call.ratio:
        return call.ratio
    first = call.base if call.base is not None else (call.refs[0] if call.refs else None)
    if first is None:
        return "1:1"
    from PIL import Image

    with Image.open(io.BytesIO(first)) as pic:
        return call.fam.nearest_ratio(*pic.size)


def _encode(img: Any, mime: str) -> bytes:
    out = io.BytesIO()
    fmt = _FORMAT.get(mime, "JPEG")
    if fmt == "PNG":
        img.save(out, "PNG", compress_level=1)  # a fraction of the default's time at 4K
    else:
        img.convert("RGB").save(out, fmt, quality=90)
    return out.getvalue()


def final(call: Call, mime: str) -> tuple[bytes, str, tuple[int, int]]:
    """The answer's image: (bytes, its ratio, its size). The same call gives the same bytes."""
    from PIL import Image

    from ...backends.offline.render import render

    ratio = ratio_of(call)
    size = call.fam.size(call.tier, ratio)
    prompt = call.prompt
    images = list(call.refs)
    if call.base is not None:
        # the conversation's previous image is edited: it becomes image 1 of an edit
        prompt = EDIT_PREFIX + prompt.removeprefix(EDIT_PREFIX)
        images = [call.base, *images]
    res = "1K" if call.tier == "512" else call.tier  # a 512 is drawn at 1K, scaled down
    drawn = models.resolve_model(call.fam.standin).size(res, ratio)
    direct = drawn == size and mime in ("image/jpeg", "image/png")
    inp = {
        "prompt": prompt,
        "aspect_ratio": ratio,
        "resolution": res,
        "output_format": "jpg" if direct and mime == "image/jpeg" else "png",
        "google_search": call.web_search,
        "image_search": call.image_search,
    }
    data = render(inp, images, model=call.fam.standin, variant=(call.seed or 0) % 997)
    if direct:
        return data, ratio, size
    # nb2's tables differ from the Gemini docs' for the extreme ratios (and have no 512)
    img = Image.open(io.BytesIO(data)).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    return _encode(img, mime), ratio, size


def interim(picture: bytes) -> bytes:
    """A thought image: a small, soft draft of the answer's image, PNG (as captured)."""
    from PIL import Image, ImageFilter

    img = Image.open(io.BytesIO(picture)).convert("RGB")
    img.thumbnail((512, 512))
    return _encode(img.filter(ImageFilter.GaussianBlur(3)), "image/png")
