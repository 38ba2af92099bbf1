"""An automatic judge of prompt adherence: an image asked its own prompt's questions.

The prompt is decomposed once into yes/no questions (``questions.py``, cached by prompt); each
image is asked them, a child only when its parent passed; its score is the share of questions
passed, with the failed ones named. Every judgment is stored beside the runs under a key of
(judge, question rules, image, prompt), so asking again costs nothing and replays offline.

``Judge("gemini-3.8-flash")`` asks a vision model over the Gemini API (``ask.py``: one call
per image, JSON schema output); its tokens and exact cost are on every judgment, and a Ctrl-C
during a call waits for the paid answer and stores it before it stops.

``Judge("offline")`` is the stand-in: it judges images the offline renderer drew, and it
answers from what that renderer draws for the prompt (one subject in the first colour named,
a surface under it when it stands "on" something, the warm or dark light, the caption's
visible lines), so its answers agree with the pictures. It says in every judgment that it is a
stand-in.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..backends.offline.paint import caption_lines
from ..backends.worker import call
from ..errors import ValidationError
from ..models import judges
from ..store.judgments import Judgments
from . import ask
from .questions import LIGHT, VERSION, Question, decompose

if TYPE_CHECKING:
    from ..shapes import ResultShape as Result

JUDGES = ("offline", *judges.PRICES)
STAND_IN = "offline stand-in: answers from what the local renderer drew, not a vision model"


@dataclass
class Judgment:
    run_id: str
    judge: str
    questions: list[Question]
    answers: dict[str, dict[str, Any]]  # question id -> {"answer": bool | None, "reason": str}
    cost: float | None = 0.0  # None: the usage did not say enough (see ``usage``)
    cached: bool = False
    note: str = ""
    key: str = ""
    usage: dict[str, Any] | None = None
    passed: int = field(init=False)

    def __post_init__(self) -> None:
        self.passed = sum(a.get("answer") is True for a in self.answers.values())

    @property
    def score(self) -> float:
        """The share of questions passed (one not asked, its parent failed, is not passed)."""
        return self.passed / len(self.questions) if self.questions else 1.0

    @property
    def failed(self) -> list[Question]:
        return [q for q in self.questions if self.answers[q.id].get("answer") is not True]

    def __repr__(self) -> str:
        missed = "; ".join(f"{q.id} {q.text}" for q in self.failed) or "none"
        return (
            f"Judgment(run {self.run_id}, {self.judge}: {self.score:.2f}, "
            f"{self.passed} of {len(self.questions)} passed; failed: {missed})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "judge": self.judge, "version": VERSION, "key": self.key,
                "questions": [q.to_dict() for q in self.questions], "answers": self.answers,
                "score": self.score, "cost": self.cost, "note": self.note,
                "usage": self.usage}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, cached: bool = True) -> Judgment:
        questions = [Question(**q) for q in d["questions"]]
        return cls(d["run_id"], d["judge"], questions, d["answers"], d.get("cost"), cached,
                   str(d.get("note") or ""), str(d.get("key") or ""), d.get("usage"))  # fmt: skip


class Judge:
    """``Judge("offline")`` or ``Judge("gemini-3.8-flash", backend=...)`` (a GeminiBackend;
    by default one from ``GEMINI_API_KEY``): ``judge(result)`` scores one image."""

    def __init__(self, model: str = "offline", backend: Any = None) -> None:
        if model not in JUDGES:
            raise ValidationError(
                f"judge: model {model!r} is not a judge nb2 has",
                field="model", value=model, allowed=list(JUDGES),
            )  # fmt: skip
        self.model = model
        if model != "offline" and backend is None:
            # here: the SDK loads only for this judge
            from ..backends.gemini import GeminiBackend

            backend = GeminiBackend()  # no key: a named error, before anything is asked
        self.backend = backend

    def __repr__(self) -> str:
        return f"Judge({self.model!r})"

    def questions(self, prompt: str) -> list[Question]:
        return decompose(prompt)

    def key(self, result: Result) -> str:
        out = result.record.get("output") or {}
        parts = (self.model, VERSION, str(out.get("sha256")), result.params.prompt)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def judge(self, result: Result) -> Judgment:
        """The judgment of ``result``: from the store when it was judged before."""
        record = result.record
        if record.get("status") != "succeeded" or not (record.get("output") or {}).get("sha256"):
            raise ValidationError(
                f"judge: run {result.id} has no image to judge ({record.get('status')})",
                field="result", value=result.id, allowed="a succeeded run",
            )  # fmt: skip
        if self.model == "offline" and not (record.get("backend") or {}).get("offline"):
            raise ValidationError(
                f"judge: the offline judge reads only what the offline stand-in drew; run "
                f"{result.id} came from {(record.get('backend') or {}).get('name')}",
                field="model", value=self.model, allowed="an offline run",
            )  # fmt: skip
        store = Judgments(result.store)
        key = self.key(result)
        if (done := store.score(key)) is not None:
            return Judgment.from_dict(done)
        questions = self.questions(result.params.prompt)
        if self.model == "offline":
            answers = stand_in_answers(questions, result.params.prompt, _size(record))
            judgment = Judgment(result.id, self.model, questions, answers, 0.0, False, STAND_IN,
                                key)  # fmt: skip
            store.put_score(key, judgment.to_dict())
            return judgment
        cancel = threading.Event()

        def work() -> Judgment:  # stored in the worker: a Ctrl-C keeps a paid answer
            data = result.path.read_bytes()
            mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            got, usage, cost = ask.ask(self.backend, self.model, data, mime,
                                       result.params.prompt, questions, cancel)  # fmt: skip
            for q in questions:  # DSG: a child whose parent failed is not counted
                if q.parent is not None and got[q.parent]["answer"] is not True:
                    got[q.id] = {"answer": None, "reason": f"not counted: {q.parent} failed"}
            done = Judgment(result.id, self.model, questions, got, cost, False, "", key, usage)
            store.put_score(key, done.to_dict())
            return done

        return call(work, cancel)


def _size(record: dict[str, Any]) -> tuple[int, int]:
    out = record.get("output") or {}
    return int(out.get("width") or 1024), int(out.get("height") or 1024)


def stand_in_answers(
    questions: list[Question], prompt: str, size: tuple[int, int]
) -> dict[str, Any]:
    """What the stand-in drew for ``prompt``, question by question (see render._compose)."""
    first = " ".join(prompt.split("\n", 1)[0].split())
    visible = " ".join(caption_lines(size, prompt.split("\n", 1)[0]))
    colours = [q.value for q in questions if q.kind == "attribute"]
    out: dict[str, dict[str, Any]] = {}
    for q in questions:
        if q.parent is not None and out[q.parent]["answer"] is not True:
            out[q.id] = {"answer": None, "reason": f"not asked: {q.parent} failed"}
            continue
        if q.kind == "entity":
            yes, why = True, "the subject is drawn, and named in the caption"
        elif q.kind == "attribute":
            yes = q.value == colours[0]
            why = "the subject's colour" if yes else f"the subject is drawn {colours[0]}"
        elif q.kind == "count":
            yes, why = False, "the stand-in draws one subject"
        elif q.kind == "relation":
            yes = q.value.startswith("on ")
            why = "a surface is drawn under it" if yes else "only a surface is drawn"
        elif q.kind == "text":
            yes = q.value.lower() in visible.lower()
            why = "in the caption" if yes else "cut from the caption's visible lines"
        else:  # light
            yes = any(c in first.lower() for c in LIGHT[q.value])
            why = f"the palette is turned {q.value}"
        out[q.id] = {"answer": yes, "reason": why}
    return out
