"""Thought signatures that can be checked: an HMAC over the signed part's content, padded to a
chosen size, so an echoed model turn proves it came back unchanged."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any

# The two placeholders Google documents for history it did not produce (thought-signature docs):
# the validator accepts them in place of a real signature.
DUMMIES = {b"context_engineering_is_the_way_to_go", b"skip_thought_signature_validator"}


def b64(text: Any) -> bytes:
    """Base64 in either alphabet: the SDK sends bytes url-safe (``_9j_4AAQ...``), curl users
    the standard one."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def content_of(part: dict[str, Any]) -> bytes | None:
    """What a signature covers: an image's bytes or a text's; None for any other part."""
    if isinstance(part.get("inlineData"), dict):
        try:
            return b"image\0" + b64(part["inlineData"].get("data") or "")
        except (binascii.Error, ValueError):
            return b"image\0"
    if isinstance(part.get("text"), str):
        return b"text\0" + part["text"].encode()
    return None


def sign(secret: bytes, content: bytes, size: int) -> str:
    mac = hmac.new(secret, hashlib.sha256(content).digest(), hashlib.sha256).digest()
    pad = hashlib.shake_256(mac).digest(max(0, size - len(mac)))  # cheap even at 1.5 MB
    return base64.b64encode(mac + pad).decode("ascii")


def valid(secret: bytes, part: dict[str, Any]) -> bool:
    """Whether a part's ``thoughtSignature`` is one this emulator made for its content."""
    text = part.get("thoughtSignature")
    content = content_of(part)
    if not isinstance(text, str) or content is None:
        return False
    try:
        raw = b64(text)
    except (binascii.Error, ValueError):
        return False
    if raw in DUMMIES:
        return True
    return hmac.compare_digest(raw, base64.b64decode(sign(secret, content, len(raw))))


def must_sign(parts: list[dict[str, Any]]) -> list[int]:
    """Indexes of the parts that carry a signature (reference §2): every non-thought image,
    and the first non-thought text when it comes before the images. With no image at all,
    the first non-thought text (best guess: a text-only answer still signs its first part)."""
    answer = [i for i, p in enumerate(parts) if not p.get("thought")]
    images = [i for i in answer if isinstance(parts[i].get("inlineData"), dict)]
    texts = [i for i in answer if isinstance(parts[i].get("text"), str)]
    out = list(images)
    if texts and (not images or texts[0] < images[0]):
        out.append(texts[0])
    return sorted(out)


def problems(secret: bytes, contents: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
    """Each missing or wrong signature of the echoed model turns, as ("missing" | "invalid",
    content index, part index)."""
    found = []
    for n, content in enumerate(contents):
        if content.get("role") != "model":
            continue
        parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
        for m in must_sign(parts):
            if not valid(secret, parts[m]):
                found.append(("missing" if "thoughtSignature" not in parts[m] else "invalid", n, m))
    return found
