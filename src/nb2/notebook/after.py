"""What runs after a ``%%nb2`` cell's generation: ``--then`` chain steps and ``--judge``.

``--then owner/model key=value ...``: chain steps after a generation.

Each ``--then`` is one step on another Replicate model, fed the previous image; several run in
order. With a prompt in the cell, the prompt is generated first; with a blank cell the steps
start from the session's current image (or ``--parent``), as ``%nb2 then OWNER/MODEL k=v``
does in one line. Values read as JSON where they can
(``4``, ``0.5``, ``true``), else as text.

``--judge [MODEL]``: the images a cell made, judged after it ran (see nb2.Judge).

The judge is MODEL, else ``%config Nb2Magics.judge``, else the offline stand-in for a session
on the offline backend and Gemini's default judge for any other. A Gemini judge asks over the
session's own GeminiBackend when it has one (one key, one rate limit), else over one made from
``GEMINI_API_KEY``. The judge is made before the cell runs, so an unknown model or a missing key
is a named error before anything is paid for.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from ..errors import Nb2Error
from ..judging.judge import Judge
from ..models import judges
from .live import Handle


def steps(specs: list[list[str]] | None) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``[["owner/model", "k=v", ...], ...]`` as ``((model, inputs), ...)``."""
    out = []
    for spec in specs or []:
        model, *pairs = spec
        if "/" not in model or "=" in model:
            raise UsageError(f"--then {' '.join(spec)}: start with the model, owner/name")
        inputs: dict[str, Any] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            if not sep or not key.isidentifier():
                raise UsageError(f"--then {model} {pair}: inputs are key=value")
            inputs[key] = _value(text)
        out.append((model, inputs))
    return tuple(out)


def split(words: list[str]) -> list[list[str]]:
    """``then a k=v then b`` (the line magic's words) as ``[["a", "k=v"], ["b"]]``."""
    out: list[list[str]] = []
    for word in words:
        if word == "then":
            out.append([])
        elif out:
            out[-1].append(word)
    if any(not step for step in out):
        raise UsageError("%nb2 then OWNER/MODEL [KEY=VALUE ...]: a model after each 'then'")
    return out


def _value(text: str) -> Any:
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool)) else text


def run(chain: tuple[tuple[str, dict[str, Any]], ...], base: Any, live: Any) -> Any:
    """Each step on the previous result; ``live(fn)`` runs one with progress and Stop."""
    if base is None:
        raise UsageError(
            "%%nb2 --then: no image to start from; put a prompt in the cell, generate first, "
            "or pass --parent"
        )
    result = base
    for model, inputs in chain:
        result = live(
            lambda cancel, say, r=result, m=model, i=inputs: r.then(
                m, cancel=cancel, on_status=say, **i
            )
        )
    return result


def judge_of(
    name: str | None, configured: str, session: Any, questions: str = "rules"
) -> Judge | None:
    """The judge of a cell (None when the cell did not ask for one). ``questions`` applies to a
    model judge; the offline stand-in asks the rules' questions whatever it says."""
    if name is None:
        return None
    offline = session.backend.name == "offline"
    model = name or configured or ("offline" if offline else judges.DEFAULT)
    own = session.backend if callable(getattr(session.backend, "ask", None)) else None
    if model == "offline":
        return Judge(model)
    return Judge(model, backend=own, questions=questions)


def judged(result: Any, judge: Judge | None, say: Callable[[str], Any] = print) -> Any:
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


def judge_grid(g: Any, judge: Judge, progress: bool, concurrency: int) -> Any:
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
