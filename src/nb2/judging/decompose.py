"""A prompt decomposed by a model (``Judge(..., questions="model")``): one text-only call over the
Gemini API with a JSON schema, answered with DSG-style questions (an id, the question, its kind,
what it is about, the question it depends on). The answer is checked before it counts (ids
unique, parents asked earlier, kinds known, 1 to ``MOST`` questions); anything else is a named
error that says it was billed. One call per prompt: the questions are stored by (model, prompt)
and every image of that prompt is asked the same ones, in this kernel and a teammate's.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from ..errors import GenerationError
from .ask import json_call
from .questions import Question

VERSION = "model-1"  # the instructions below: new wording is new questions, never mixed
KINDS = ("entity", "attribute", "count", "relation", "text", "light", "global")
MOST = 24  # a prompt's questions at most: more is an answer gone wrong, not a prompt
MARK = "Break this image prompt into yes/no questions: "
SCHEMA = {
    "type": "OBJECT",
    "properties": {"questions": {"type": "ARRAY", "items": {
        "type": "OBJECT",
        "properties": {
            "id": {"type": "STRING"}, "text": {"type": "STRING"},
            "kind": {"type": "STRING", "enum": list(KINDS)},
            "subject": {"type": "STRING"}, "value": {"type": "STRING"},
            "parent": {"type": "STRING", "nullable": True},
        },
        "required": ["id", "text", "kind", "subject", "value", "parent"],
    }}},
    "required": ["questions"],
}  # fmt: skip


def instructions(prompt: str) -> str:
    return "\n".join([
        f"{MARK}{' '.join(prompt.split())}",
        "Write atomic questions a person could answer true or false by looking at an image made "
        "from it, Davidsonian-scene-graph style: first each entity (does the image show it?), "
        "then what hangs on one entity (an attribute, a count, a spatial relation to another "
        "entity), then what stands alone (text to be written in the image, the light, the "
        "style). Ask only what the prompt says. Ids are q1, q2, ... in order; a question about "
        "an entity names that entity's question as its parent, any other has parent null. "
        f"Kinds: {', '.join(KINDS)}. subject: the entity it is about (empty if none); value: "
        "what is asked of it (a colour, a count, the relation and its object, the text).",
    ])  # fmt: skip


def ask(
    backend: Any, model: str, prompt: str, cancel: threading.Event | None = None
) -> tuple[list[Question], dict[str, Any], float | None]:
    """(the questions, the usage, its exact cost) of one decomposition call."""
    from google.genai import types  # here: the SDK loads with the first call

    parts = [types.Part(text=instructions(prompt))]
    text, usage, cost, billed = json_call(backend, model, parts, SCHEMA, cancel,
                                          "decompose the prompt")  # fmt: skip
    return read(text, model, billed), usage, cost


def read(text: str, model: str, billed: str = "") -> list[Question]:
    """The questions of one answer, checked; a named error for anything else."""

    def bad(why: str) -> GenerationError:
        return GenerationError(f"judge: {model}'s questions are not the JSON asked for ({why}); "
                               f"not used {billed}".rstrip())  # fmt: skip

    try:
        data = json.loads(text)
    except ValueError:
        raise bad(f"not JSON: {text[:80]!r}") from None
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MOST:
        raise bad(f"not a list of 1 to {MOST} questions")
    out: list[Question] = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise bad(f"question {i} is not an object")
        qid, parent = item.get("id"), item.get("parent") or None
        fields = [item.get(k) for k in ("text", "kind", "subject", "value")]
        if qid != f"q{i}" or not all(isinstance(f, str) for f in fields):
            raise bad(f"question {i} is not q{i} with text, kind, subject and value")
        text_, kind, subject, value = (re.sub(r"\s+", " ", f).strip() for f in fields)
        if not text_ or kind not in KINDS:
            raise bad(f"q{i}: kind {kind!r} is not one of {', '.join(KINDS)}, or no text")
        if parent is not None and parent not in {q.id for q in out}:
            raise bad(f"q{i}'s parent {parent!r} is not a question asked before it")
        out.append(Question(f"q{i}", text_, kind, subject, value, parent))
    return out
