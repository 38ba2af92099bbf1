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
from ...request.turns import EXT_MIME, MIME_EXT
from .. import Output

if TYPE_CHECKING:
    from ...request.params import Params

# finish reasons that mean "refused", never retried (the request is what it is)
REFUSED = {
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST",
    "SPII", "RECITATION", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE", "OTHER",
}  # fmt: skip


def body(params: Params) -> dict[str, Any]:
    """The request as the REST API names it (camelCase; images and signatures base64): the
    branch's earlier turns, then this one, its generationConfig and tools. A Batch API file
    carries it as it is; :func:`sdk_request` builds the SDK's call from it."""

    def user(text: str, refs: tuple[Any, ...]) -> dict[str, Any]:
        parts: list[dict[str, Any]] = [{"text": text}]
        for ref in refs:
            mime = EXT_MIME.get(ref.load().ext, "image/png")
            parts.append(
                {"inlineData": {"mimeType": mime, "data": base64.b64encode(ref.data).decode()}}
            )
        return {"role": "user", "parts": parts}

    contents = []
    for turn in params.history:
        contents += [user(turn.prompt, turn.references), {"role": "model", "parts": turn.parts}]
    contents.append(user(params.composed_prompt, params.references))
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"], "candidateCount": 1}
    image = {}
    if params.aspect_ratio not in (None, "match_input_image"):
        image["aspectRatio"] = params.aspect_ratio
    if "resolution" in params.spec.fields:
        image["imageSize"] = params.resolution
    if image:
        config["imageConfig"] = image
    if params.options.get("seed") is not None:
        config["seed"] = params.options["seed"]
    if params.options.get("thinking"):
        config["thinkingConfig"] = {"thinkingLevel": str(params.options["thinking"]).upper()}
    out: dict[str, Any] = {"contents": contents, "generationConfig": config}
    if params.google_search:
        both = {"searchTypes": {"webSearch": {}, "imageSearch": {}}} if params.image_search else {}
        out["tools"] = [{"googleSearch": both}]
    return out


def sdk_request(params: Params, timeout_ms: int) -> tuple[list[Any], Any]:
    """:func:`body` in the SDK's types: the contents and the config (the raw answer comes back
    too, for what the SDK drops)."""
    from google.genai import types

    rest = body(params)
    contents = [types.Content(role=c["role"], parts=[_part(p) for p in c["parts"]])
                for c in rest["contents"]]  # fmt: skip
    gen = rest["generationConfig"]
    image, thinking = gen.get("imageConfig"), gen.get("thinkingConfig")
    search = rest["tools"][0]["googleSearch"] if "tools" in rest else None
    kinds = None
    if search:
        kinds = types.SearchTypes(web_search=types.WebSearch(), image_search=types.ImageSearch())
    config = types.GenerateContentConfig(
        response_modalities=gen["responseModalities"],
        candidate_count=gen["candidateCount"],
        seed=gen.get("seed"),
        image_config=types.ImageConfig(aspect_ratio=image.get("aspectRatio"),
                                       image_size=image.get("imageSize")) if image else None,
        thinking_config=types.ThinkingConfig(thinking_level=thinking["thinkingLevel"])
        if thinking else None,
        tools=[types.Tool(google_search=types.GoogleSearch(search_types=kinds))]
        if search is not None else None,
        should_return_http_response=True,
        http_options=types.HttpOptions(timeout=timeout_ms),
    )  # fmt: skip
    return contents, config


def _part(stored: dict[str, Any]) -> Any:
    """A part in the API's JSON (camelCase; images and signatures base64) for the SDK."""
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
    """The answer of one generateContent: the image and its facts (a second final image is a
    sibling, in ``more``), or the named refusal, carrying the answer's billed ``usage``."""
    usage = body.get("usageMetadata") if isinstance(body.get("usageMetadata"), dict) else None
    try:
        return _read(body, started, usage)
    except errors.Nb2Error as exc:
        exc.usage = usage  # type: ignore[attr-defined]  (a refusal's thinking is billed)
        raise


def _read(body: dict[str, Any], started: str, usage: dict[str, Any] | None) -> Output:
    feedback = body.get("promptFeedback") or {}
    candidates = body.get("candidates") or []
    if feedback.get("blockReason") and not candidates:
        raise errors.ModerationError(
            f"Google blocked the prompt ({feedback['blockReason']}): "
            f"{feedback.get('blockReasonMessage') or 'no reason given'}; not retried"
        )
    if not candidates or not isinstance(candidates[0], dict):
        raise errors.GenerationError("the Gemini API answered with no candidate and no reason")
    cand = candidates[0]
    reason = str(cand.get("finishReason") or "")
    content = cand.get("content") or {}
    parts = [p for p in content.get("parts") or [] if isinstance(p, dict)]
    final = [p for p in parts if not p.get("thought")]
    images = [p["inlineData"] for p in final if (p.get("inlineData") or {}).get("data")]
    text = " ".join(str(p["text"]) for p in final if p.get("text")).strip()
    if reason in REFUSED or (not images and reason != "STOP" and reason):
        said = cand.get("finishMessage") or text or "no message"
        raise errors.ModerationError(f"Google did not make the image ({reason}): {said}")
    if not images:
        raise errors.GenerationError(
            f"the Gemini API answered without an image ({reason or 'no finish reason'})"
            + (f": {text[:300]}" if text else "")
        )
    pictures = [_picture(i) for i in images]
    return Output(
        data=pictures[0],
        format=MIME_EXT.get(str(images[0].get("mimeType")), "jpg"),
        more=pictures[1:],
        prediction_id=body.get("responseId"),
        model_version=body.get("modelVersion"),
        created_at=started,
        started_at=started,
        completed_at=now(),
        usage=usage,
        grounding=grounding(cand.get("groundingMetadata")),
        turn={"role": "model", "parts": parts},
        text=text or None,
    )


_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"GIF8")


def _picture(blob: dict[str, Any]) -> bytes:
    """An inline image's bytes, or a named error when they are no image (a proxy's HTML page,
    broken base64): the answer was billed, so the error says so rather than storing junk."""
    try:
        data = base64.b64decode(str(blob["data"]), validate=True)
    except (ValueError, TypeError):
        raise errors.GenerationError(
            "the answer's image data is not valid base64; it was billed, and the image is lost"
        ) from None
    if not data.startswith(_MAGIC):
        raise errors.GenerationError(
            f"the answer's image is not an image ({len(data)} bytes starting {data[:12]!r}); "
            "it was billed, and the image is lost"
        )
    return data


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
