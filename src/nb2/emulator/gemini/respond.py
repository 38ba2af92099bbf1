"""The GenerateContentResponse for a :class:`~.request.Call` (reference §2): thought parts,
the text and image parts with their signatures, refusals, usage and grounding; and its split
into the chunks of a streamed answer."""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from typing import Any

from . import grounding, images, signatures
from .errors import invalid
from .faults import GeminiFaults
from .request import Call

IMAGE_OTHER = (
    "Unable to show the generated image. The model could not generate the image based on the "
    "prompt provided. You will not be charged for this request. Try rephrasing the prompt."
)
NO_IMAGE_TEXT = "I can't create that image, but I can help with a description instead."


def response_id() -> str:
    """Random-looking and unique, 23 url-safe characters as the real ones."""
    return base64.urlsafe_b64encode(secrets.token_bytes(17)).decode().rstrip("=")


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _h(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "big")


def _usage(call: Call, out: dict[str, int] | None, thoughts: int) -> dict[str, Any]:
    """usageMetadata; ``out`` is the answer's tokens by modality (None: nothing was made)."""
    text = sum(text_tokens(t) for t in call.prompt_text)
    pics = sum(call.fam.image_tokens(*p.size) for p in call.prompt_images)
    details = [{"modality": "TEXT", "tokenCount": text}]
    if pics:
        details.append({"modality": "IMAGE", "tokenCount": pics})
    usage: dict[str, Any] = {"promptTokenCount": text + pics}
    made = sum((out or {}).values())
    if out:
        usage["candidatesTokenCount"] = made
    usage["totalTokenCount"] = text + pics + made + thoughts
    usage["promptTokensDetails"] = details
    if out:
        usage["candidatesTokensDetails"] = [
            {"modality": m, "tokenCount": n} for m, n in out.items() if n
        ]
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["serviceTier"] = "standard"
    return usage


def _envelope(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "modelVersion": call.model, "responseId": response_id()}


def _refusal(call: Call, kind: str) -> dict[str, Any]:
    if kind == "BLOCK":  # the prompt itself: no candidates at all
        feedback = {"blockReason": "PROHIBITED_CONTENT"}
        return _envelope(call, {"promptFeedback": feedback, "usageMetadata": _usage(call, None, 0)})
    cand: dict[str, Any] = {"finishReason": kind, "index": 0}  # safety stops: no content key
    if kind == "IMAGE_OTHER":
        cand = {"content": {}, "finishReason": kind, "index": 0, "finishMessage": IMAGE_OTHER}
    return _envelope(call, {"candidates": [cand], "usageMetadata": _usage(call, None, 0)})


def _thought_text(call: Call) -> str:
    subject = grounding.queries(call.prompt or "an image")[0]
    if call.base is not None:
        return (
            "**Refining the previous image**\n\nI'm keeping the composition of the last image "
            f"and applying the requested change: {call.prompt.strip()[:120]}."
        )
    return (
        f"**Composing {subject}**\n\nI'm planning the scene around {subject}, settling the "
        "framing, the light and the palette before rendering."
    )


def _answer_text(call: Call) -> str:
    if call.base is not None:
        return "Here is the edited image."
    return f"Here is the image of {grounding.queries(call.prompt or 'an image')[0]}."


def answer(call: Call, faults: GeminiFaults) -> dict[str, Any]:
    """The body of a 200 answer; raises GeminiError for what the API refuses."""
    if call.signature_problems and faults.missing_signature != "ignore":
        what, n, m = call.signature_problems[0]
        if faults.missing_signature == "400":
            raise invalid(
                f"Unable to submit request because it has {'a' if what == 'missing' else 'an'} "
                f"{what} thought signature for content at index {n}, part {m}."
            )
        cand = {"finishReason": "MISSING_THOUGHT_SIGNATURE", "index": 0}
        return _envelope(call, {"candidates": [cand], "usageMetadata": _usage(call, None, 0)})
    refused = [k for w, k in faults.moderation_words.items() if w in call.prompt]
    if refused and refused[0] != "NO_IMAGE":
        return _refusal(call, refused[0])
    secret, size = faults.signature_secret, faults.signature_bytes
    show = call.show_thoughts if faults.include_thoughts is None else faults.include_thoughts
    # thinking is billed whether shown or not; "high" thinks longer
    thoughts = 0
    if call.fam.thinks:
        # a deeper level thinks longer (made-up counts of a plausible order; none published)
        base = {"minimal": 90, "low": 300, "medium": 350}.get(call.level, 600)
        thoughts = base + _h(call.prompt) % (60 if call.level == "minimal" else 400)
    parts: list[dict[str, Any]] = []
    no_image = bool(refused)  # the model answers in words only (seen on 2.5)
    pic = images.final(call, faults.output_mime)[0] if call.image_out and not no_image else None
    if show and call.fam.thinks:
        parts.append({"text": _thought_text(call), "thought": True})
        if pic is not None and call.level != "minimal":  # one interim image, not charged
            draft = base64.b64encode(images.interim(pic)).decode()
            parts.append({"inlineData": {"mimeType": "image/png", "data": draft}, "thought": True})
    out: dict[str, int] = {}
    text = NO_IMAGE_TEXT if no_image else _answer_text(call) if call.text_out or not pic else None
    if text is not None:
        parts.append({"text": text})
        out["TEXT"] = text_tokens(text)
    if pic is not None:  # `images_per_answer` > 1: a second final image, as a model may give
        for _ in range(max(1, faults.images_per_answer)):
            data = base64.b64encode(pic).decode()
            parts.append({"inlineData": {"mimeType": faults.output_mime, "data": data}})
            out["IMAGE"] = out.get("IMAGE", 0) + call.fam.tokens[call.tier]
    for i in signatures.must_sign(parts):
        content = signatures.content_of(parts[i])
        assert content is not None
        parts[i]["thoughtSignature"] = signatures.sign(secret, content, size)
    cand: dict[str, Any] = {
        "content": {"parts": parts, "role": "model"},
        "finishReason": "NO_IMAGE" if no_image else "STOP",
        "index": 0,
    }
    if call.web_search:
        cand["groundingMetadata"] = grounding.metadata(call.prompt, text, call.image_search)
    usage = _usage(call, out, thoughts)
    if faults.usage == "empty":  # an answer that says nothing of its tokens
        usage = {}
    elif faults.usage == "no_details":  # the counts, but not which were image tokens
        usage.pop("candidatesTokensDetails", None)
    body = {"candidates": [cand], "usageMetadata": usage}
    return _envelope(call, body)


def chunks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole answer as the chunks of a stream: thoughts, then the text, then the image with
    the finish reason, grounding and full usage (earlier chunks carry the prompt's usage)."""
    cands = body.get("candidates")
    if not cands or "content" not in cands[0] or not cands[0]["content"].get("parts"):
        return [body]
    cand = cands[0]
    parts = cand["content"]["parts"]
    groups = [[p for p in parts if p.get("thought")], [p for p in parts if not p.get("thought")]]
    pieces = [g for g in groups[:1] if g] + [[p] for p in groups[1]]
    head = {k: v for k, v in body.items() if k not in ("candidates", "usageMetadata")}
    usage = body["usageMetadata"]
    early = {k: usage[k] for k in ("promptTokenCount", "promptTokensDetails") if k in usage}
    early["totalTokenCount"] = usage["promptTokenCount"]
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        c: dict[str, Any] = {"content": {"parts": piece, "role": "model"}, "index": 0}
        if last:
            c.update({k: v for k, v in cand.items() if k not in ("content", "index")})
        out.append({"candidates": [c], "usageMetadata": usage if last else early, **head})
    return out
