"""The ``%nb2`` line magic's helpers: ``find``'s arguments, and the text of ``sessions`` and
``config`` (which backend, whether each key is present, never its value).

``%nb2 find WORDS --model M --since 7d ...``: the line parsed into nb2.find's arguments.
"""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from ..backends import chosen_backend

_FLAGS = ("search", "image_search", "grid", "offline")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="%nb2 find", add_help=False, exit_on_error=False)
    ap.add_argument("words", nargs="*")
    for name in ("model", "resolution", "aspect", "format", "status", "session", "kind",
                 "since", "until", "sort"):  # fmt: skip
        ap.add_argument(f"--{name}")
    for name in _FLAGS:
        flag = name.replace("_", "-")
        ap.add_argument(f"--{flag}", dest=name, action="store_true", default=None)
        ap.add_argument(f"--no-{flag}", dest=name, action="store_false")
    ap.add_argument("--min-cost", type=float)
    ap.add_argument("--max-cost", type=float)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--min-rating", type=int)
    ap.add_argument("--any-status", action="store_true")
    return ap


def parse(line: str) -> tuple[str | None, dict[str, Any]]:
    """(text, filters) for ``nb2.find``; a bad line is a UsageError naming the option."""
    try:
        ns = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise UsageError(f"%nb2 find {line}: {exc}") from None
    except SystemExit:  # argparse still exits on an unknown option
        raise UsageError(f"%nb2 find {line}: unknown option; see %nb2?") from None
    filters = {k: v for k, v in vars(ns).items() if v is not None and k not in ("words",)}
    if filters.pop("any_status", False):
        filters["status"] = None
    return (" ".join(ns.words) or None), filters


# the request defaults %config sets, as the engine names them (one place)
DEFAULTS = (
    ("model", "model"),
    ("resolution", "resolution"),
    ("aspect", "aspect_ratio"),
    ("format", "output_format"),
    ("search", "google_search"),
)


def sessions_text(magics: Any) -> str:
    """This kernel's sessions and those saved in the store (``--session NAME`` resumes)."""
    from ..store import Store
    from ..store.sessions import read_session, session_names

    spec = magics.store
    root = (
        Store(spec).root if spec and "://" in spec else Path(spec) if spec else Store.default_root()
    )
    store = Store(root) if Store.is_store(root) else None  # listing makes no store
    saved = set(session_names(store)) if store else set()
    names = sorted(set(magics.sessions) | {magics.active} | saved)

    def turns(name: str) -> int:
        if name in magics.sessions:
            return len(magics.sessions[name].history)
        return len((read_session(store, name) or {}).get("turns", [])) if store else 0

    star = {n: "*" if n == magics.active else " " for n in names}
    return "\n".join(f"{star[n]} {n}: {turns(n)} turns" for n in names)


def config_text(magics: Any) -> str:
    s = magics.sessions.get(magics.active)
    token = "yes" if os.environ.get("REPLICATE_API_TOKEN") else "no"
    key = "yes" if any(os.environ.get(v) for v in ("GEMINI_API_KEY", "GOOGLE_API_KEY")) else "no"
    backend = s.backend.name if s else chosen_backend(magics.backend or None)
    lines = [
        f"session: {magics.active}",
        f"backend: {backend} (by --backend, Nb2Magics.backend, NB2_BACKEND, else the keys: "
        "Replicate's, then Gemini's)",
        f"token present: {token}",
        f"gemini key present: {key}",
        f"store: {magics.store or os.environ.get('NB2_STORE') or 'nb2-runs'}",
        f"cache: {magics.cache or os.environ.get('NB2_CACHE') or 'auto'}",
    ]
    names = [trait for trait, _ in DEFAULTS] + ["concurrency", "confirm_cells", "budget"]
    lines += [f"{name}: {_shown(name, getattr(magics, name))}" for name in names]
    return "\n".join(lines)


def _shown(name: str, value: Any) -> str:
    if name == "budget" and not value:
        return "none (no cap)"
    return str(value) if value != "" else "(the model's own default)"
