"""What goes to Google's generateContent and what its answer means, in the SDK's types out and
the API's own JSON back (the SDK drops ``finishMessage``, so the raw body is read).

A request is the branch's conversation (each earlier user turn and each model turn as it came
back, thought signatures included) and then this turn: its text and its references inline.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ... import errors
from ...turns import MIME_EXT
from .. import Output

if TYPE_CHECKING:
    from ...params import Params

# finish reasons that mean "refused", never retried (the request is what it is)
REFUSED = {
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST",
    "SPII", "RECITATION", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE", "OTHER",
}  # fmt: skip
MIME = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


def contents(params: Params) -> list[Any]:
    """The conversation as the SDK sends it: earlier turns, then this one."""
    from google.genai import types

    out = []
    for turn in params.history:
        out.append(types.Content(role="user", parts=_user_parts(turn.prompt, turn.references)))
        out.append(types.Content(role="model", parts=[_part(p) for p in turn.parts]))
    out.append(types.Content(role="user", parts=_user_parts(params.composed_prompt,
                                                             params.references)))  # fmt: skip
    return out


def config(params: Params, timeout_ms: int) -> Any:
    """The request's generationConfig and tools; the raw answer comes back too."""
    from google.genai import types

    spec, opts = params.spec, params.options
    image: dict[str, Any] = {}
    if params.aspect_ratio not in (None, "match_input_image"):
        image["aspect_ratio"] = params.aspect_ratio
    if "resolution" in spec.fields:
        image["image_size"] = params.resolution
    thinking = None
    if opts.get("thinking"):
        thinking = types.ThinkingConfig(thinking_level=str(opts["thinking"]).upper())
    tools = None
    if params.google_search:
        kinds = None
        if params.image_search:
            kinds = types.SearchTypes(
                web_search=types.WebSearch(), image_search=types.ImageSearch()
            )
        tools = [types.Tool(google_search=types.GoogleSearch(search_types=kinds))]
    return types.GenerateContentConfig(
        response_modalities=["TEXT", "IMAGE"],
        candidate_count=1,
        seed=opts.get("seed"),
        image_config=types.ImageConfig(**image) if image else None,
        thinking_config=thinking,
        tools=tools,
        should_return_http_response=True,
        http_options=types.HttpOptions(timeout=timeout_ms),
    )


def _user_parts(text: str, references: tuple[Any, ...]) -> list[Any]:
    from google.genai import types

    parts = [types.Part(text=text)]
    for ref in references:
        ref.load()
        parts.append(types.Part(inline_data=types.Blob(
            mime_type=MIME.get(ref.load().ext, "image/png"), data=ref.data)))  # fmt: skip
    return parts


def _part(stored: dict[str, Any]) -> Any:
    """A model part as it came (camelCase JSON, images and signatures base64) for the SDK."""
    from google.genai import types

    blob = stored.get("inlineData")
    sig = stored.get("thoughtSignature")
    return types.Part(
        text=stored.get("text"),
        thought=stored.get("thought"),
        thought_signature=base64.b64decode(sig) if sig else None,
        inline_data=types.Blob(mime_type=blob["mimeType"], data=base64.b64decode(blob["data"]))
        if blob else None,
    )  # fmt: skip


def read(body: dict[str, Any], started: str) -> Output:
    """The answer of one generateContent: the image and its facts, or the named refusal."""
    feedback = body.get("promptFeedback") or {}
    candidates = body.get("candidates") or []
    if feedback.get("blockReason") and not candidates:
        raise errors.ModerationError(
            f"Google blocked the prompt ({feedback['blockReason']}): "
            f"{feedback.get('blockReasonMessage') or 'no reason given'}; not retried"
        )
    if not candidates:
        raise errors.GenerationError("the Gemini API answered with no candidate and no reason")
    cand = candidates[0]
    reason = str(cand.get("finishReason") or "")
    content = cand.get("content") or {}
    parts = content.get("parts") or []
    final = [p for p in parts if not p.get("thought")]
    images = [p["inlineData"] for p in final if (p.get("inlineData") or {}).get("data")]
    text = " ".join(p["text"] for p in final if p.get("text")).strip()
    if reason in REFUSED or (not images and reason != "STOP" and reason):
        said = cand.get("finishMessage") or text or "no message"
        raise errors.ModerationError(f"Google did not make the image ({reason}): {said}")
    if not images:
        raise errors.GenerationError(
            f"the Gemini API answered without an image ({reason or 'no finish reason'})"
            + (f": {text[:300]}" if text else "")
        )
    image = images[-1]
    data = base64.b64decode(image["data"])
    return Output(
        data=data,
        format=MIME_EXT.get(str(image.get("mimeType")), "jpg"),
        prediction_id=body.get("responseId"),
        model_version=body.get("modelVersion"),
        created_at=started,
        started_at=started,
        completed_at=now(),
        usage=body.get("usageMetadata"),
        grounding=grounding(cand.get("groundingMetadata")),
        turn={"role": "model", "parts": parts},
        text=text or None,
    )


def grounding(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a grounded answer searched and read: queries, and sources with titles and links."""
    if not meta:
        return None
    sources = []
    for chunk in meta.get("groundingChunks") or []:
        web, img = chunk.get("web"), chunk.get("image")
        if web:
            sources.append({"kind": "web", "title": web.get("title"), "uri": web.get("uri"),
                            "domain": web.get("domain")})  # fmt: skip
        elif img:
            uri = img.get("sourceUri") or img.get("uri")
            sources.append({"kind": "image", "title": img.get("title"), "uri": uri,
                            "image_uri": img.get("imageUri"),
                            "domain": img.get("domain")})  # fmt: skip
    return {
        "queries": list(meta.get("webSearchQueries") or []),
        "image_queries": list(meta.get("imageSearchQueries") or []),
        "sources": sources,
    }


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
