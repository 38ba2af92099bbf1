"""A vision model over the Gemini API asked one image's questions in one call: the image as an
inline part, the prompt and the questions as text, and a JSON schema for the answer (one
``{id, answer, reason}`` per question). The answer is checked before it counts: JSON of that
shape, every question answered once; anything else is a named error that says it was billed.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..errors import GenerationError, ModerationError
from ..models import judges
from .questions import Question

SCHEMA = {
    "type": "OBJECT",
    "properties": {"answers": {"type": "ARRAY", "items": {
        "type": "OBJECT",
        "properties": {"id": {"type": "STRING"}, "answer": {"type": "BOOLEAN"},
                       "reason": {"type": "STRING"}},
        "required": ["id", "answer", "reason"],
    }}},
    "required": ["answers"],
}  # fmt: skip
PROMPT_MARK = "The image was made from this prompt: "


def instructions(prompt: str, questions: list[Question]) -> str:
    lines = [
        "You judge whether an image follows the prompt it was made from.",
        f"{PROMPT_MARK}{' '.join(prompt.split())}",
        "Look at the image and answer each question with true or false, and a reason of a "
        "few words. Answer only from what the image shows.",
        *(f"{q.id}: {q.text}" for q in questions),
    ]
    return "\n".join(lines)


def ask(
    backend: Any, model: str, image: bytes, mime: str, prompt: str, questions: list[Question],
    cancel: threading.Event | None = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any], float | None]:  # fmt: skip
    """(answers by question id, the usage, its exact cost) of one call."""
    from google.genai import types  # here: the SDK loads with the first judge call

    parts = [types.Part(inline_data=types.Blob(mime_type=mime, data=image)),
             types.Part(text=instructions(prompt, questions))]  # fmt: skip
    text, usage, cost, billed = json_call(backend, model, parts, SCHEMA, cancel, "judge")
    return _read(text, questions, model, billed), usage, cost


def json_call(
    backend: Any, model: str, parts: list[Any], schema: dict[str, Any],
    cancel: threading.Event | None, doing: str,
) -> tuple[str, dict[str, Any], float | None, str]:  # fmt: skip
    """One generateContent call asking for JSON of ``schema``: (the answer's text, its usage,
    its exact cost, a "(billed: N tokens)" note). A refusal is a ModerationError that says it
    was billed; ``doing`` names what was refused ("judge", "decompose the prompt")."""
    from google.genai import types

    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=schema, temperature=0.0,
        should_return_http_response=True,
        http_options=types.HttpOptions(timeout=int(backend.timeout * 1000)),
    )  # fmt: skip
    contents = [types.Content(role="user", parts=parts)]
    body = backend.ask(model, contents, config, cancel=cancel)
    usage = body.get("usageMetadata") if isinstance(body.get("usageMetadata"), dict) else {}
    cost = judges.judge_cost(model, usage)
    billed = f"(billed: {usage.get('totalTokenCount', 'unknown')} tokens)"
    blocked = (body.get("promptFeedback") or {}).get("blockReason")
    cands = body.get("candidates") or []
    reason = cands[0].get("finishReason") if cands and isinstance(cands[0], dict) else None
    if blocked or reason in ("SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "BLOCKLIST"):
        raise ModerationError(f"judge: {model} refused to {doing} ({blocked or reason}) {billed}")
    text = "".join(
        str(p.get("text") or "")
        for p in ((cands[0].get("content") or {}).get("parts") or [] if cands else [])
        if isinstance(p, dict) and not p.get("thought")
    )
    return text, usage, cost, billed


def _read(text: str, questions: list[Question], model: str, billed: str) -> dict[str, Any]:
    def bad(why: str) -> GenerationError:
        return GenerationError(f"judge: {model}'s answer is not the JSON asked for ({why}); "
                               f"not counted {billed}")  # fmt: skip

    try:
        data = json.loads(text)
    except ValueError:
        raise bad(f"not JSON: {text[:80]!r}") from None
    items = data.get("answers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise bad("no answers list")
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("answer"), bool):
            raise bad(f"an answer is not true or false: {str(item)[:80]}")
        out[str(item.get("id"))] = {"answer": item["answer"], "reason": str(item.get("reason"))}
    missing = [q.id for q in questions if q.id not in out]
    if missing:
        raise bad(f"no answer for {', '.join(missing)}")
    return {q.id: out[q.id] for q in questions}
