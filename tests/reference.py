"""The reference's numbers (../shared/reference/nano-banana-2.md), copied by hand: tests check
the code against these, never against the code's own tables."""

from __future__ import annotations

RATIOS = ("match_input_image", "1:1", "1:4", "1:8", "2:3", "3:2", "3:4", "4:1", "4:3", "4:5",
          "5:4", "8:1", "9:16", "16:9", "21:9")  # fmt: skip
RESOLUTIONS = ("1K", "2K", "4K")
FORMATS = ("jpg", "png")
SIBLING_RATIOS = ("match_input_image", "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16",
                  "16:9", "21:9")  # fmt: skip
SAFETY = ("block_low_and_above", "block_medium_and_above", "block_only_high")

# width x height at 1K; 2K and 4K are 2x and 4x (section 1's table; the extreme ratios as
# measured live, section 5)
SIZES_1K = {
    "1:1": (1024, 1024), "1:4": (512, 2064), "1:8": (352, 2928), "2:3": (848, 1264),
    "3:2": (1264, 848), "3:4": (896, 1200), "4:1": (2064, 512), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "8:1": (2928, 352), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672),
}  # fmt: skip
SCALE = {"1K": 1, "2K": 2, "4K": 4}


def size(resolution: str, ratio: str) -> tuple[int, int]:
    w, h = SIZES_1K[ratio]
    return w * SCALE[resolution], h * SCALE[resolution]


# The Gemini API's image models (../shared/reference/gemini-api.md, section 1): nb2's
# match_input_image there means "no aspectRatio sent" (the output follows the input image)
GEMINI_RATIOS = {
    "gemini-nano-banana-2.1": (*RATIOS,),  # section 9: "the wide ratios 1:4, 4:1, 1:8, 8:1 kept"
    "gemini-3.1-flash-image": (*RATIOS,),
    "gemini-3-pro-image": SIBLING_RATIOS,
    "gemini-2.5-flash-image": SIBLING_RATIOS,
}
GEMINI_SIZES = {"gemini-nano-banana-2.1": ("1K", "2K", "4K"),  # section 9: 512 answers 400
                "gemini-3.1-flash-image": ("512", "1K", "2K", "4K"),
                "gemini-3-pro-image": ("1K", "2K", "4K"), "gemini-2.5-flash-image": ()}  # fmt: skip
GEMINI_512 = {"1:1": (512, 512), "16:9": (688, 384), "9:16": (384, 688), "1:8": (192, 1536)}
GEMINI_1K = {"1:4": (512, 2048), "8:1": (3072, 384), "21:9": (1584, 672)}  # its own table


def accepts(model: str, field: str, value: object) -> bool:
    """Whether the reference's schema for ``model`` allows ``value`` in ``field``."""
    if model in GEMINI_RATIOS:
        return gemini_accepts(model, field, value)
    short = model.split("/")[-1]
    if field == "aspect_ratio":
        return value in (RATIOS if short == "nano-banana-2" else SIBLING_RATIOS)
    if field == "resolution":
        return short != "nano-banana" and value in RESOLUTIONS
    if field == "output_format":
        return value in FORMATS
    if field in ("google_search", "image_search"):
        return short == "nano-banana-2" and isinstance(value, bool)
    if field == "safety_filter_level":
        return short == "nano-banana-pro" and value in SAFETY
    if field == "allow_fallback_model":
        return short == "nano-banana-pro" and isinstance(value, bool)
    if field == "prompt":
        return isinstance(value, str) and bool(value.strip())
    return False


def gemini_accepts(model: str, field: str, value: object) -> bool:
    flash = model in ("gemini-3.1-flash-image", "gemini-nano-banana-2.1")
    levels = (
        ("minimal", "medium", "high") if model == "gemini-nano-banana-2.1" else ("minimal", "high")
    )
    if field == "aspect_ratio":
        return value in GEMINI_RATIOS[model]
    if field == "resolution":
        return value in GEMINI_SIZES[model]
    if field == "google_search":
        return model != "gemini-2.5-flash-image" and isinstance(value, bool)
    if field == "image_search":
        return flash and isinstance(value, bool)
    if field == "thinking":
        return flash and value in levels
    if field == "seed":
        return value is None or (isinstance(value, int) and not isinstance(value, bool))
    if field == "prompt":
        return isinstance(value, str) and bool(value.strip())
    return False  # no output_format: the API answers in its own
