"""A deterministic local stand-in for the model: the offline backend and the emulator use it.

It honours the request (exact pixel size, output format) and draws a scene from the content
alone: the prompt's words (its subject, colours, light, time of day, a surface) and the
reference images (a subject reference is the subject; the others lend their colours and sit as
thumbnails along the bottom). So a comparison shows only what was compared: the resolution
changes the size and the detail, not the picture; web or image search adds a visible mark; the
aspect ratio reframes the same scene; the model's name is in the mark, not in the scene. An edit
transforms image 1 by what the instruction names (see render_edit). Every image says it is
offline. Same input, same bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Sequence
from typing import Any

from ... import models
from ...imaging import encode, font
from ...request.references import EDIT_PREFIX
from .paint import caption, gradient, mix

OFFLINE_MARK = "nb2 OFFLINE (local stand-in, not the model)"
_DETAIL = 3  # the drawing is at a third of the output size: sharper (more detail) as it grows

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
# the subject is the prompt's first phrase: up to a comma or one of these words
_BREAK = re.compile(
    r",|;|\s(?:at|on|in|into|with|under|by|near|over|against|beside|from|during|for|behind|"
    r"above|below|across|through|inside|outside|among|of the|while)\s|\s\w{3,}ing\s"
)
_ROLE = re.compile(r"(subject|colour palette) (?:of|from) image (\d+)")


def render(
    inp: dict[str, Any],
    images: Sequence[bytes],
    *,
    model: str = models.DEFAULT_MODEL,
    variant: int = 0,
) -> bytes:
    """The image for an API input; ``images`` are the decoded bytes of ``image_input``.
    ``variant`` (a repeat's sample number) moves the scene a little, as a new sample would."""
    from PIL import Image

    from .render_edit import edit

    spec = models.resolve_model(model)
    pics = [Image.open(io.BytesIO(b)) for b in images]
    ratio = inp.get("aspect_ratio") or models.MATCH_INPUT
    if ratio == models.MATCH_INPUT:
        ratio = models.nearest_ratio(spec, *pics[0].size) if pics else "1:1"
    size = spec.size(inp.get("resolution"), ratio)
    prompt = str(inp.get("prompt", ""))
    if pics and prompt.startswith(EDIT_PREFIX):
        img = edit(pics[0], prompt[len(EDIT_PREFIX) :].split("\n", 1)[0], size)
    else:
        img = _compose(prompt, pics, list(images), size, variant)
    if inp.get("google_search") or inp.get("image_search"):
        _grounding_mark(img, bool(inp.get("image_search")))
    _mark(img, model)
    return encode(img, str(inp.get("output_format") or "jpg"))


def _hash(*parts: Any) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.digest()


def subject_phrase(prompt: str) -> str:
    """The prompt's subject, as the stand-in reads it: its first phrase without articles
    ("A glass serum bottle on marble" -> "glass serum bottle")."""
    return _split(prompt)[0]


def _split(prompt: str) -> tuple[str, str]:
    """(the subject phrase, the rest of the first line: the setting), lower case."""
    first = " ".join(prompt.split("\n", 1)[0].lower().split())
    parts = _BREAK.split(f"{first} ", maxsplit=1)
    words = [w for w in re.findall(r"[\w'-]+", parts[0]) if w not in ("a", "an", "the")]
    return " ".join(words), first[len(parts[0]) :]


def _roles(prompt: str, count: int) -> dict[str, list[int]]:
    """Which reference (0-based) the prompt's role sentences name as subject or palette."""
    out: dict[str, list[int]] = {"subject": [], "palette": []}
    for role, n in _ROLE.findall(prompt):
        if 0 < int(n) <= count:
            out["subject" if role == "subject" else "palette"].append(int(n) - 1)
    return out


def _dominant(pic: Any) -> tuple[int, int, int]:
    q = pic.convert("RGB").resize((16, 16)).quantize(2)
    pal = q.getpalette() or [128, 128, 128]
    idx = sorted(q.getcolors() or [(1, 0)], reverse=True)[0][1]
    return tuple(pal[idx * 3 : idx * 3 + 3])  # type: ignore[return-value]


def palette(prompt: str, pics: Sequence[Any], seed: bytes) -> list[tuple[int, int, int]]:
    """Colours named in the prompt (in order), then each reference's dominant colour, then
    colours from ``seed`` (the content's hash) until there are three."""
    words = re.findall(r"[a-z]+", prompt.lower())
    cols = [COLOURS[w] for w in words if w in COLOURS]
    cols += [_dominant(pic) for pic in pics]
    while len(cols) < 3:
        i = len(cols) * 3
        cols.append((64 + seed[i] % 160, 64 + seed[i + 1] % 160, 64 + seed[i + 2] % 160))
    return cols


def _compose(
    prompt: str, pics: Sequence[Any], data: Sequence[bytes], size: tuple[int, int], variant: int
) -> Any:
    from PIL import Image, ImageDraw, ImageFilter

    w, h = size
    cw, ch = max(8, w // _DETAIL), max(8, h // _DETAIL)
    user = prompt.split("\n", 1)[0]
    text = user.lower()
    roles = _roles(prompt, len(pics))
    subject_pic = pics[roles["subject"][0]] if roles["subject"] else None
    subject, setting = _split(user)
    # the subject's look from the subject alone; the setting's from the whole prompt
    hs = _hash("subject", data[roles["subject"][0]] if roles["subject"] else subject, variant)
    hb = _hash("setting", user, [data[i] for i in roles["palette"]], variant)
    others = [p for i, p in enumerate(pics) if i not in roles["subject"]]
    cols = palette(f"{setting} {subject}", others, hb)  # the setting's colours first
    top, bottom = cols[0], cols[1]
    named = [COLOURS[x] for x in re.findall(r"[a-z]+", subject) if x in COLOURS]
    accent = named[0] if named else (64 + hs[0] % 160, 64 + hs[1] % 160, 64 + hs[2] % 160)
    if any(k in text for k in _DARK):
        top, bottom = mix(top, (10, 10, 20), 0.6), mix(bottom, (10, 10, 20), 0.5)
    if any(k in text for k in _WARM):
        top, bottom = mix(top, (255, 170, 80), 0.35), mix(bottom, (255, 150, 70), 0.25)
    canvas = gradient((cw, ch), top, bottom)
    draw = ImageDraw.Draw(canvas)
    horizon = ch * (0.58 + (hb[10] % 14) / 100)
    if any(k in text for k in _SURFACE):  # something stands on a surface: it has a grain
        ground = mix(bottom, (255, 255, 255), 0.25)
        draw.rectangle((0, horizon, cw, ch), fill=ground)
        line = mix(ground, (0, 0, 0), 0.08)
        for i in range(1, max(cw, ch) // 12):  # finer grain the larger the output
            y = horizon + (ch - horizon) * (i / (max(cw, ch) // 12)) ** 1.6
            draw.line((0, y, cw, y), fill=line, width=1)
    # the subject, on a rule-of-thirds point: where and how big depends on the subject alone
    unit = min(cw, ch)
    sx = cw * (1 / 3 if hs[11] % 2 else 2 / 3)
    rx, ry = unit * (0.13 + hs[12] % 8 / 100), unit * (0.2 + hs[13] % 8 / 100)
    sy = horizon - ry * 0.75
    draw.ellipse(
        (sx - rx * 1.1, horizon - ry * 0.12, sx + rx * 1.4, horizon + ry * 0.12),
        fill=mix(bottom, (0, 0, 0), 0.35),
    )  # its shadow
    box = (round(sx - rx), round(sy - ry), round(sx + rx), round(sy + ry))
    if subject_pic is not None:  # a subject reference is the subject, in every scene
        _paste_subject(canvas, subject_pic, box)
    elif hs[14] % 3:
        draw.ellipse(box, fill=accent)
    else:
        draw.rounded_rectangle(box, radius=unit // 20, fill=accent)
    # light: a soft highlight on the side the prompt names (drawn small: it is soft anyway)
    gw, gh = max(8, cw // 8), max(8, ch // 8)
    lx = gw * (0.85 if "right" in text else 0.15 if "left" in text else 0.5)
    ly = gh * (0.1 if ("above" in text or "top" in text) else 0.3)
    glow = Image.new("L", (gw, gh), 0)
    ImageDraw.Draw(glow).ellipse(
        (lx - gw * 0.3, ly - gh * 0.3, lx + gw * 0.3, ly + gh * 0.3),
        fill=150 if "soft" in text else 200,
    )
    glow = glow.filter(ImageFilter.GaussianBlur(max(gw, gh) / 8)).resize((cw, ch))
    canvas = Image.composite(Image.new("RGB", (cw, ch), (255, 248, 235)), canvas, glow)
    # the other references, as small thumbnails along the bottom edge
    side = max(8, unit // 7)
    for i, pic in enumerate(others[:14]):
        thumb = pic.convert("RGB")
        thumb.thumbnail((side, side))
        canvas.paste(thumb, (4 + i * (side + 3), ch - side - 4))
    img = canvas.resize((w, h), Image.Resampling.BICUBIC)
    caption(img, user)
    return img


def _paste_subject(canvas: Any, pic: Any, box: tuple[int, int, int, int]) -> None:
    from PIL import Image, ImageDraw, ImageOps

    bw, bh = max(1, box[2] - box[0]), max(1, box[3] - box[1])
    face = ImageOps.fit(pic.convert("RGB"), (bw, bh), Image.Resampling.BICUBIC)
    mask = Image.new("L", (bw, bh), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (0, 0, bw - 1, bh - 1), radius=min(bw, bh) // 6, fill=255
    )
    canvas.paste(face, box[:2], mask)


def _grounding_mark(img: Any, images_too: bool) -> None:
    """Top right: a globe and "web search" (or "web + image search"), as big as the mark."""
    from PIL import ImageDraw

    px = max(12, min(img.size) // 36)
    label = "web + image search" if images_too else "web search"
    draw = ImageDraw.Draw(img)
    width = draw.textlength(label, font=font(px))
    r = px * 0.55
    right, top = img.width - px // 2, px // 2
    left = right - width - 2 * r - px * 1.5
    draw.rounded_rectangle((left, top, right, top + px * 1.6), radius=px // 3, fill=(25, 103, 210))
    cx, cy = left + px * 0.5 + r, top + px * 0.8
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 255, 255), width=max(1, px // 10))
    draw.ellipse((cx - r / 2.2, cy - r, cx + r / 2.2, cy + r), outline=(255, 255, 255), width=1)
    draw.line((cx - r, cy, cx + r, cy), fill=(255, 255, 255), width=1)
    draw.text((cx + r + px * 0.4, top + px * 0.25), label, fill=(255, 255, 255), font=font(px))


def _mark(img: Any, model: str) -> None:
    from PIL import ImageDraw

    px = max(12, min(img.size) // 36)
    label = f"{OFFLINE_MARK} · {model.split('/')[-1]}"
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((px // 2, px // 2), label, font=font(px))
    draw.rectangle((0, 0, box[2] + px // 2, box[3] + px // 2), fill=(255, 214, 0))
    draw.text((px // 2, px // 2), label, fill=(0, 0, 0), font=font(px))
