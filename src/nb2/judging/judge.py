"""An automatic judge of prompt adherence: an image asked its own prompt's questions.

The prompt is decomposed once into yes/no questions (``questions.py``, cached by prompt); each
image is asked them, a child only when its parent passed; its score is the share of questions
passed, with the failed ones named. Every judgment is stored beside the runs under a key of
(judge, question rules, image, prompt), so asking again costs nothing and replays offline.

``Judge("gemini-3.8-flash")`` asks a vision model over the Gemini API (``ask.py``: one call
per image, JSON schema output); its tokens and exact cost are on every judgment, and a Ctrl-C
during a call waits for the paid answer and stores it before it stops.

``Judge(model, questions="model")`` has the judge model decompose each prompt first
(``decompose.py``: one text call per prompt, stored by (model, prompt), its cost on the
judgment that asked it); the default is the rules, free and the same for every judge.

``Judge("offline")`` is the stand-in: it judges images the offline renderer drew, and it
answers from what that renderer draws for the prompt (one subject in the first colour named,
a surface under it when it stands "on" something, the warm or dark light, the caption's
visible lines), so its answers agree with the pictures. It says in every judgment that it is a
stand-in.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..backends.offline.paint import caption_lines
from ..backends.worker import call
from ..errors import ValidationError
from ..models import judges
from ..store.judgments import Judgments
from . import ask, decompose
from .questions import LIGHT, VERSION, Question
from .questions import decompose as by_rules

if TYPE_CHECKING:
    from ..shapes import ResultShape as Result

JUDGES = ("offline", *judges.PRICES)
STAND_IN = "offline stand-in: answers from what the local renderer drew, not a vision model"
SOURCES = ("rules", "model")  # where a judge's questions come from


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
    version: str = VERSION  # the questions' source: the rules' version, or the decomposer's
    questions_cost: float | None = 0.0  # what the model's decomposition behind its questions
    # cost (every judgment of a prompt carries it; a report counts each decomposition once)
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
        return {"run_id": self.run_id, "judge": self.judge, "version": self.version,
                "key": self.key, "questions": [q.to_dict() for q in self.questions],
                "answers": self.answers, "score": self.score, "cost": self.cost,
                "questions_cost": self.questions_cost, "note": self.note,
                "usage": self.usage}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, cached: bool = True) -> Judgment:
        questions = [Question(**q) for q in d["questions"]]
        return cls(d["run_id"], d["judge"], questions, d["answers"], d.get("cost"), cached,
                   str(d.get("note") or ""), str(d.get("key") or ""), d.get("usage"),
                   str(d.get("version") or VERSION),
                   d.get("questions_cost", 0.0))  # fmt: skip


class Judge:
    """``Judge("offline")`` or ``Judge("gemini-3.8-flash", backend=...)`` (a GeminiBackend;
    by default one from ``GEMINI_API_KEY``): ``judge(result)`` scores one image.
    ``questions``: "rules" (free, the same for every judge) or "model" (the judge model
    decomposes each prompt once; a Gemini judge only)."""

    def __init__(self, model: str = "offline", backend: Any = None,
                 questions: str = "rules") -> None:  # fmt: skip
        if model not in JUDGES:
            raise ValidationError(
                f"judge: model {model!r} is not a judge nb2 has",
                field="model", value=model, allowed=list(JUDGES),
            )  # fmt: skip
        if questions not in SOURCES or (questions == "model" and model == "offline"):
            raise ValidationError(
                f"judge: questions={questions!r} is not a source the {model} judge has"
                + (" (the stand-in answers only the rules' questions)" if model == "offline"
                   else ""),
                field="questions", value=questions,
                allowed=["rules"] if model == "offline" else list(SOURCES),
            )  # fmt: skip
        self.model = model
        self.source = questions
        self.version = VERSION if questions == "rules" else f"{decompose.VERSION}:{model}"
        if model != "offline" and backend is None:
            # here: the SDK loads only for this judge
            from ..backends.gemini import GeminiBackend

            backend = GeminiBackend()  # no key: a named error, before anything is asked
        self.backend = backend
        # (store, prompt) -> a model's questions, in this kernel: one store's never asked in another
        self._asked: dict[tuple[str, str], tuple[list[Question], float | None]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # a decomposition that failed, and in which run (its cancel event): the run's other
        # images hear the same error rather than each paying for the same refused call again
        self._failed: dict[str, tuple[threading.Event, Exception]] = {}

    def __repr__(self) -> str:
        return f"Judge({self.model!r})" if self.source == "rules" else \
            f"Judge({self.model!r}, questions={self.source!r})"  # fmt: skip

    def questions(self, prompt: str, store: Any = None) -> list[Question] | None:
        """The questions ``prompt`` is asked: the rules', or the model's stored in ``store``
        (None: not decomposed yet, one call when an image of it is judged)."""
        rules = by_rules(prompt)  # an empty prompt is named here, for either source
        if self.source == "rules":
            return rules
        known = self._known(prompt, store) if store is not None else None
        return known[0] if known is not None else None

    def _known(self, prompt: str, store: Any) -> tuple[list[Question], float | None] | None:
        """The model's questions of ``prompt`` in ``store`` and what decomposing it cost."""
        if (known := self._asked.get((str(store.root), prompt))) is not None:
            return known
        if (rec := Judgments(store).questions(self._qkey(prompt))) is None:
            return None
        known = ([Question(**q) for q in rec["questions"]], rec.get("cost"))
        self._asked[(str(store.root), prompt)] = known
        return known

    def _qkey(self, prompt: str) -> str:
        return hashlib.sha256("\0".join((self.version, prompt)).encode()).hexdigest()

    def key(self, result: Result) -> str | None:
        """The judgment's key (None: a model's questions for its prompt are not known yet)."""
        out = result.record.get("output") or {}
        parts = [self.model, self.version, str(out.get("sha256")), result.params.prompt]
        if self.source == "model":
            if (qs := self.questions(result.params.prompt, result.store)) is None:
                return None
            parts.append(json.dumps([q.to_dict() for q in qs], sort_keys=True))
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()

    def judged(self, result: Result) -> bool:
        """Whether ``result`` has a stored judgment by this judge (what a plan counts)."""
        key = self.key(result)
        return key is not None and Judgments(result.store).score(key) is not None

    def judge(self, result: Result, cancel: threading.Event | None = None) -> Judgment:
        """The judgment of ``result``: from the store when it was judged before. ``cancel``
        (set by a grid's Ctrl-C or error): nothing more is sent once it is set."""
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
        prompt = result.params.prompt
        key = self.key(result)
        if key is not None and (done := store.score(key)) is not None:
            return Judgment.from_dict(done)
        if self.model == "offline":
            questions = by_rules(prompt)
            answers = stand_in_answers(questions, prompt, _size(record))
            judgment = Judgment(result.id, self.model, questions, answers, 0.0, False, STAND_IN,
                                str(key))  # fmt: skip
            store.put_score(str(key), judgment.to_dict())
            return judgment
        cancel = cancel or threading.Event()

        def work() -> Judgment:  # stored in the worker: a Ctrl-C keeps a paid answer
            questions, paid = self._decomposed(result, cancel)  # paid: by whoever asked
            if key is None:  # its questions are known now, and so is its key
                k = str(self.key(result))
                if (done := store.score(k)) is not None:  # judged while this waited its turn
                    return Judgment.from_dict(done)
            else:
                k = key
            data = result.path.read_bytes()
            mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            got, usage, cost = ask.ask(self.backend, self.model, data, mime, prompt, questions,
                                       cancel)  # fmt: skip
            for q in questions:  # DSG: a child whose parent failed is not counted
                if q.parent is not None and got[q.parent]["answer"] is not True:
                    got[q.id] = {"answer": None, "reason": f"not counted: {q.parent} failed"}
            done = Judgment(result.id, self.model, questions, got, cost, False, "", k, usage,
                            self.version, paid)  # fmt: skip
            store.put_score(k, done.to_dict())
            return done

        return call(work, cancel)

    def _decomposed(
        self, result: Result, cancel: threading.Event
    ) -> tuple[list[Question], float | None]:
        """The questions of ``result``'s prompt, and what the decomposition behind them cost.
        One call per prompt however many images of it are judged at once."""
        prompt = result.params.prompt
        if self.source == "rules":
            return by_rules(prompt), 0.0
        if (known := self._known(prompt, result.store)) is not None:
            return known
        with self._locks_lock:
            lock = self._locks.setdefault(prompt, threading.Lock())
        with lock:
            if (known := self._known(prompt, result.store)) is not None:
                return known
            if (failed := self._failed.get(prompt)) is not None and failed[0] is cancel:
                raise failed[1]  # failed in this run: the same answer, not a new bill
            try:
                made, usage, cost = decompose.ask(self.backend, self.model, prompt, cancel)
            except Exception as exc:
                self._failed[prompt] = (cancel, exc)
                raise
            kept = Judgments(result.store).put_questions(self._qkey(prompt), {
                "model": self.model, "version": self.version, "prompt": prompt,
                "questions": [q.to_dict() for q in made], "usage": usage, "cost": cost,
            })  # fmt: skip
            known = ([Question(**q) for q in kept["questions"]], kept.get("cost"))
            self._asked[(str(result.store.root), prompt)] = known
            return known


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
