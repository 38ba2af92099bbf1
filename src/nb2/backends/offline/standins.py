"""Offline stand-ins for a few non-Gemini models, shared by the offline backend and the emulator.

Each does something real and deterministic with Pillow, so a pipeline can be rehearsed without a
token: an upscaler resamples by its scale factor, a background remover cuts the subject out
(RGBA with a mask), a text-to-image model returns ``num_outputs`` images. Their schemas are
APPROXIMATED from the models' public pages and from public code that calls them (field names,
defaults, enums), not read from the API; they are marked ``source="stand-in"``. A live run fetches
the real schema from Replicate instead.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

from ...imaging import encode

UPSCALER = "philz1337x/clarity-upscaler"
REMOVER = "851-labs/background-remover"
FLUX = "black-forest-labs/flux-schnell"

# Version ids as public code pins them (UNVERIFIED as the latest); flux-schnell is an official
# model, run through /v1/models/{owner}/{name}/predictions.
VERSIONS = {
    UPSCALER: "dfad41707589d68ecdccd1dfa600d55a208f9310748e44bfe35b4a6291453d5e",
    REMOVER: "a029dff38972b5fda4ec5d75d7d1cd25aeff621d2cf4946a41055d7db66b80bc",
    FLUX: None,
}
OFFICIAL = {UPSCALER: False, REMOVER: False, FLUX: True}
ABOUT = {
    UPSCALER: "High-resolution image upscaler and enhancer (stand-in: Lanczos resampling)",
    REMOVER: "Remove the background of an image (stand-in: a border-colour matte)",
    FLUX: "The fastest image generation model tailored for local development and personal use "
    "(stand-in: the offline renderer)",
}
_FLUX_RATIOS = ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]


def _prop(order: int, kind: str, default: Any = None, **more: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"type": kind, "x-order": order, "title": more.pop("title", "")}
    if default is not None:
        p["default"] = default
    p.update(more)
    return p


def _enum(order: int, name: str, default: Any) -> dict[str, Any]:
    return {
        "allOf": [{"$ref": f"#/components/schemas/{name}"}],
        "default": default,
        "x-order": order,
    }


_INPUTS: dict[str, dict[str, Any]] = {
    UPSCALER: {
        "required": ["image"],
        "properties": {
            "image": _prop(0, "string", format="uri", description="input image"),
            "prompt": _prop(
                1,
                "string",
                "masterpiece, best quality, highres, "
                "<lora:more_details:0.5> <lora:SDXLrender_v2.0:1>",
            ),
            "negative_prompt": _prop(
                2, "string", "(worst quality, low quality, normal quality:2) JuggernautNegative-neg"
            ),
            "scale_factor": _prop(
                3,
                "number",
                2,
                minimum=1,
                maximum=4,
                description="Scale factor (the stand-in resamples by it)",
            ),
            "dynamic": _prop(4, "number", 6, minimum=1, maximum=50),
            "creativity": _prop(5, "number", 0.35, minimum=0, maximum=1),
            "resemblance": _prop(6, "number", 0.6, minimum=0, maximum=3),
            "sharpen": _prop(7, "number", 0, minimum=0, maximum=10),
            "num_inference_steps": _prop(8, "integer", 18, minimum=1, maximum=100),
            "seed": _prop(9, "integer", 1337),
            "output_format": _enum(10, "output_format", "png"),
        },
        "enums": {"output_format": ["webp", "jpg", "png"]},
        "output": {"type": "array", "items": {"type": "string", "format": "uri"}},
    },
    REMOVER: {
        "required": ["image"],
        "properties": {
            "image": _prop(0, "string", format="uri", description="Input image"),
            "format": _enum(1, "format", "png"),
            "reverse": _prop(2, "boolean", False, description="Remove the foreground instead"),
            "threshold": _prop(
                3,
                "number",
                0,
                minimum=0,
                maximum=1,
                description="0 keeps a soft alpha; above it, a hard mask",
            ),
            "background_type": _prop(
                4, "string", "rgba", description="rgba, map, green, white, or a hex colour"
            ),
        },
        "enums": {"format": ["png", "jpg"]},
        "output": {"type": "string", "format": "uri"},
    },
    FLUX: {
        "required": ["prompt"],
        "properties": {
            "prompt": _prop(0, "string", description="Prompt for generated image"),
            "aspect_ratio": _enum(1, "aspect_ratio", "1:1"),
            "num_outputs": _prop(2, "integer", 1, minimum=1, maximum=4),
            "num_inference_steps": _prop(3, "integer", 4, minimum=1, maximum=4),
            "seed": _prop(4, "integer", description="Random seed"),
            "output_format": _enum(5, "output_format", "webp"),
            "output_quality": _prop(6, "integer", 80, minimum=0, maximum=100),
            "disable_safety_checker": _prop(7, "boolean", False),
            "go_fast": _prop(8, "boolean", True),
            "megapixels": _enum(9, "megapixels", "1"),
        },
        "enums": {
            "aspect_ratio": _FLUX_RATIOS,
            "output_format": ["webp", "jpg", "png"],
            "megapixels": ["1", "0.25"],
        },
        "output": {"type": "array", "items": {"type": "string", "format": "uri"}},
    },
}
MODELS = tuple(_INPUTS)


def openapi(model: str) -> dict[str, Any]:
    """The version's ``openapi_schema`` as the API serves it (the parts nb2 and clients read)."""
    d = _INPUTS[model]
    comps: dict[str, Any] = {
        "Input": {
            "type": "object",
            "title": "Input",
            "required": list(d["required"]),
            "properties": d["properties"],
        },
        "Output": {"title": "Output", **d["output"]},
    }
    for name, values in d["enums"].items():
        kind = "string" if all(isinstance(v, str) for v in values) else "integer"
        comps[name] = {
            "enum": values,
            "type": kind,
            "title": name,
            "description": "An enumeration.",
        }
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "components": {"schemas": comps},
    }


# -- the stand-ins' work --------------------------------------------------------------------
def run(model: str, inp: dict[str, Any], images: dict[str, list[bytes]]) -> list[bytes]:
    """The outputs (one or several files) of ``model`` for an API input; ``images`` holds the
    decoded bytes of each image input, by name."""
    return _RUNNERS[model](inp, images)


def _open(data: bytes) -> Any:
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _save(img: Any, fmt: str) -> bytes:
    if fmt in ("png", "jpg", "jpeg"):
        return encode(img, "png" if fmt == "png" else "jpg")
    out = io.BytesIO()
    img.save(out, "WEBP", quality=80)
    return out.getvalue()


def _upscale(inp: dict[str, Any], images: dict[str, list[bytes]]) -> list[bytes]:
    from PIL import Image, ImageFilter

    img = _open(images["image"][0]).convert("RGB")
    f = float(inp.get("scale_factor", 2))
    size = (max(1, round(img.width * f)), max(1, round(img.height * f)))
    big = img.resize(size, Image.Resampling.LANCZOS)
    sharpen = float(inp.get("sharpen", 0) or 0)
    if sharpen:
        big = big.filter(ImageFilter.UnsharpMask(radius=2, percent=int(20 * sharpen)))
    mark(big, UPSCALER)
    return [_save(big, str(inp.get("output_format") or "png"))]


def _remove_background(inp: dict[str, Any], images: dict[str, list[bytes]]) -> list[bytes]:
    """A matte from the distance to the border's colour: what differs from the edges is kept."""
    from PIL import Image, ImageChops, ImageFilter, ImageOps

    img = _open(images["image"][0]).convert("RGB")
    w, h = img.size
    border = [img.getpixel((x, y)) for x in range(0, w, max(1, w // 32)) for y in (0, h - 1)]
    border += [img.getpixel((x, y)) for y in range(0, h, max(1, h // 32)) for x in (0, w - 1)]
    bg = tuple(sorted(c[i] for c in border)[len(border) // 2] for i in range(3))
    diff = ImageChops.difference(img, Image.new("RGB", img.size, bg)).convert("L")
    mask = diff.point(lambda v: min(255, max(0, v - 12) * 4)).filter(ImageFilter.GaussianBlur(1))
    threshold = float(inp.get("threshold") or 0)
    if threshold > 0:
        mask = mask.point(lambda v: 255 if v >= threshold * 255 else 0)
    if inp.get("reverse"):
        mask = ImageOps.invert(mask)
    kind = str(inp.get("background_type") or "rgba")
    fmt = str(inp.get("format") or "png")
    if kind == "map":
        return [_save(mask.convert("RGB"), fmt)]
    out = img.convert("RGBA")
    out.putalpha(mask)
    mark(out, REMOVER)
    colours = {"white": (255, 255, 255), "green": (0, 255, 0)}
    colour = colours.get(kind) or (_hex(kind) if kind.startswith("#") else None)
    if colour is not None or fmt != "png":  # a flat backdrop (a JPEG has no alpha)
        flat = Image.new("RGBA", out.size, (*(colour or (255, 255, 255)), 255))
        out = Image.alpha_composite(flat, out).convert("RGB")
    return [_save(out, fmt)]


def mark(img: Any, model: str) -> None:
    """The stand-in says so on the image (top left, over any earlier mark)."""
    from PIL import ImageDraw, ImageFont

    px = max(12, min(img.size) // 36)
    label = f"OFFLINE stand-in · {model.split('/')[-1]}"
    font = ImageFont.load_default(size=px)
    draw = ImageDraw.Draw(img)
    box = draw.textbbox((px // 2, px // 2), label, font=font)
    fill = (255, 214, 0, 255) if img.mode == "RGBA" else (255, 214, 0)
    draw.rectangle((0, 0, max(box[2], int(img.width * 0.4)) + px // 2, box[3] + px), fill=fill)
    draw.text((px // 2, px // 2), label, fill=(0, 0, 0), font=font)


def _hex(text: str) -> tuple[int, int, int] | None:
    try:
        v = int(text.lstrip("#"), 16)
    except ValueError:
        return None
    return (v >> 16) & 255, (v >> 8) & 255, v & 255


def flux_size(ratio: str, megapixels: str) -> tuple[int, int]:
    """Width and height for a ratio at about ``megapixels``, multiples of 16 (as flux sizes)."""
    w, h = (int(x) for x in ratio.split(":"))
    area = float(megapixels) * 1024 * 1024
    width = math.sqrt(area * w / h)
    return int(round(width / 16) * 16), int(round(width * h / w / 16) * 16)


def _text_to_image(inp: dict[str, Any], images: dict[str, list[bytes]]) -> list[bytes]:
    from PIL import Image

    from .render import render

    size = flux_size(str(inp.get("aspect_ratio") or "1:1"), str(inp.get("megapixels") or "1"))
    outs = []
    seed = inp.get("seed")
    for i in range(int(inp.get("num_outputs") or 1)):
        # the offline renderer draws the scene (marked OFFLINE, with this model's name);
        # each output is its own variant, and a seed picks another family of them
        variant = i + (int(seed) * 16 if isinstance(seed, int) else 0)
        data = render(
            {"prompt": str(inp.get("prompt", "")), "aspect_ratio": "1:1", "output_format": "png"},
            [],
            model="google/nano-banana",
            variant=variant,
        )
        img = _open(data).convert("RGB").resize(size, Image.Resampling.BICUBIC)
        mark(img, FLUX)
        outs.append(_save(img, str(inp.get("output_format") or "webp")))
    return outs


_RUNNERS: dict[str, Callable[[dict[str, Any], dict[str, list[bytes]]], list[bytes]]] = {
    UPSCALER: _upscale,
    REMOVER: _remove_background,
    FLUX: _text_to_image,
}
