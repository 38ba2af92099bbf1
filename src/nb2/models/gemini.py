"""Google's own tables for the Gemini API's image models: pixel sizes, token counts, prices,
and each model's state (GA, deprecated, shut down) with the date it was read.

Facts from ``shared/reference/gemini-api.md`` (Google's image-generation, pricing, changelog and
deprecations pages). These are the Gemini API's sizes, which the Replicate models' measured
sizes in ``nb2.models`` do not all match (1:4 at 1K is 512x2048 here, 512x2064 as Replicate
serves it). Plain data, and the one sum over it (:func:`token_cost`): ``nb2.models`` builds the
specs from it.
"""

from __future__ import annotations

from typing import Any

NB21 = "gemini-nano-banana-2.1"
FLASH = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
FLASH_25 = "gemini-2.5-flash-image"

TEN_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
FLASH_RATIOS = (*TEN_RATIOS, "1:4", "4:1", "1:8", "8:1")
FLASH_SIZES_TIERS = ("512", "1K", "2K", "4K")
THINKING = {NB21: ("minimal", "medium", "high"), FLASH: ("minimal", "high")}
THINKING_DEFAULT = {NB21: "medium", FLASH: "minimal"}

# (width, height) at 1K; 2K and 4K are exactly 2x and 4x. 512 is its own row (below).
_FLASH_1K = {
    "1:1": (1024, 1024), "1:4": (512, 2048), "1:8": (384, 3072), "2:3": (848, 1264),
    "3:2": (1264, 848), "3:4": (896, 1200), "4:1": (2048, 512), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "8:1": (3072, 384), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672),
}  # fmt: skip
_FLASH_512 = {
    "1:1": (512, 512), "1:4": (256, 1024), "1:8": (192, 1536), "2:3": (424, 632),
    "3:2": (632, 424), "3:4": (448, 600), "4:1": (1024, 256), "4:3": (600, 448),
    "4:5": (464, 576), "5:4": (576, 464), "8:1": (1536, 192), "9:16": (384, 688),
    "16:9": (688, 384),
    # Google's table says 792x168, which is no 21:9; half of 1K's 1584x672 is what a tier is
    "21:9": (792, 336),
}  # fmt: skip
FLASH_SIZES = {
    "512": _FLASH_512,
    "1K": _FLASH_1K,
    "2K": {r: (w * 2, h * 2) for r, (w, h) in _FLASH_1K.items()},
    "4K": {r: (w * 4, h * 4) for r, (w, h) in _FLASH_1K.items()},
}
# 2.1: 3.1 Flash's sizes at 1K, 2K and 4K (reported; Google's 2.1 table was not found), no 512
NB21_SIZES = {t: FLASH_SIZES[t] for t in ("1K", "2K", "4K")}
PRO_SIZES = {t: {r: FLASH_SIZES[t][r] for r in TEN_RATIOS} for t in ("1K", "2K", "4K")}
FLASH_25_SIZES = {
    "1K": {
        "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
        "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
        "16:9": (1344, 768), "21:9": (1536, 672),
    },
}  # fmt: skip

# Output image tokens per size tier (the price of an image is these tokens at the image rate).
# 2.1's 4K is reported as 2520 tokens ($0.0756) and as 3780 ($0.1134); 2520 is the figure the
# 1K and 2K ones (which every source agrees on) scale to, as for 3.1 Flash.
IMAGE_TOKENS = {
    NB21: {"1K": 1120, "2K": 1680, "4K": 2520},
    FLASH: {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    PRO: {"1K": 1120, "2K": 1120, "4K": 2000},
    FLASH_25: {"1K": 1290},
}

# USD per million tokens, paid tier: input, text and thinking output, image output. The Batch
# API is half of each. 2.5 Flash Image's text rate is 2.5 Flash's.
TOKEN_PRICES_AS_OF = "2026-12-06"
TOKEN_PRICES_SOURCE = (
    "ai.google.dev/gemini-api/docs/pricing (paid tier), read 2026-12; 2.1's rates as gateways "
    "and client libraries quote Google's page (Google's own 2.1 page not read)"
)
TOKEN_PRICES: dict[str, dict[str, float]] = {
    NB21: {"input": 1.50, "text": 7.50, "image": 30.0},
    FLASH: {"input": 0.50, "text": 3.00, "image": 60.0},
    PRO: {"input": 2.00, "text": 12.0, "image": 120.0},
    FLASH_25: {"input": 0.30, "text": 2.50, "image": 30.0},
}
BATCH_DISCOUNT = 0.5


def _per_image(model: str) -> dict[str, float]:
    rate = TOKEN_PRICES[model]["image"]
    return {tier: round(n * rate / 1e6, 4) for tier, n in IMAGE_TOKENS[model].items()}


# Estimates before a run (plans, budgets): the image tokens alone; the record's usage gives the
# exact figure afterwards.
GEMINI_PRICES = {m: _per_image(m) for m in IMAGE_TOKENS}


# What Google says of each id: its state, since when, what replaces it, and where that was read.
# "shut down": the API answers 404 (nb2 refuses before any call); "deprecated": it still answers,
# with a warning that names the replacement. Read 2026-12-06 (see READ_ON).
READ_ON = "2026-12-06"
GA, DEPRECATED, SHUT_DOWN = "GA", "deprecated", "shut down"
LIFECYCLE: dict[str, dict[str, str | None]] = {
    NB21: {"state": GA, "since": "2026-10-06", "replacement": None,
           "source": "Gemini API changelog, 2026-10-06 (as quoted; Google's page not re-read)"},
    FLASH: {"state": DEPRECATED, "since": "2026-10-06", "replacement": NB21,
            "source": "changelog 2026-10-06 and deprecations page: no shutdown date announced; "
                      "gateways report it shut down on 2026-10-29 (a 404 says so)"},
    PRO: {"state": GA, "since": None, "replacement": None,
          "source": "deprecations page: no shutdown date announced"},
    FLASH_25: {"state": SHUT_DOWN, "since": "2026-10-02", "replacement": NB21,
               "source": "deprecations page: shutdown 2026-10-02"},
    "gemini-3.1-flash-image-preview": {"state": SHUT_DOWN, "since": "2026-06-25",
                                       "replacement": NB21, "source": "deprecations page"},
    "gemini-3-pro-image-preview": {"state": SHUT_DOWN, "since": "2026-06-25",
                                   "replacement": PRO, "source": "deprecations page"},
}  # fmt: skip


def token_cost(
    model: str, usage: dict[str, Any], *, batch: bool = False, image: bool = True
) -> float | None:
    """The exact USD of one Gemini API answer from its ``usageMetadata`` (camelCase, as sent):
    the prompt at the input rate, text and thoughts at the text rate, image tokens at the image
    rate (``TOKEN_PRICES``; the Batch API halves them). None for other models, and
    when the usage does not say enough to be exact (empty; or, for an answer with an image,
    no IMAGE count among ``candidatesTokensDetails``): then the estimate stands. Search
    grounding is billed per query beyond a monthly free allowance: it is not in this figure."""
    rates = TOKEN_PRICES.get(model)
    if rates is None or not isinstance(usage, dict):
        return None
    if not any(k in usage for k in ("promptTokenCount", "candidatesTokenCount")):
        return None
    by = {d.get("modality"): int(d.get("tokenCount") or 0)
          for d in usage.get("candidatesTokensDetails") or []}  # fmt: skip
    candidates = int(usage.get("candidatesTokenCount") or 0)
    if (image and "IMAGE" not in by) or (candidates and not by):
        return None
    pic = by.get("IMAGE", 0)
    text = candidates - pic + int(usage.get("thoughtsTokenCount") or 0)
    prompt = int(usage.get("promptTokenCount") or 0)
    usd = (prompt * rates["input"] + text * rates["text"] + pic * rates["image"]) / 1e6
    return round(usd * (BATCH_DISCOUNT if batch else 1.0), 6)
