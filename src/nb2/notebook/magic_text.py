"""The text of ``%nb2 sessions`` and ``%nb2 config`` (which backend, whether each key is
present, never its value), for the magics in magic.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..backends import chosen_backend

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

    root = Path(magics.store) if magics.store else Store.default_root()
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
