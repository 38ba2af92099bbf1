"""Judgments on disk: ratings of runs and choices between two runs, beside the runs.

Layout under the store's root::

    judgments/ratings/<run id>/<time>-<random>.json   one file per rating (the newest counts;
                                                      a score of null clears)
    judgments/choices/<duel>/<time>-<random>.json     one file per choice of a duel
    judgments/scores/<ab>/<key>.json                  an automatic judge's judgment, by key
    judgments/scored/<run id>/<judge>.json            the newest judgment of a run by a judge
                                                      (its key and score: what cards show)
    judgments/questions/<key>/<time>-<random>.json    a prompt decomposed by a model, by (model,
                                                      prompt); the oldest is the one asked

A judgment is never written over: each is a new small file with a name no other writer can
pick (the time to the microsecond and random bits), written atomically. Two kernels rating or
duelling on one store at once therefore never lose each other's work, and the images and run
records are never touched.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from .files import _atomic_write, _dumps, _read_json, _umask
from .runs import Store

CHOICES = ("left", "right", "tie", "skip")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _new_name() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{secrets.token_hex(4)}.json"


def _checked(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValidationError(
            f"{kind} {name!r} is not a valid name",
            field=kind,
            value=name,
            allowed="letters, digits, '.', '_' and '-' (up to 128)",
        )
    return name


def _read_all(folder: Path, seen: dict[Path, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The records in ``folder`` by time; ``seen`` keeps those read (a judgment file is never
    rewritten, so a duel of hundreds of choices reads each one once)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.json")):  # names sort by time
        record = seen.get(path)
        if record is None:
            record = _read_json(path)
            if record is None:
                continue
            seen[path] = record
        yield record


def check_score(score: Any) -> int | None:
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError(
            f"rate: {score!r} is not a score", field="score", value=score, allowed="1 to 5, or None"
        )
    return score


class Judgments:
    """Ratings and duel choices of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.root = store.root / "judgments"
        self._seen: dict[Path, dict[str, Any]] = {}
        self._mode = 0o666 & ~_umask()  # as the store's own files: a shared store needs the umask

    # -- ratings ------------------------------------------------------------------------------
    def rate(
        self, run_id: str, score: int | None, note: str = "", rater: str | None = None
    ) -> dict[str, Any]:
        """Record a rating (1 to 5; None clears) of ``run_id``; returns the record written."""
        _checked("run", run_id)
        record = {
            "run_id": run_id,
            "score": check_score(score),
            "note": str(note or ""),
            "rater": None if rater is None else str(rater),
            "time": _now(),
        }
        path = self.root / "ratings" / run_id / _new_name()
        _atomic_write(path, _dumps(record), self._mode)
        self.store.publish(path)
        return record

    def ratings(self, run_id: str) -> list[dict[str, Any]]:
        """Every rating of ``run_id``, oldest first (clears included)."""
        _checked("run", run_id)
        return list(_read_all(self.root / "ratings" / run_id, self._seen))

    def rating(self, run_id: str, rater: str | None = None) -> dict[str, Any] | None:
        """The rating that counts: the newest (of ``rater``, when given); None if none or
        cleared."""
        found = [r for r in self.ratings(run_id) if rater is None or r.get("rater") == rater]
        last = found[-1] if found else None
        return last if last is not None and last.get("score") is not None else None

    # -- duel choices -------------------------------------------------------------------------
    def choose(
        self,
        duel: str,
        left: str,
        right: str,
        choice: str,
        rater: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Record one choice between two runs shown ``left`` and ``right``."""
        _checked("duel", duel)
        _checked("run", left)
        _checked("run", right)
        if choice not in CHOICES:
            raise ValidationError(
                f"duel: {choice!r} is not a choice",
                field="choice",
                value=choice,
                allowed=list(CHOICES),
            )
        record = {
            **extra,
            "duel": duel,
            "left": left,
            "right": right,
            "choice": choice,
            "rater": None if rater is None else str(rater),
            "time": _now(),
        }
        path = self.root / "choices" / duel / _new_name()
        _atomic_write(path, _dumps(record), self._mode)
        self.store.publish(path)
        return record

    def choices(self, duel: str | None = None) -> list[dict[str, Any]]:
        """The choices of ``duel`` (every duel's when None), oldest first."""
        if duel is not None:
            return list(_read_all(self.root / "choices" / _checked("duel", duel), self._seen))
        folder = self.root / "choices"
        out = (
            [c for d in sorted(folder.iterdir()) for c in _read_all(d, self._seen)]
            if folder.is_dir()
            else []
        )
        return sorted(out, key=lambda c: str(c.get("time")))

    # -- automatic judgments ------------------------------------------------------------------
    def put_score(self, key: str, record: dict[str, Any]) -> None:
        """Store a judge's judgment under its key (judge, rules, image, prompt): the same key
        always holds the same answers, so a second writer's copy changes nothing."""
        stamped = {**record, "time": _now()}
        _atomic_write(self._score_path(key), _dumps(stamped), self._mode)
        self.store.publish(self._score_path(key))
        run, judge = str(record.get("run_id")), str(record.get("judge"))
        if _NAME.fullmatch(run) and _NAME.fullmatch(judge):  # a pointer: where a run shows
            brief = {k: stamped.get(k) for k in ("run_id", "judge", "version", "key", "score",
                                                  "time")}  # fmt: skip
            pointer = self.root / "scored" / run / f"{judge}.json"
            _atomic_write(pointer, _dumps(brief), self._mode)
            self.store.publish(pointer)

    def scored(self, run_id: str) -> dict[str, Any] | None:
        """The newest judgment of ``run_id`` by any judge (the whole record), or None."""
        folder = self.root / "scored" / _checked("run", run_id)
        briefs = [b for p in folder.glob("*.json") if (b := _read_json(p)) is not None]
        for brief in sorted(briefs, key=lambda b: str(b.get("time")), reverse=True):
            key = str(brief.get("key") or "")
            if re.fullmatch(r"[0-9a-f]{64}", key) and (full := self.score(key)) is not None:
                return full
        return None

    def score(self, key: str) -> dict[str, Any] | None:
        """The stored judgment of ``key``, or None."""
        return _read_json(self._score_path(key))

    def put_questions(self, key: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a model's decomposition of a prompt, and return the one to ask: the oldest
        under ``key``. A second kernel's (or a teammate's) paid answer is kept beside it, never
        lost, and everyone asks the same questions."""
        path = self._questions_folder(key) / _new_name()
        _atomic_write(path, _dumps({**record, "time": _now()}), self._mode)
        self.store.publish(path)
        return self.questions(key) or record

    def questions(self, key: str) -> dict[str, Any] | None:
        """The decomposition stored under ``key`` (the oldest), or None."""
        folder = self._questions_folder(key)
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if (record := _read_json(path)) is not None:
                return record
        return None

    def _questions_folder(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ValidationError(f"judge: {key!r} is not a questions key", field="key", value=key)
        return self.root / "questions" / key

    def _score_path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ValidationError(f"judge: {key!r} is not a judgment key", field="key", value=key)
        return self.root / "scores" / key[:2] / f"{key}.json"
