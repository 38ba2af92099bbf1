"""Replicate's Google models, measured: output pixel sizes per resolution and ratio.

Plain data only (the Gemini API's own tables are in ``gemini.py``): ``nb2.models`` builds
the specs from it.
"""

from __future__ import annotations

# Gemini 3.1 Flash Image output sizes (width, height) per resolution and ratio. Ten ratios are
# Google's published table; 1:4, 4:1, 1:8 and 8:1 follow public live measurements of the
# model's outputs, which differ from that table (e.g. 1:4 at 1K is 512x2064, not 512x2048; see
# the "Corrections" section of the project's reference notes on nano-banana-2, 2026-11-22).
NB2_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "1K": {
        "1:1": (1024, 1024), "1:4": (512, 2064), "1:8": (352, 2928), "2:3": (848, 1264),
        "3:2": (1264, 848), "3:4": (896, 1200), "4:1": (2064, 512), "4:3": (1200, 896),
        "4:5": (928, 1152), "5:4": (1152, 928), "8:1": (2928, 352), "9:16": (768, 1376),
        "16:9": (1376, 768), "21:9": (1584, 672),
    },
    "2K": {
        "1:1": (2048, 2048), "1:4": (1024, 4128), "1:8": (704, 5856), "2:3": (1696, 2528),
        "3:2": (2528, 1696), "3:4": (1792, 2400), "4:1": (4128, 1024), "4:3": (2400, 1792),
        "4:5": (1856, 2304), "5:4": (2304, 1856), "8:1": (5856, 704), "9:16": (1536, 2752),
        "16:9": (2752, 1536), "21:9": (3168, 1344),
    },
    "4K": {
        "1:1": (4096, 4096), "1:4": (2048, 8256), "1:8": (1408, 11712), "2:3": (3392, 5056),
        "3:2": (5056, 3392), "3:4": (3584, 4800), "4:1": (8256, 2048), "4:3": (4800, 3584),
        "4:5": (3712, 4608), "5:4": (4608, 3712), "8:1": (11712, 1408), "9:16": (3072, 5504),
        "16:9": (5504, 3072), "21:9": (6336, 2688),
    },
}  # fmt: skip

# Gemini 2.5 Flash Image has one size tier (about 1K).
NB_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "1K": {
        "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
        "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
        "16:9": (1344, 768), "21:9": (1536, 672),
    },
}  # fmt: skip

TEN_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# UNVERIFIED: Gemini 3 Pro Image is documented with the same sizes as 3.1 Flash for these ratios.
PRO_SIZES = {res: {r: NB2_SIZES[res][r] for r in TEN_RATIOS} for res in ("1K", "2K", "4K")}
