"""The offline renderer's brushes, shared by the first picture (render.py) and its edits
(render_edit.py): a vertical gradient, and a caption band sized to the image."""

from __future__ import annotations

from typing import Any

from ...imaging import font


def gradient(size: tuple[int, int], top: tuple[int, ...], bottom: tuple[int, ...]) -> Any:
    from PIL import Image

    col = Image.new("RGB", (1, 256))
    col.putdata([mix(top, bottom, i / 255) for i in range(256)])
    return col.resize(size, Image.Resampling.BILINEAR)


def mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=False))[:3]  # type: ignore[return-value]


def caption(img: Any, text: str, band: tuple[int, int, int] = (0, 0, 0)) -> None:
    """The text in a band along the bottom, at most three lines, sized to the image (so it
    covers the same share of the picture at every resolution)."""
    from PIL import ImageDraw

    w, h = img.size
    px = max(12, min(w, h) // 28)
    draw = ImageDraw.Draw(img)
    lines = caption_lines(img.size, text, draw)
    bh = int(px * 1.35 * len(lines) + px)
    draw.rectangle((0, h - bh, w, h), fill=band)
    for i, line in enumerate(lines):
        draw.text(
            (px // 2, h - bh + px // 2 + i * px * 1.35), line, fill=(240, 240, 240), font=font(px)
        )


def caption_lines(size: tuple[int, int], text: str, draw: Any = None) -> list[str]:
    """The lines :func:`caption` writes on an image of ``size``: what a reader of the picture
    can see of ``text`` (the offline judge reads them)."""
    if draw is None:
        from PIL import Image, ImageDraw

        draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    w, h = size
    px = max(12, min(w, h) // 28)
    return _wrap(draw, text, font(px), w - px)[:3]


def _wrap(draw: Any, text: str, face: Any, width: float) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=face) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else [""]
