"""``%%nb2 --judge [MODEL]``: the images a cell made, judged after it ran (see nb2.Judge).

The judge is MODEL, else ``%config Nb2Magics.judge``, else the offline stand-in for a session
on the offline backend and Gemini's default judge for any other. A Gemini judge asks over the
session's own GeminiBackend when it has one (one key, one rate limit), else over one made from
``GEMINI_API_KEY``. The judge is made before the cell runs, so an unknown model or a missing key
is a named error before anything is paid for.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ..errors import Nb2Error
from ..judging.judge import Judge
from ..models import judges
from .live import Handle


def choose(name: str | None, configured: str, session: Any) -> Judge | None:
    """The judge of a cell (None when the cell did not ask for one)."""
    if name is None:
        return None
    offline = session.backend.name == "offline"
    model = name or configured or ("offline" if offline else judges.DEFAULT)
    own = session.backend if callable(getattr(session.backend, "ask", None)) else None
    return Judge(model, backend=None if model == "offline" else own)


def one(result: Any, judge: Judge | None, say: Callable[[str], Any] = print) -> Any:
    """Judge one result before its card shows, so the card carries the score and the failed
    questions. A judge that fails (a refusal, a malformed answer) is a warning: the image is
    stored and paid for, and it still shows."""
    if judge is not None:
        say(f"judging ({judge.model})")
        try:
            result.judge(judge)
        except Nb2Error as exc:
            warnings.warn(f"%%nb2 --judge: {exc}", UserWarning, stacklevel=2)
    return result


def grid(g: Any, judge: Judge, progress: bool, concurrency: int) -> Any:
    """Judge a grid's images (live status while it asks); the report is the cell's value."""
    handle = Handle(progress, f"judging: 0 of {len(g.cells)} images")
    seen = [0]

    def say(done: int, total: int) -> None:
        seen[0] = done
        handle.say(f"judging: {done} of {total} images ({judge.model})")

    try:
        report = g.judge(judge, on_progress=say, max_concurrency=concurrency)
    except BaseException:  # a Ctrl-C or an error: what was answered is stored, and says so
        handle.say(f"judging stopped after {seen[0]} images; those judgments are stored")
        raise
    handle.clear()
    return report
