"""``nb2.diff(a, b)``: what an edit changed, as a map and two figures.

Pillow does the per-pixel work in C (difference, threshold, histogram); the structural
similarity (SSIM, Wang et al. 2004: 7x7 uniform windows, K1=0.01, K2=0.03, as
scikit-image's default) runs in plain Python over a grayscale copy downscaled to at most
``SSIM_SIDE`` pixels a side, through summed-area tables: about 0.1 s, and no numpy or
scikit-image in the core install. Pillow is imported where it is used, as everywhere in nb2:
``import nb2`` and ``%load_ext nb2`` stay fast until an image is touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..imaging import open_file
from ..views.judging import diff_html

THRESHOLD = 24  # of 255 on the largest channel: below it is compression noise, not an edit
SSIM_SIDE = 256
WINDOW = 7


@dataclass
class Diff:
    """``image``: the difference map (b's picture greyed, changes in red, brighter = more);
    ``changed``: the share of pixels that changed (0..1); ``ssim``: structural similarity
    (1 = identical); ``box``: the bounding box of the changes (None when nothing changed);
    ``mask``: the changed pixels (mode "1"); ``size``: the size compared at (a's)."""

    image: Any
    changed: float
    ssim: float
    box: tuple[int, int, int, int] | None
    mask: Any
    size: tuple[int, int]

    def __repr__(self) -> str:
        return (
            f"<nb2.Diff changed={self.changed:.1%} ssim={self.ssim:.3f} box={self.box} "
            f"at {self.size[0]}x{self.size[1]}>"
        )

    def share_inside(self, box: tuple[int, int, int, int]) -> float:
        """The share of the changed pixels that lie inside ``box`` (left, top, right, bottom)."""
        total = _count(self.mask)
        return 1.0 if total == 0 else _count(self.mask.crop(box)) / total

    def _repr_html_(self) -> str:
        return diff_html(self.image, self.changed, self.ssim, self.box)


def diff(a: Any, b: Any, threshold: int = THRESHOLD) -> Diff:
    """Compare ``a`` (before) with ``b`` (after): Results, paths or PIL images.

    When the sizes differ, ``b`` is aligned to ``a``: cropped to a's aspect ratio about its
    centre, then resized to a's size.
    """
    from PIL import ImageChops

    img_a, img_b = _rgb(a), _rgb(b)
    img_b = align(img_b, img_a.size)
    delta = ImageChops.difference(img_a, img_b)
    r, g, bl = delta.split()
    strength = ImageChops.lighter(ImageChops.lighter(r, g), bl)  # the largest channel's change
    mask = strength.point(lambda v: 255 if v >= threshold else 0).convert("1")
    changed = _count(mask) / (img_a.width * img_a.height)
    return Diff(
        image=_heatmap(img_b, strength, mask),
        changed=changed,
        ssim=ssim(img_a, img_b),
        box=mask.getbbox(),
        mask=mask,
        size=img_a.size,
    )


def _rgb(item: Any) -> Any:
    from PIL import Image

    if isinstance(item, Image.Image):
        img = item
    elif isinstance(item, (str, os.PathLike)):
        img = open_file(item)
    elif hasattr(item, "path") and hasattr(item, "record"):  # a Result
        img = open_file(item.path)
    else:
        raise TypeError(f"diff: {type(item).__name__} is not a Result, a path or a PIL image")
    return img.convert("RGB")


def align(img: Any, size: tuple[int, int]) -> Any:
    """``img`` cropped about its centre to the aspect ratio of ``size``, then resized to it."""
    from PIL import Image

    if img.size == size:
        return img
    w, h = img.size
    tw, th = size
    if w * th > h * tw:  # wider than the target: trim the sides
        cw = round(h * tw / th)
        img = img.crop(((w - cw) // 2, 0, (w - cw) // 2 + cw, h))
    elif w * th < h * tw:  # taller: trim top and bottom
        ch = round(w * th / tw)
        img = img.crop((0, (h - ch) // 2, w, (h - ch) // 2 + ch))
    return img.resize(size, Image.Resampling.LANCZOS)


def _count(mask: Any) -> int:
    return int(mask.convert("L").histogram()[255])


def _heatmap(base: Any, strength: Any, mask: Any) -> Any:
    """The after image in faint grey, the changes in red (stronger change, stronger red)."""
    from PIL import Image, ImageChops

    grey = base.convert("L").point(lambda v: 150 + v * 90 // 255)
    red = Image.merge("RGB", (Image.new("L", base.size, 230), *[Image.new("L", base.size, 30)] * 2))
    alpha = ImageChops.multiply(strength.point(lambda v: min(255, 80 + v * 3)), mask.convert("L"))
    return Image.composite(red, grey.convert("RGB"), alpha)


def ssim(a: Any, b: Any, side: int = SSIM_SIDE) -> float:
    """Mean structural similarity of two same-size images, over grayscale at most ``side``
    pixels a side."""
    from PIL import Image

    ga, gb = a.convert("L"), b.convert("L")
    if max(ga.size) > side:
        scale = side / max(ga.size)
        small = (max(WINDOW, round(ga.width * scale)), max(WINDOW, round(ga.height * scale)))
        ga = ga.resize(small, Image.Resampling.BOX)
        gb = gb.resize(small, Image.Resampling.BOX)
    w, h = ga.size
    if w < WINDOW or h < WINDOW:
        return 1.0 if ga.tobytes() == gb.tobytes() else 0.0
    x, y = list(ga.tobytes()), list(gb.tobytes())
    sx, sy = _integral(x, w, h), _integral(y, w, h)
    sxx = _integral([v * v for v in x], w, h)
    syy = _integral([v * v for v in y], w, h)
    sxy = _integral([p * q for p, q in zip(x, y, strict=True)], w, h)
    n = WINDOW * WINDOW
    cov = n / (n - 1)  # sample covariance, as scikit-image's default
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    total, count = 0.0, 0
    stride = w + 1
    for top in range(h - WINDOW + 1):
        r0, r1 = top * stride, (top + WINDOW) * stride
        for left in range(w - WINDOW + 1):
            a0, b0 = r0 + left, r1 + left
            a1, b1 = a0 + WINDOW, b0 + WINDOW
            mx = (sx[b1] - sx[b0] - sx[a1] + sx[a0]) / n
            my = (sy[b1] - sy[b0] - sy[a1] + sy[a0]) / n
            vx = ((sxx[b1] - sxx[b0] - sxx[a1] + sxx[a0]) / n - mx * mx) * cov
            vy = ((syy[b1] - syy[b0] - syy[a1] + syy[a0]) / n - my * my) * cov
            vxy = ((sxy[b1] - sxy[b0] - sxy[a1] + sxy[a0]) / n - mx * my) * cov
            total += ((2 * mx * my + c1) * (2 * vxy + c2)) / (
                (mx * mx + my * my + c1) * (vx + vy + c2)
            )
            count += 1
    return total / count


def _integral(values: list[int], w: int, h: int) -> list[int]:
    """A summed-area table with a zero row and column in front: (w + 1) x (h + 1)."""
    out = [0] * ((w + 1) * (h + 1))
    for row in range(h):
        run = 0
        base, prev = (row + 1) * (w + 1), row * (w + 1)
        for col in range(w):
            run += values[row * w + col]
            out[base + col + 1] = out[prev + col + 1] + run
    return out
