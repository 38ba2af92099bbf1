"""Small Pillow helpers shared by the store, the renderer and the displays."""

from __future__ import annotations

import functools
import io
import sys
from collections.abc import Callable
from typing import Any


def open_image(data: bytes) -> Any:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the header only (no decode)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return img.size


def thumbnail_bytes(data: bytes | Any, max_side: int = 384, quality: int = 80) -> bytes:
    """A small JPEG (or PNG when transparent) of an image, for cards and the panel.

    ``draft`` lets the JPEG decoder skip most of a large file's pixels.
    """
    from PIL import Image

    img = data if hasattr(data, "save") else Image.open(io.BytesIO(data))
    if getattr(img, "format", None) == "JPEG":
        img.draft("RGB", (max_side, max_side))
    img = img.copy() if img is data else img
    img.thumbnail((max_side, max_side), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    if "A" in img.getbands():
        img.save(out, "PNG", optimize=True)
    else:
        img.convert("RGB").save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def encode(img: Any, output_format: str) -> bytes:
    """Bytes in the API's output format (jpg or png)."""
    out = io.BytesIO()
    if output_format == "png":
        # Level 1: a fraction of the default's time at 4K for a few percent more bytes.
        img.save(out, "PNG", compress_level=1)
    else:
        img.convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def open_file(path: Any) -> Any:
    """A PIL image of the file at ``path``, decoded now (Pillow then closes the file)."""
    from PIL import Image

    img = Image.open(path)
    img.load()
    return img


def release_freed_memory() -> bool:
    """Give the pages of memory already freed back to the OS (glibc's ``malloc_trim``).

    For the offline renderer, whose 4K images (64 MB of pixels each) are made and freed in a
    worker thread: glibc keeps what a thread's arena freed (its heaps are only trimmed from
    the top), so a 4K session's kernel stayed ~200 MB larger though every image was freed.
    Nothing live is touched. True if something was given back; False when nothing was, or off
    glibc (macOS, Windows, musl), where this does nothing.
    """
    trim = _malloc_trim()
    return trim is not None and trim(0) == 1


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


# A font with accents and the common non-Latin letters (café, Zürich, Ελλάδα, Москва): DejaVu
# Sans, from the system where it usually is (Debian/Ubuntu, Fedora, Arch, macOS with it
# installed), else by name through Pillow's own font search, else Pillow's built-in font (which
# lacks them). nb2 ships no font file.
FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "DejaVuSans.ttf",
)


def font(size: int, bold: bool = False) -> Any:
    """A TrueType font of ``size`` px that has non-ASCII letters where the system has one."""
    return _font(max(6, int(size)), bold)


@functools.lru_cache(maxsize=64)
def _font(size: int, bold: bool) -> Any:
    from PIL import ImageFont

    for path in FONT_PATHS:
        for name in (path.replace("Sans.ttf", "Sans-Bold.ttf"), path) if bold else (path,):
            try:
                return ImageFont.truetype(name, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)
