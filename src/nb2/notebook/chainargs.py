"""``%%nb2 --then owner/model key=value ...``: chain steps after a generation.

Each ``--then`` is one step on another Replicate model, fed the previous image; several run in
order. With a prompt in the cell, the prompt is generated first; with a blank cell the steps
start from the session's current image (or ``--parent``), as ``%nb2 then OWNER/MODEL k=v``
does in one line. Values read as JSON where they can
(``4``, ``0.5``, ``true``), else as text.
"""

from __future__ import annotations

import json
from typing import Any

from IPython.core.error import UsageError


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
