"""The image-model families the emulator knows, by model id: output sizes, ratios, size tiers,
token counts and what each accepts (shared/reference/gemini-api.md §1, §6, §9)."""

from __future__ import annotations

import math
from dataclasses import dataclass

TEN = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTREME = ("1:4", "4:1", "1:8", "8:1")

# 3.1 Flash [IMG], (width, height). Google's published table; nb2.models keeps the live
# measurements Replicate's nano-banana-2 gives for the extreme ratios (512x2064 for 1:4 at 1K),
# but the Gemini API's own documentation is the contract here.
# 21:9 at 512 is 792x336: the docs say 792x168, which is 4.7:1 and looks like a typo (every
# other 512 size is half the 1K one, and half of 1584x672 is 792x336).
_FLASH: dict[str, dict[str, tuple[int, int]]] = {
    "512": {
        "1:1": (512, 512), "1:4": (256, 1024), "1:8": (192, 1536), "2:3": (424, 632),
        "3:2": (632, 424), "3:4": (448, 600), "4:1": (1024, 256), "4:3": (600, 448),
        "4:5": (464, 576), "5:4": (576, 464), "8:1": (1536, 192), "9:16": (384, 688),
        "16:9": (688, 384), "21:9": (792, 336),
    },
    "1K": {
        "1:1": (1024, 1024), "1:4": (512, 2048), "1:8": (384, 3072), "2:3": (848, 1264),
        "3:2": (1264, 848), "3:4": (896, 1200), "4:1": (2048, 512), "4:3": (1200, 896),
        "4:5": (928, 1152), "5:4": (1152, 928), "8:1": (3072, 384), "9:16": (768, 1376),
        "16:9": (1376, 768), "21:9": (1584, 672),
    },
    "2K": {
        "1:1": (2048, 2048), "1:4": (1024, 4096), "1:8": (768, 6144), "2:3": (1696, 2528),
        "3:2": (2528, 1696), "3:4": (1792, 2400), "4:1": (4096, 1024), "4:3": (2400, 1792),
        "4:5": (1856, 2304), "5:4": (2304, 1856), "8:1": (6144, 768), "9:16": (1536, 2752),
        "16:9": (2752, 1536), "21:9": (3168, 1344),
    },
    "4K": {
        "1:1": (4096, 4096), "1:4": (2048, 8192), "1:8": (1536, 12288), "2:3": (3392, 5056),
        "3:2": (5056, 3392), "3:4": (3584, 4800), "4:1": (8192, 2048), "4:3": (4800, 3584),
        "4:5": (3712, 4608), "5:4": (4608, 3712), "8:1": (12288, 1536), "9:16": (3072, 5504),
        "16:9": (5504, 3072), "21:9": (6336, 2688),
    },
}  # fmt: skip

# 2.5 Flash Image: one tier of about 1K [IMG]; no imageSize option at all.
_25: dict[str, dict[str, tuple[int, int]]] = {
    "1K": {
        "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
        "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
        "16:9": (1344, 768), "21:9": (1536, 672),
    },
}  # fmt: skip


@dataclass(frozen=True)
class Family:
    """What one family of image models accepts and produces."""

    name: str  # "2.1" | "3.1-flash" | "3-pro" | "2.5-flash"
    standin: str  # the nb2.models id whose offline renderer draws for it
    sizes: dict[str, dict[str, tuple[int, int]]]  # tier -> ratio -> (w, h)
    tokens: dict[str, int]  # output image tokens per tier
    input_image_tokens: int  # per input image (2.5: per 768x768 tile, see image_tokens)
    has_image_size: bool  # False: any imageSize is a 400
    thinking_levels: tuple[str, ...]  # accepted thinkingLevel values (lower case); () none
    default_level: str  # the level of a request that names none ("" for no thinking)
    thinks: bool  # thinks on every call (thought tokens billed, shown or not)
    web_search: bool
    image_search: bool

    @property
    def tiers(self) -> tuple[str, ...]:
        return tuple(self.sizes)

    @property
    def ratios(self) -> tuple[str, ...]:
        return tuple(next(iter(self.sizes.values())))

    def size(self, tier: str, ratio: str) -> tuple[int, int]:
        return self.sizes[tier][ratio]

    def nearest_ratio(self, width: int, height: int) -> str:
        """The ratio closest to a picture's shape (log space): an omitted aspectRatio with an
        input image "matches the input"."""
        target = math.log(width / height)
        return min(self.ratios, key=lambda r: abs(math.log(_value(r)) - target))

    def image_tokens(self, width: int, height: int) -> int:
        """Prompt tokens for one input image."""
        if self.name != "2.5-flash" or max(width, height) <= 384:
            return self.input_image_tokens
        # Gemini 2.x: larger images are cut into 768x768 tiles of 258 tokens each [docs]
        return self.input_image_tokens * math.ceil(width / 768) * math.ceil(height / 768)


def _value(ratio: str) -> float:
    w, h = ratio.split(":")
    return int(w) / int(h)


NB21 = Family(
    name="2.1",
    standin="google/nano-banana-2",
    # reported as 3.1 Flash's at 1K, 2K and 4K; 512 answers 400 (§9)
    sizes={tier: _FLASH[tier] for tier in ("1K", "2K", "4K")},
    tokens={"1K": 1120, "2K": 1680, "4K": 2520},
    input_image_tokens=560,  # best guess, as for 3.1 Flash
    has_image_size=True,
    thinking_levels=("minimal", "medium", "high"),
    default_level="medium",
    thinks=True,
    web_search=True,
    image_search=True,
)
FLASH = Family(
    name="3.1-flash",
    standin="google/nano-banana-2",
    sizes=_FLASH,
    tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
    input_image_tokens=560,  # best guess: the Pro figure [PRICE]; nothing published for Flash
    has_image_size=True,
    thinking_levels=("minimal", "high"),
    default_level="minimal",
    thinks=True,
    web_search=True,
    image_search=True,
)
PRO = Family(
    name="3-pro",
    standin="google/nano-banana-pro",
    sizes={tier: {r: _FLASH[tier][r] for r in TEN} for tier in ("1K", "2K", "4K")},
    tokens={"1K": 1120, "2K": 1120, "4K": 2000},
    input_image_tokens=560,  # [PRICE]: "input image = 560 tok"
    has_image_size=True,
    # best guess: Pro always thinks and no level is documented; Gemini 3 Pro's text levels
    thinking_levels=("low", "high"),
    default_level="high",
    thinks=True,
    web_search=True,
    image_search=False,
)
FLASH_25 = Family(
    name="2.5-flash",
    standin="google/nano-banana",
    sizes=_25,
    tokens={"1K": 1290},
    input_image_tokens=258,  # Gemini 2.x: 258 per image up to 384 px, else per tile
    has_image_size=False,
    thinking_levels=(),
    default_level="",
    thinks=False,
    web_search=False,  # best guess: grounding is documented for the 3.x image models only
    image_search=False,
)


# The ids the emulator serves, as the API names them (a versioned "-002" id is its family's).
FAMILIES = {
    "gemini-nano-banana-2.1": NB21,
    "gemini-3.1-flash-image": FLASH,
    "gemini-3-pro-image": PRO,
    "gemini-2.5-flash-image": FLASH_25,
}
# Ids Google has shut down (the API answers 404 NOT_FOUND): the preview ids on 2026-06-25,
# 2.5 Flash Image on 2026-10-02 (Google's deprecations page). A knob can add more.
RETIRED = (
    "gemini-3.1-flash-image-preview", "gemini-3-pro-image-preview", "gemini-2.5-flash-image",
)  # fmt: skip


def family(model: str) -> Family | None:
    """The family of a model id, or None for an id the emulator does not serve (a 404)."""
    for known, fam in FAMILIES.items():
        if model == known or model.startswith(known + "-0"):
            return fam
    return None
