"""Google's own tables for the Gemini API's image models: pixel sizes, token counts, prices.

Facts from ``shared/reference/gemini-api.md`` (Google's image-generation and pricing pages,
2026-12). These are the Gemini API's sizes, which the Replicate models' measured sizes in
``models.py`` do not all match (1:4 at 1K is 512x2048 here, 512x2064 as Replicate serves it).
Plain data only: ``models.py`` builds the specs from it.
"""

from __future__ import annotations

FLASH = "gemini-3.1-flash-image"
PRO = "gemini-3-pro-image"
FLASH_25 = "gemini-2.5-flash-image"

TEN_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
FLASH_RATIOS = (*TEN_RATIOS, "1:4", "4:1", "1:8", "8:1")
FLASH_SIZES_TIERS = ("512", "1K", "2K", "4K")

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
PRO_SIZES = {t: {r: FLASH_SIZES[t][r] for r in TEN_RATIOS} for t in ("1K", "2K", "4K")}
FLASH_25_SIZES = {
    "1K": {
        "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
        "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
        "16:9": (1344, 768), "21:9": (1536, 672),
    },
}  # fmt: skip

# Output image tokens per size tier (the price of an image is these tokens at the image rate).
IMAGE_TOKENS = {
    FLASH: {"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    PRO: {"1K": 1120, "2K": 1120, "4K": 2000},
    FLASH_25: {"1K": 1290},
}

# USD per million tokens, paid tier: input, text and thinking output, image output. The Batch
# API is half of each. 2.5 Flash Image's text rate is 2.5 Flash's.
TOKEN_PRICES_AS_OF = "2026-12-01"
TOKEN_PRICES_SOURCE = "ai.google.dev/gemini-api/docs/pricing (paid tier), read 2026-12"
TOKEN_PRICES: dict[str, dict[str, float]] = {
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
