"""Many images judged at once (a grid, a list of results): the plan before anything is asked,
then one judgment per image, each stored as it is made, so an interrupted run keeps what was
answered and a second run is all cache hits."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..models import judges
from ..views.tables import Table
from .judge import Judge, Judgment
from .questions import decompose as by_rules

if TYPE_CHECKING:
    from ..shapes import ResultShape as Result


@dataclass
class JudgePlan:
    images: int
    cached: int
    missing: int  # cells with no image yet: nothing to judge until the grid has run
    questions: int  # of the images still to judge
    calls: int  # vision-model calls (one per image; 0 for the offline judge)
    cost: float
    judge: str
    decompose: int = 0  # prompts a model decomposes first (one text call each, in ``calls``)

    def __repr__(self) -> str:
        return "\n".join([
            f"Judge plan ({self.judge}): {self.images} images",
            f"  judged before: {self.cached}",
            f"  to judge:      {self.images - self.cached} ({self.questions} questions)"
            if not self.decompose else
            f"  to judge:      {self.images - self.cached} (about {self.questions} questions; "
            f"{self.decompose} prompt(s) to decompose first)",
            *([f"  no image yet:  {self.missing} (run the grid first)"] if self.missing else []),
            f"  model calls:   {self.calls}",
            f"  est. cost:     ${self.cost:.4f}",
        ])  # fmt: skip


class JudgeReport(Table):
    """One row per image: its labels, score, passed/asked and the questions it failed."""

    def __init__(self, judgments: list[tuple[dict[str, str], Judgment]], title: str) -> None:
        self.judgments = judgments
        labels = list(dict.fromkeys(k for lab, _ in judgments for k in lab))
        rows = [{**lab, "score": round(j.score, 2), "passed": f"{j.passed}/{len(j.questions)}",
                 "failed": "; ".join(q.text for q in j.failed), "run": j.run_id}
                for lab, j in judgments]  # fmt: skip
        super().__init__(rows, [*labels, "score", "passed", "failed", "run"], title)

    @property
    def scores(self) -> dict[str, float]:
        """Each judged run's score, by run id (what :func:`nb2.agreement` reads)."""
        return {j.run_id: j.score for _, j in self.judgments}

    @property
    def cost(self) -> float | None:
        """What these judgments cost when they were made: each image's call, and each model
        decomposition behind their questions once (None: a usage said too little to price one)."""
        parts = [j.cost for _, j in self.judgments]
        decomposed = {(j.judge, j.version, json.dumps([q.to_dict() for q in j.questions])):
                      j.questions_cost for _, j in self.judgments}  # fmt: skip
        parts += list(decomposed.values())
        priced = [c for c in parts if c is not None]
        return round(sum(priced), 6) if len(priced) == len(parts) else None

    def mean(self) -> tuple[float, float, float]:
        """The mean score and a 95% interval (normal, from the scores' spread)."""
        xs = [j.score for _, j in self.judgments]
        if not xs:
            return (math.nan, math.nan, math.nan)
        m = sum(xs) / len(xs)
        sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
        half = 1.96 * sd / math.sqrt(len(xs))
        return m, max(0.0, m - half), min(1.0, m + half)

    def weakest(self, n: int = 5) -> JudgeReport:
        worst = sorted(self.judgments, key=lambda lj: lj[1].score)[:n]
        return JudgeReport(worst, f"the {len(worst)} weakest")


def plan(items: Sequence[tuple[dict[str, str], Result | None]], judge: Judge) -> JudgePlan:
    results = [r for _, r in items if r is not None]
    cached = questions = 0
    sizes = []
    unknown: set[str] = set()  # prompts whose model-made questions are not stored yet
    for r in results:
        if judge.judged(r):
            cached += 1
            continue
        asked = judge.questions(r.params.prompt, r.store)
        if asked is None:  # the rules' count stands in until the model has said
            unknown.add(r.params.prompt)
            asked = by_rules(r.params.prompt)
        questions += len(asked)
        out = r.record.get("output") or {}
        sizes.append((int(out.get("width") or 1024), int(out.get("height") or 1024)))
    offline = judge.model == "offline"
    cost = 0.0 if offline else judges.estimate(judge.model, sizes, questions)
    if unknown and not offline:
        cost = (cost or 0.0) + (judges.estimate_decompose(judge.model, len(unknown)) or 0.0)
    return JudgePlan(len(results), cached, len(items) - len(results), questions,
                     0 if offline else len(sizes) + len(unknown), cost or 0.0, judge.model,
                     len(unknown))  # fmt: skip


def judge_all(
    items: Sequence[tuple[dict[str, str], Result | None]], judge: Judge, *,
    on_progress: Callable[[int, int], Any] | None = None, title: str = "judged",
    max_concurrency: int = 8,
) -> JudgeReport:  # fmt: skip
    """Judge each result (labels kept for the report); a cell with no image is a named error
    before anything is asked. A model judge asks up to ``max_concurrency`` images at once; on
    a Ctrl-C or an error the calls already sent finish and are stored, the rest are not sent."""
    missing = [lab for lab, r in items if r is None]
    if missing:
        where = "; ".join(", ".join(f"{k}={v}" for k, v in lab.items()) for lab in missing[:5])
        raise ValidationError(
            f"judge: {len(missing)} cell(s) have no image yet ({where}); run the grid first",
            field="cells", value=len(missing), allowed="cells with an image",
        )  # fmt: skip
    results = [r for _, r in items if r is not None]
    if judge.model == "offline" or max_concurrency <= 1:
        got = []
        for i, r in enumerate(results):
            got.append(judge.judge(r))  # stored as it is made: an interrupt keeps it
            if on_progress is not None:
                on_progress(i + 1, len(results))
    else:
        got = _at_once(results, judge, max_concurrency, on_progress)
    return JudgeReport([(lab, j) for (lab, _), j in zip(items, got, strict=True)], title)


def _at_once(
    results: list[Result], judge: Judge, width: int, on_progress: Callable[[int, int], Any] | None
) -> list[Judgment]:
    pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="nb2-judge")
    # one image of each prompt first: a model's decompositions go out side by side, not each
    # behind the images of the prompt before it
    first: dict[str, int] = {}
    for i, r in enumerate(results):
        first.setdefault(r.params.prompt, i)
    lead = set(first.values())
    order = [*first.values(), *(i for i in range(len(results)) if i not in lead)]
    stop = threading.Event()  # set on a Ctrl-C or an error: a thread still waiting sends nothing
    submitted = {i: pool.submit(judge.judge, results[i], stop) for i in order}
    futures = [submitted[i] for i in range(len(results))]
    try:
        count = 0
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.05, return_when=FIRST_EXCEPTION)
            count += len(finished)
            if on_progress is not None and finished:
                on_progress(count, len(results))
            for f in finished:
                f.result()  # an error: the rest are not sent (below)
        return [f.result() for f in futures]
    finally:  # a Ctrl-C or an error: what was sent finishes and is stored, the rest is not sent
        stop.set()
        for f in futures:
            f.cancel()
        pool.shutdown(wait=True)
