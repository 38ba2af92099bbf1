"""A prompt as atomic yes/no questions, Davidsonian-scene-graph style: the entity first, then
what hangs on it (its colour, its count, where it is), then what stands alone (text in the
image, the light). A child is not asked when its parent failed: a fox that is not there is not
also "not red" (DSG's rule, so one miss is not counted three times).

This decomposer reads the prompt's words by rule, as the offline stand-in reads them to draw
(its subject is the prompt's first phrase): deterministic and free, so a grid's questions are
the same in every kernel. ``decompose`` is cached by prompt.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from typing import Any

from ..backends.offline.render import COLOURS, subject_phrase
from ..errors import ValidationError

VERSION = "rules-1"  # in every judgment's key: new rules are new questions, never mixed
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
           "nine": 9, "ten": 10, "pair": 2, "couple": 2}  # fmt: skip
RELATIONS = ("on", "in", "under", "beside", "behind", "above", "below", "inside", "near")
LIGHT = {"warm": ("golden hour", "sunset", "sunrise", "warm", "candle", "autumn"),
         "dark": ("night", "dark", "moody", "noir", "midnight")}  # fmt: skip
_TEXT = re.compile(  # quoted text the prompt asks to be written: says "...", a sign '...'
    r"""(?:says?|reads?|reading|saying|text|headline|sign|word)[^"'“”]*["“']([^"”']+)["”']"""
)
_JOINS = {"at", "with", "by", "of", "and", "during", "for", "while", "from", "to"}
_STOP = {"a", "an", "the", "of", "and", "with", "very", "small", "large", "big", "tiny"}


@dataclass(frozen=True)
class Question:
    id: str  # q1, q2, ... in asking order
    text: str  # as a person (or a vision model) is asked it
    kind: str  # entity | attribute | count | relation | text | light
    subject: str  # the entity it is about ("" for text and light)
    value: str  # what is asked of it: a colour, a count, "on marble table", the text
    parent: str | None = None  # the question it depends on

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decompose(prompt: str) -> list[Question]:
    """The questions of ``prompt``, parents before children."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError(
            f"judge: prompt {prompt!r} is empty; nothing to ask",
            field="prompt", value=prompt, allowed="a non-empty prompt",
        )  # fmt: skip
    return list(_decompose(" ".join(prompt.split("\n", 1)[0].split())))


@functools.lru_cache(maxsize=4096)
def _decompose(first_line: str) -> tuple[Question, ...]:
    out: list[Question] = []

    def ask(text: str, kind: str, subject: str, value: str, parent: str | None = None) -> str:
        qid = f"q{len(out) + 1}"
        out.append(Question(qid, text, kind, subject, value, parent))
        return qid

    words = [w for w in subject_phrase(first_line).split() if w not in _STOP]
    count = next((NUMBERS[w] for w in words if w in NUMBERS), None)
    count = count or next((int(w) for w in words if w.isdigit() and 1 < int(w) < 100), None)
    colours = [w for w in words if w in COLOURS]
    nouns = [w for w in words if w not in NUMBERS and not w.isdigit() and w not in colours]
    entity = " ".join(nouns[-2:]) if nouns else ""
    if entity:
        many = bool(count) or (entity.endswith("s") and not entity.endswith("ss"))
        article = "" if many else ("an " if entity[0] in "aeiou" else "a ")
        be = "Are" if many else "Is"
        root = ask(f"Does the image show {article}{entity}?", "entity", entity, entity)
        for colour in colours:
            ask(f"{be} the {entity} {colour}?", "attribute", entity, colour, root)
        if count:
            ask(f"Are there {count} {entity}?", "count", entity, str(count), root)
        lower = first_line.lower()
        for found in re.finditer(rf"\b({'|'.join(RELATIONS)}) ([a-z ]+)", lower):
            rel, obj = found.group(1), []
            for w in found.group(2).split():  # up to the next joining word
                if w in _JOINS or w in RELATIONS:
                    break
                if w not in _STOP and w not in NUMBERS and not w.isdigit():
                    obj.append(w)
            if obj := obj[-2:]:  # "in two green trees": the green trees
                where, said = f"{rel} {' '.join(obj)}", f"{rel} the {' '.join(obj)}"
                ask(f"{be} the {entity} {said}?", "relation", entity, where, root)
                break  # the first relation named: the scene's main one
    if text := _TEXT.search(first_line):
        ask(f'Does the image show the text "{text.group(1)}"?', "text", "", text.group(1))
    for light, cues in LIGHT.items():
        if any(c in first_line.lower() for c in cues):
            ask(f"Is the light {light}?", "light", "", light)
    return tuple(out)
