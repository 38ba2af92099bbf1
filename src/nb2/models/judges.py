"""The vision models a judge can ask over the Gemini API, with their token prices.

Read 2026-12-06 from Google's pricing page as transcribed on 2026-09-20 and 2026-10-07 (the
api-evangelist gemini and deepmind pricing files, "every price_text found verbatim in the
fetched page"); the ids are the names' usual form and were not seen on a model page here.
Gemini 3.8 Flash's price holds through 2026-12-31 ($1.50 / $7.50 from 2027-01-01).
"""

from __future__ import annotations

from typing import Any

DEFAULT = "gemini-3.8-flash"
READ_ON = "2026-12-06"
# USD per 1M tokens: input (text and image), output (thinking included)
PRICES = {
    "gemini-3.8-flash": {"input": 0.75, "output": 3.75, "until": "2026-12-31"},
    "gemini-3.5-flash": {"input": 1.50, "output": 9.00, "until": None},
}
IMAGE_TILE = 768  # an image is billed as 258 tokens per 768 px tile (one tile up to 384 px)
TILE_TOKENS = 258


def image_tokens(width: int, height: int) -> int:
    """The input tokens of one image: 258 when both sides are at most 384 px, else 258 per
    768 x 768 tile (Google's rule for image input)."""
    if width <= 384 and height <= 384:
        return TILE_TOKENS
    return TILE_TOKENS * -(-width // IMAGE_TILE) * -(-height // IMAGE_TILE)


def judge_cost(model: str, usage: Any) -> float | None:
    """The exact USD of one judge answer from its ``usageMetadata``; None when the model's
    price is unknown or the usage says too little."""
    rates = PRICES.get(model)
    if rates is None or not isinstance(usage, dict) or "promptTokenCount" not in usage:
        return None
    out = int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0)
    usd = (int(usage["promptTokenCount"]) * rates["input"] + out * rates["output"]) / 1e6
    return round(usd, 6)


def estimate(model: str, images: list[tuple[int, int]], questions: int) -> float | None:
    """A plan's figure: each image's tiles and its questions (about 60 tokens of prompt and
    40 of answer each, plus 150 of instructions)."""
    rates = PRICES.get(model)
    if rates is None:
        return None
    inp = sum(image_tokens(w, h) for w, h in images) + 150 * len(images) + 60 * questions
    return round((inp * rates["input"] + 40 * questions * rates["output"]) / 1e6, 6)


def estimate_decompose(model: str, prompts: int) -> float | None:
    """A plan's figure for ``prompts`` text-only decompositions: about 250 tokens of
    instructions and prompt in, and 6 questions of 25 tokens out, each."""
    rates = PRICES.get(model)
    if rates is None:
        return None
    return round(prompts * (250 * rates["input"] + 150 * rates["output"]) / 1e6, 6)
