"""A judge's call (a vision model asked yes/no questions about one image, JSON schema output),
answered as the offline judge answers: from what the stand-in renderer draws for the prompt the
request names. Usage as the API counts it: 258 tokens per 768 px tile of the image, the text's
tokens, the answer's; knobs for a refusal and a malformed answer on top (``judge_refuse``,
``judge_junk``). A judge's decomposition (a text-only call, ``Judge(..., questions="model")``)
is answered with the questions the rules ask of that prompt, so the stand-in's answers to them
stay coherent with the pictures; the same knobs apply."""

from __future__ import annotations

import binascii
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ...judging import decompose as decomposing
from ...judging.ask import PROMPT_MARK
from ...judging.judge import stand_in_answers
from ...judging.questions import decompose
from ...models import judges
from .errors import invalid
from .request import BAD_IMAGE
from .respond import response_id, text_tokens
from .signatures import b64


@dataclass
class JudgeCall:
    model: str
    prompt: str  # the prompt the image was made from (as the request says)
    asked: list[tuple[str, str]]  # (id, question text)
    size: tuple[int, int]
    text: str  # the request's whole text


@dataclass
class DecomposeCall:
    model: str
    prompt: str  # the prompt to break into questions
    text: str


def is_judge(model: str) -> bool:
    return model.removeprefix("models/") in judges.PRICES


def parse(model: str, body: Any) -> JudgeCall | DecomposeCall:
    """The request, checked as the API checks it: one user turn with an image and text, and a
    JSON answer asked for with its schema."""
    contents = body.get("contents") if isinstance(body, dict) else None
    if not isinstance(contents, list) or not contents:
        raise invalid("* GenerateContentRequest.contents: contents is not specified")
    parts = [p for c in contents if isinstance(c, dict) for p in c.get("parts") or []]
    images = [p["inlineData"] for p in parts if isinstance(p, dict) and "inlineData" in p]
    text = "\n".join(str(p.get("text")) for p in parts if isinstance(p, dict) and "text" in p)
    gen = body.get("generationConfig") or {}
    if gen.get("responseMimeType") != "application/json" or "responseSchema" not in gen:
        raise invalid("a judge call asks for application/json with a responseSchema")
    if not images and text.startswith(decomposing.MARK):
        first = text.splitlines()[0]
        return DecomposeCall(model.removeprefix("models/"), first[len(decomposing.MARK) :], text)
    if len(images) != 1:
        raise invalid(f"a judge call sends one image; this one sends {len(images)}")
    try:
        from PIL import Image  # the emulator's own images: Pillow is there

        data = b64(images[0].get("data"))
        size = Image.open(io.BytesIO(data)).size
    except (binascii.Error, ValueError, OSError):
        raise invalid(BAD_IMAGE) from None
    lines = text.splitlines()
    prompt = next((ln[len(PROMPT_MARK) :] for ln in lines if ln.startswith(PROMPT_MARK)), "")
    asked = [(m.group(1), m.group(2)) for ln in lines if (m := re.match(r"(q\d+): (.+)", ln))]
    return JudgeCall(model.removeprefix("models/"), prompt, asked, size, text)


def answer(call: JudgeCall | DecomposeCall, faults: Any, take: Any) -> dict[str, Any]:
    """The GenerateContentResponse body of one judge call."""
    image = judges.image_tokens(*call.size) if isinstance(call, JudgeCall) else 0
    prompt_tokens = image + text_tokens(call.text)
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    if take("judge_refuse"):
        usage["totalTokenCount"] = prompt_tokens
        return {"candidates": [{"finishReason": "SAFETY", "index": 0}], "usageMetadata": usage,
                "modelVersion": call.model, "responseId": response_id()}  # fmt: skip
    if isinstance(call, DecomposeCall):
        made = [q.to_dict() for q in decompose(call.prompt)] if call.prompt.strip() else []
        return _answered(call.model, json.dumps({"questions": made}), usage, take)
    known = {q.id: q for q in decompose(call.prompt)} if call.prompt.strip() else {}
    said = stand_in_answers(list(known.values()), call.prompt, call.size) if known else {}
    items = []
    for qid, text in call.asked:
        q = known.get(qid)
        if q is not None and q.text == text:  # a question the rules ask: as the stand-in drew
            items.append({"id": qid, "answer": said[qid]["answer"] is True,
                          "reason": said[qid]["reason"]})  # fmt: skip
        else:
            items.append({"id": qid, "answer": False, "reason": "cannot see that"})
    return _answered(call.model, json.dumps({"answers": items}), usage, take)


def _answered(model: str, out: str, usage: dict[str, Any], take: Any) -> dict[str, Any]:
    prompt_tokens = usage["promptTokenCount"]
    if take("judge_junk"):
        out = out[: len(out) // 2]  # cut short, as a max-token stop leaves it
    usage.update(candidatesTokenCount=text_tokens(out),
                 totalTokenCount=prompt_tokens + text_tokens(out))  # fmt: skip
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": out}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": usage, "modelVersion": model, "responseId": response_id(),
    }  # fmt: skip
