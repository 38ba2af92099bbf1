"""A deterministic local stand-in for the model: the offline backend and the emulator use it.

It honours the request (exact pixel size, output format), draws a picture from the prompt's words
(colours, light, time of day, a subject on a surface) and the reference images (their colours and
thumbnails), and for an edit transforms image 1 by the common instructions (darker, warmer, fog,
bokeh, ...), captioning any it does not know. Every image says it is offline. Same input, same
bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from .. import models
from ..imaging import encode
from ..references import EDIT_PREFIX

OFFLINE_MARK = "nb2 OFFLINE (local stand-in, not the model)"
_CANVAS = 480  # longest side of the low-resolution drawing, upscaled once to the output size

COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (236, 236, 232), "marble": (226, 224, 220), "black": (24, 24, 28),
    "grey": (128, 128, 132), "gray": (128, 128, 132), "silver": (192, 194, 200),
    "red": (200, 40, 44), "crimson": (170, 20, 50), "orange": (240, 130, 30),
    "amber": (255, 176, 40), "gold": (212, 170, 60), "golden": (230, 170, 70),
    "yellow": (240, 210, 60), "lemon": (250, 236, 90), "green": (60, 150, 70),
    "eucalyptus": (120, 160, 140), "sage": (150, 170, 140), "olive": (110, 120, 50),
    "mint": (160, 220, 190), "teal": (30, 130, 130), "cyan": (60, 200, 220),
    "blue": (40, 90, 200), "navy": (20, 30, 80), "sky": (130, 190, 240),
    "ocean": (30, 100, 150), "purple": (120, 60, 160), "violet": (140, 90, 210),
    "lavender": (190, 170, 230), "pink": (240, 150, 180), "rose": (220, 110, 130),
    "magenta": (200, 40, 160), "brown": (120, 80, 50), "wood": (150, 105, 65),
    "wooden": (150, 105, 65), "terracotta": (200, 100, 70), "beige": (220, 200, 170),
    "cream": (245, 235, 210), "glass": (200, 225, 235), "neon": (255, 60, 200),
    "sunset": (250, 120, 70), "lisbon": (240, 190, 120), "forest": (40, 90, 50),
    "snow": (245, 248, 252), "sand": (220, 195, 150), "copper": (184, 115, 51),
}  # fmt: skip

_WARM = ("golden hour", "sunset", "sunrise", "warm", "candle", "fire", "autumn")
_DARK = ("night", "dark", "moody", "noir", "midnight", "shadow")
_SURFACE = ("on ", "table", "marble", "floor", "desk", "counter", "ground", "sand", "rooftop")


def render(
    inp: dict[str, Any],
    images: Sequence[bytes],
    *,
    model: str = models.DEFAULT_MODEL,
    variant: int = 0,
) -> bytes:
    """The image for an API input; ``images`` are the decoded bytes of ``image_input``."""
    from PIL import Image

    spec = models.resolve_model(model)
    pics = [Image.open(io.BytesIO(b)) for b in images]
    ratio = inp.get("aspect_ratio") or models.MATCH_INPUT
    if ratio == models.MATCH_INPUT:
        ratio = models.nearest_ratio(spec, *pics[0].size) if pics else "1:1"
    size = spec.size(inp.get("resolution"), ratio)
    prompt = str(inp.get("prompt", ""))
    seed = _seed(inp, images, model, variant)
    if pics and prompt.startswith(EDIT_PREFIX):
        instruction = prompt[len(EDIT_PREFIX) :].split("\n", 1)[0]
        img = _edit(pics[0], instruction, size, seed)
    else:
        img = _compose(prompt, pics, size, seed)
    _mark(img, model)
    return encode(img, str(inp.get("output_format") or "jpg"))


def _seed(inp: dict[str, Any], images: Sequence[bytes], model: str, variant: int) -> bytes:
    scalars = {k: v for k, v in inp.items() if k != "image_input"}
    blob = json.dumps([scalars, model, variant], sort_keys=True).encode()
    h = hashlib.sha256(blob)
    for b in images:
        h.update(hashlib.sha256(b).digest())
    return h.digest()


def palette(prompt: str, pics: Sequence[Any], seed: bytes) -> list[tuple[int, int, int]]:
    """Colours named in the prompt (in order), then each reference's dominant colour."""
    words = re.findall(r"[a-z]+", prompt.lower())
    cols = [COLOURS[w] for w in words if w in COLOURS]
    for pic in pics:
        small = pic.convert("RGB").resize((16, 16))
        q = small.quantize(2)
        pal = q.getpalette() or [128, 128, 128]
        counts = sorted(q.getcolors() or [(1, 0)], reverse=True)
        idx = counts[0][1]
        cols.append(tuple(pal[idx * 3 : idx * 3 + 3]))  # type: ignore[arg-type]
    while len(cols) < 3:
        i = len(cols) * 3
        cols.append((64 + seed[i] % 160, 64 + seed[i + 1] % 160, 64 + seed[i + 2] % 160))
    return cols


def _compose(prompt: str, pics: Sequence[Any], size: tuple[int, int], seed: bytes) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    scale = _CANVAS / max(w, h)
    cw, ch = max(8, round(w * scale)), max(8, round(h * scale))
    text = prompt.lower()
    cols = palette(prompt, pics, seed)
    top, bottom, accent = cols[0], cols[1], cols[2]
    if any(k in text for k in _DARK):
        top, bottom = _mix(top, (10, 10, 20), 0.6), _mix(bottom, (10, 10, 20), 0.5)
    if any(k in text for k in _WARM):
        top, bottom = _mix(top, (255, 170, 80), 0.35), _mix(bottom, (255, 150, 70), 0.25)
    canvas = _gradient((cw, ch), top, bottom)
    draw = ImageDraw.Draw(canvas)
    horizon = ch * (0.55 + (seed[10] % 20) / 100)
    if any(k in text for k in _SURFACE):  # something stands on a surface
        draw.rectangle((0, horizon, cw, ch), fill=_mix(bottom, (255, 255, 255), 0.25))
    # the subject, on a rule-of-thirds point picked by the seed
    sx = cw * (1 / 3 if seed[11] % 2 else 2 / 3)
    sy = horizon - ch * 0.12
    rx, ry = cw * (0.08 + seed[12] % 10 / 100), ch * (0.16 + seed[13] % 10 / 100)
    shape = draw.ellipse if seed[14] % 3 else draw.rounded_rectangle
    draw.ellipse(
        (sx - rx, horizon - ry * 0.15, sx + rx * 1.3, horizon + ry * 0.15),
        fill=_mix(bottom, (0, 0, 0), 0.35),
    )  # its shadow
    shape((sx - rx, sy - ry, sx + rx, sy + ry), fill=accent)
    # light: a soft highlight on the side the prompt names
    lx = cw * (0.85 if "right" in text else 0.15 if "left" in text else 0.5)
    ly = ch * (0.1 if ("above" in text or "top" in text) else 0.3)
    glow = Image.new("L", (cw, ch), 0)
    ImageDraw.Draw(glow).ellipse(
        (lx - cw * 0.3, ly - ch * 0.3, lx + cw * 0.3, ly + ch * 0.3),
        fill=150 if "soft" in text else 200,
    )
    glow = glow.filter(ImageFilter.GaussianBlur(max(cw, ch) / 8))
    canvas = Image.composite(Image.new("RGB", (cw, ch), (255, 248, 235)), canvas, glow)
    # the references, as small thumbnails along the bottom edge
    side = max(8, min(cw, ch) // 7)
    for i, pic in enumerate(pics[:14]):
        thumb = pic.convert("RGB")
        thumb.thumbnail((side, side))
        canvas.paste(thumb, (4 + i * (side + 3), ch - side - 4))
    img = canvas.resize((w, h), Image.Resampling.BICUBIC)
    _caption(img, prompt.split("\n", 1)[0])
    return img


# An edit instruction's words and what the stand-in does for them.
@functools.lru_cache(maxsize=1)
def _ops() -> list[tuple[tuple[str, ...], Callable[[Any], Any]]]:
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    def tint(rgb: tuple[int, int, int], amount: float) -> Callable[[Any], Any]:
        return lambda im: Image.blend(im, Image.new("RGB", im.size, rgb), amount)

    def small(fn: Callable[[Any], Any], f: int = 8) -> Callable[[Any], Any]:
        def run(im: Any) -> Any:
            lo = im.resize((max(1, im.width // f), max(1, im.height // f)))
            return fn(lo).resize(im.size, Image.Resampling.BICUBIC)

        return run

    def fog(im: Any) -> Any:
        mask = _gradient((32, 32), (90, 90, 90), (190, 190, 190)).convert("L").resize(im.size)
        return Image.composite(Image.new("RGB", im.size, (225, 228, 232)), im, mask)

    def vignette(im: Any) -> Any:
        from PIL import ImageDraw

        m = Image.new("L", (64, 64), 255)
        ImageDraw.Draw(m).ellipse((6, 6, 58, 58), fill=0)
        m = m.filter(ImageFilter.GaussianBlur(8)).resize(im.size)
        return Image.composite(Image.new("RGB", im.size, (0, 0, 0)), im, m.point(lambda v: v * 0.7))

    return [
        (("darker", "darken", "dim", "moodier", "night"),
         lambda im: ImageEnhance.Brightness(im).enhance(0.65)),
        (("brighter", "brighten", "lighter", "lighten", "more light"),
         lambda im: ImageEnhance.Brightness(im).enhance(1.3)),
        (("warmer", "warm ", "golden"), tint((255, 150, 60), 0.18)),
        (("cooler", "colder", "cool ", "blue tone", "bluer"), tint((70, 130, 255), 0.18)),
        (("fog", "mist", "haze", "hazy", "smoke"), fog),
        (("blur", "bokeh", "soft focus", "defocus"),
         small(lambda im: im.filter(ImageFilter.GaussianBlur(3)))),
        (("more contrast", "increase contrast", "higher contrast", "punchier", "contrast"),
         lambda im: ImageEnhance.Contrast(im).enhance(1.4)),
        (("less contrast", "flatter", "lower contrast"),
         lambda im: ImageEnhance.Contrast(im).enhance(0.7)),
        (("black and white", "black-and-white", "grayscale", "greyscale", "monochrome"),
         lambda im: ImageOps.grayscale(im).convert("RGB")),
        (("sepia", "vintage"),
         lambda im: ImageOps.colorize(ImageOps.grayscale(im), (40, 26, 13), (255, 240, 200))),
        (("vignette",), vignette),
        (("saturat", "vivid", "vibrant", "more colour", "more color"),
         lambda im: ImageEnhance.Color(im).enhance(1.5)),
        (("desaturat", "muted", "pastel"), lambda im: ImageEnhance.Color(im).enhance(0.5)),
        (("sharpen", "sharper", "crisp"), lambda im: im.filter(ImageFilter.SHARPEN)),
        (("mirror", "flip horizontally", "flip it"), ImageOps.mirror),
    ]  # fmt: skip


def edit_ops(instruction: str) -> list[str]:
    """The names of the transforms the stand-in applies for an instruction (for tests, logs)."""
    return [name for name, _ in _matching_ops(instruction)]


def _matching_ops(instruction: str) -> list[tuple[str, Callable[[Any], Any]]]:
    # A word matches at a word start ("saturat" is not in "desaturate") and not after "no " or
    # "less " ("less contrast" is its own op, so it does not also mean "more contrast").
    text = f" {instruction.lower()} "
    found = []
    for words, fn in _ops():
        alternatives = "|".join(re.escape(w) for w in words)
        if re.search(rf"(?<!\bno )(?<!\bless )\b(?:{alternatives})", text):
            found.append((words[0], fn))
    return found


def _edit(base: Any, instruction: str, size: tuple[int, int], seed: bytes) -> Any:
    from PIL import Image, ImageOps

    img = base.convert("RGB")
    if img.size != size:
        img = ImageOps.fit(img, size, Image.Resampling.BICUBIC)
    ops = _matching_ops(instruction)
    for _, fn in ops:
        img = fn(img)
    if not ops:  # an instruction the stand-in cannot draw: write it on the image instead
        _caption(img, f"edit: {instruction}", band=(20, 20, 30))
    return img


def _gradient(size: tuple[int, int], top: tuple[int, ...], bottom: tuple[int, ...]) -> Any:
    from PIL import Image

    col = Image.new("RGB", (1, 256))
    col.putdata([_mix(top, bottom, i / 255) for i in range(256)])
    return col.resize(size, Image.Resampling.BILINEAR)


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=False))[:3]  # type: ignore[return-value]


def _font(px: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=max(10, px))


def _caption(img: Any, text: str, band: tuple[int, int, int] = (0, 0, 0)) -> None:
    from PIL import ImageDraw

    w, h = img.size
    px = max(12, min(w, h) // 28)
    lines = _wrap(text, max(10, int(w / (px * 0.55))))[:3]
    bh = int(px * 1.35 * len(lines) + px)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, h - bh, w, h), fill=band)
    for i, line in enumerate(lines):
        draw.text(
            (px // 2, h - bh + px // 2 + i * px * 1.35), line, fill=(240, 240, 240), font=_font(px)
        )


def _mark(img: Any, model: str) -> None:
    from PIL import ImageDraw

    px = max(12, min(img.size) // 36)
    label = f"{OFFLINE_MARK} · {model.split('/')[-1]}"
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((px // 2, px // 2), label, font=_font(px))
    draw.rectangle((0, 0, box[2] + px // 2, box[3] + px // 2), fill=(255, 214, 0))
    draw.text((px // 2, px // 2), label, fill=(0, 0, 0), font=_font(px))


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(" ".join(text.split()), width) or [""]
