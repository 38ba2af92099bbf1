"""A GenerateContentRequest read and checked as the API does: field names, image options per
model family, candidates, thinking, search, contents and parts. The result is a :class:`Call`,
what the model is asked to do; anything the API refuses raises a 400 GeminiError."""

from __future__ import annotations

import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import signatures
from .errors import GeminiError, camel, invalid, normalise, not_found, unknown_field
from .signatures import b64
from .tables import Family, family

# The proto's field names, camelCase (checked only with strict_fields).
_TOP = {
    "model", "contents", "tools", "toolConfig", "safetySettings", "systemInstruction",
    "generationConfig", "cachedContent", "serviceTier", "store",
}  # fmt: skip
_GENERATION = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK",
    "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
    "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig",
    "mediaResolution", "responseFormat",
}  # fmt: skip
_IMAGE = {"aspectRatio", "imageSize"}
_THINKING = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
_DATA = ("text", "inlineData", "fileData", "functionCall", "functionResponse",
         "executableCode", "codeExecutionResult")  # fmt: skip
BAD_IMAGE = (
    "Unable to process input image. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)


@dataclass
class Image:
    data: bytes
    mime: str
    size: tuple[int, int]
    thought: bool = False


@dataclass
class Call:
    """What one request asks of the model."""

    model: str  # the id as asked, without "models/"
    fam: Family
    prompt: str  # the last user turn's text
    refs: list[bytes]  # the last user turn's images (references)
    base: bytes | None  # the last model image in the history: the image being edited
    tier: str
    ratio: str | None  # None: match the input image, or 1:1
    text_out: bool
    image_out: bool
    level: str  # the thinking level, lower case ("" for a model that does not think)
    show_thoughts: bool
    web_search: bool
    image_search: bool
    seed: int | None
    prompt_text: list[str] = field(default_factory=list)  # every text part sent (for tokens)
    prompt_images: list[Image] = field(default_factory=list)  # every image sent (for tokens)
    signature_problems: list[tuple[str, int, int]] = field(default_factory=list)


def _strict(raw: dict[str, Any]) -> None:
    for key in raw:
        if camel(key) not in _TOP:
            raise unknown_field(key)
    gen = raw.get("generationConfig", raw.get("generation_config"))
    if isinstance(gen, dict):
        for key, value in gen.items():
            if camel(key) not in _GENERATION:
                raise unknown_field(key, "generation_config")
            inner = {"imageConfig": _IMAGE, "thinkingConfig": _THINKING}.get(camel(key))
            if inner and isinstance(value, dict):
                for k in value:
                    if camel(k) not in inner:
                        where = "generation_config." + {"imageConfig": "image_config"}.get(
                            camel(key), "thinking_config"
                        )
                        raise unknown_field(k, where)


def parse(
    raw: Any,
    model: str,
    *,
    strict: bool,
    secret: bytes,
    files: Callable[[str], bytes | None],
) -> Call:
    """The call ``raw`` (a request body) makes of ``model``; ``files`` reads an uploaded
    file's bytes by name or uri (None: no such file)."""
    if not isinstance(raw, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    if strict:
        _strict(raw)
    body = normalise(raw)
    model = model.removeprefix("models/")
    fam = family(model)
    if fam is None:
        raise not_found(model)
    gen = body.get("generationConfig") or {}
    img = gen.get("imageConfig") or {}
    # newer docs: generationConfig.responseFormat.image carries the same two options
    img = {**((gen.get("responseFormat") or {}).get("image") or {}), **img}
    tier = _tier(fam, model, img.get("imageSize"))
    ratio = img.get("aspectRatio")
    if ratio is not None and ratio not in fam.ratios:
        raise invalid(
            f'Unsupported aspect ratio "{ratio}" for models/{model}. '
            f"Supported aspect ratios: {', '.join(fam.ratios)}."
        )
    count = gen.get("candidateCount")
    if isinstance(count, int) and count > 1:
        where = f"models/{model}" if fam.name == "2.5-flash" else "this model"
        raise invalid(f"Multiple candidates is not enabled for {where}")
    text_out, image_out = _modalities(gen.get("responseModalities"))
    level, show = _thinking(fam, gen.get("thinkingConfig") or {})
    web, images = _search(fam, body.get("tools") or [])
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n")
    call = Call(
        model=model, fam=fam, prompt="", refs=[], base=None, tier=tier, ratio=ratio,
        text_out=text_out, image_out=image_out, level=level, show_thoughts=show,
        web_search=web, image_search=images,
        seed=gen.get("seed") if isinstance(gen.get("seed"), int) else None,
    )  # fmt: skip
    system = body.get("systemInstruction")
    for part in (system.get("parts") or []) if isinstance(system, dict) else []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            call.prompt_text.append(part["text"])  # billed as prompt, not drawn from
    _read_contents(call, contents, files)
    call.signature_problems = signatures.problems(secret, contents)
    return call


def _tier(fam: Family, model: str, size: Any) -> str:
    if size is None:
        return "1K"
    if not fam.has_image_size:
        raise invalid(f'Image size "{size}" is not supported for models/{model}.')
    if size not in fam.tiers:  # exact: "1k" is refused ("must use uppercase K")
        raise invalid(
            f'Unsupported image size "{size}" for models/{model}. '
            f"Supported image sizes: {', '.join(fam.tiers)}."
        )
    return str(size)


def _modalities(value: Any) -> tuple[bool, bool]:
    if not value:
        return True, True  # documented default: ["TEXT", "IMAGE"]
    names = [str(v).upper() for v in value]
    wrong = [n for n in names if n not in ("TEXT", "IMAGE")]
    if wrong:
        raise invalid(
            "Model does not support the requested response modalities: "
            + ",".join(w.lower() for w in wrong)
        )
    return "TEXT" in names, "IMAGE" in names


def _thinking(fam: Family, cfg: dict[str, Any]) -> tuple[str, bool]:
    level = cfg.get("thinkingLevel")
    show = bool(cfg.get("includeThoughts"))
    if not fam.thinks:
        if level is not None:
            raise invalid("Thinking level is not supported for this model.")
        return "", False  # includeThoughts is accepted; there are no thoughts to show
    if level is None or str(level).upper() == "THINKING_LEVEL_UNSPECIFIED":
        return fam.default_level, show
    if str(level).lower() not in fam.thinking_levels:
        raise invalid(
            f'Thinking level "{level}" is not supported for this model. '
            f"Supported levels: {', '.join(fam.thinking_levels)}."
        )
    return str(level).lower(), show


def _search(fam: Family, tools: Any) -> tuple[bool, bool]:
    web = images = False
    for tool in tools if isinstance(tools, list) else []:
        search = tool.get("googleSearch") if isinstance(tool, dict) else None
        if search is None:
            continue
        types = search.get("searchTypes") or {}
        web = web or not types or "webSearch" in types
        images = images or "imageSearch" in types
    if (web or images) and not fam.web_search:
        raise invalid("Search as tool is not enabled for this model.")
    if images and not fam.image_search:
        raise invalid("Image search is not supported for this model.")
    return web or images, images


def _read_contents(call: Call, contents: list[Any], files: Callable[[str], bytes | None]) -> None:
    for n, content in enumerate(contents):
        if not isinstance(content, dict):
            raise invalid(f"* GenerateContentRequest.contents[{n}]: must be an object\n")
        role = content.get("role") or "user"
        if role not in ("user", "model"):
            raise invalid("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            where = f"GenerateContentRequest.contents[{n}].parts"
            raise invalid(f"* {where}: contents.parts must not be empty.\n")
        texts, pics = [], []
        for m, part in enumerate(parts):
            if not isinstance(part, dict) or not any(k in part for k in _DATA):
                raise invalid(
                    f"* GenerateContentRequest.contents[{n}].parts[{m}].data: required oneof "
                    "field 'data' must have one initialized field\n"
                )
            if isinstance(part.get("text"), str):
                call.prompt_text.append(part["text"])
                if not part.get("thought"):
                    texts.append(part["text"])
            pic = _image(part, files)
            if pic is not None:
                pic.thought = bool(part.get("thought"))
                call.prompt_images.append(pic)
                if not pic.thought:
                    pics.append(pic.data)
        if role == "user":
            call.prompt, call.refs = "\n".join(texts), pics
        elif pics:
            call.base = pics[-1]


def _image(part: dict[str, Any], files: Callable[[str], bytes | None]) -> Image | None:
    """An image part's bytes (inline or an uploaded file), checked to be an image."""
    from PIL import Image as PILImage

    if isinstance(part.get("inlineData"), dict):
        blob = part["inlineData"]
        mime = str(blob.get("mimeType") or "")
        try:
            data = b64(blob.get("data"))
        except (binascii.Error, ValueError):
            raise invalid(BAD_IMAGE) from None
    elif isinstance(part.get("fileData"), dict):
        ref = part["fileData"]
        uri = str(ref.get("fileUri") or "")
        found = files(uri)
        if found is None:
            name = uri.rsplit("/", 1)[-1]
            raise GeminiError(
                403,
                f"You do not have permission to access the File {name} or it may not exist.",
            )
        data, mime = found, str(ref.get("mimeType") or "")
    else:
        return None
    if not mime.startswith("image/"):
        return None  # a PDF or audio: the stand-in does not draw from it
    try:
        with PILImage.open(io.BytesIO(data)) as pic:
            size = pic.size
    except Exception:  # anything Pillow cannot open is not an image
        raise invalid(BAD_IMAGE) from None
    return Image(data, mime, size)
