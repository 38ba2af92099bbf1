"""The offline stand-in's edits: image 1 transformed by the instruction's words (darker,
warmer, fog, bokeh, ...), and nothing else; an instruction it cannot draw is written on it."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any


@functools.lru_cache(maxsize=1)
def _ops() -> list[tuple[tuple[str, ...], Callable[[Any], Any]]]:
    from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

    from .paint import gradient

    def tint(rgb: tuple[int, int, int], amount: float) -> Callable[[Any], Any]:
        return lambda im: Image.blend(im, Image.new("RGB", im.size, rgb), amount)

    def small(fn: Callable[[Any], Any], f: int = 8) -> Callable[[Any], Any]:
        def run(im: Any) -> Any:
            lo = im.resize((max(1, im.width // f), max(1, im.height // f)))
            return fn(lo).resize(im.size, Image.Resampling.BICUBIC)

        return run

    def fog(im: Any) -> Any:
        mask = gradient((32, 32), (90, 90, 90), (190, 190, 190)).convert("L").resize(im.size)
        return Image.composite(Image.new("RGB", im.size, (225, 228, 232)), im, mask)

    def vignette(im: Any) -> Any:
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


def edit(base: Any, instruction: str, size: tuple[int, int]) -> Any:
    """Image 1 at the output size, changed by the transforms the instruction names, and by
    nothing else (no new scene, no seed): what it cannot draw is captioned on it."""
    from PIL import Image, ImageOps

    from .paint import caption

    img = base.convert("RGB")
    if img.size != size:
        img = ImageOps.fit(img, size, Image.Resampling.BICUBIC)
    ops = _matching_ops(instruction)
    for _, fn in ops:
        img = fn(img)
    if not ops:  # an instruction the stand-in cannot draw: write it on the image instead
        caption(img, f"edit: {instruction}", band=(20, 20, 30))
    return img
