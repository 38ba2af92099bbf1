"""A candidate's ``groundingMetadata`` for a search-grounded call: queries from the prompt,
a search chip (HTML), web chunks (and image chunks with Image Search), and supports tying the
answer's text to them. The links are fake (example.org and friends) and deterministic."""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

from ...backends.offline.render import subject_phrase

_DOMAINS = ("example.org", "example.com", "example.net")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "image"


def queries(prompt: str) -> list[str]:
    first = " ".join(prompt.split("\n", 1)[0].split())[:80]
    subject = subject_phrase(prompt) or first
    return list(dict.fromkeys(q for q in (subject, f"{subject} reference photos", first) if q))


def _entry_point(found: list[str]) -> str:
    chips = "".join(
        f'<a class="chip" href="https://www.google.com/search?q={html.escape(q)}">'
        f"{html.escape(q)}</a>"
        for q in found
    )
    return (
        "<style>.container{display:flex;gap:8px;font-family:Roboto,sans-serif}"
        ".chip{border:1px solid #d2d2d2;border-radius:16px;padding:4px 12px;"
        "color:#1f1f1f;text-decoration:none}</style>"
        f'<div class="container"><span>Google Search Suggestions</span>{chips}</div>'
    )


def metadata(prompt: str, answer: str | None, image_search: bool) -> dict[str, Any]:
    """The groundingMetadata; ``answer`` is the final text part's text (None: no text)."""
    found = queries(prompt)
    slug = _slug(found[0])
    digest = hashlib.sha256(prompt.encode()).hexdigest()
    chunks: list[dict[str, Any]] = []
    for i, domain in enumerate(_DOMAINS):  # "top 3 web sources" [IMG]
        chunks.append(
            {
                "web": {
                    "uri": f"https://www.{domain}/articles/{slug}-{digest[i * 6 : i * 6 + 6]}",
                    "title": domain,
                    "domain": domain,
                }
            }
        )
    out: dict[str, Any] = {"webSearchQueries": found}
    if image_search:
        out["imageSearchQueries"] = found[:2]
        for i, domain in enumerate(_DOMAINS[:2]):
            tag = digest[40 + i * 6 : 46 + i * 6]
            chunks.append(
                {
                    "image": {
                        "sourceUri": f"https://{domain}/gallery/{slug}-{tag}",
                        "imageUri": f"https://images.{domain}/{slug}-{tag}.jpg",
                        "title": f"{found[0]} | {domain}",
                        "domain": domain,
                    }
                }
            )
    out["searchEntryPoint"] = {"renderedContent": _entry_point(found)}
    out["groundingChunks"] = chunks
    if answer:
        out["groundingSupports"] = [
            {
                "segment": {"startIndex": 0, "endIndex": len(answer.encode()), "text": answer},
                "groundingChunkIndices": [0, 1],
            }
        ]
    return out
