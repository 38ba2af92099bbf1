"""Session trees on disk: ``sessions/<name>.json``, one small file per named session.

The file lists the session's turns by run id (the runs themselves stay in ``runs/``), its
current turn, its references (by image hash, with their roles) and what the panel had selected,
so ``nb2.Session(name=...)`` in a new kernel picks the tree up where it was left. Written whole
and atomically, like every file of the store: the last writer wins, a reader never sees half.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from .files import _atomic_write, _dumps, _read_json, _umask
from .runs import Store

FOLDER = "sessions"
FORMAT = 1


def path_of(store: Store, name: str) -> Path:
    """The file of session ``name``: the name percent-quoted, so no name leaves the folder."""
    quoted = urllib.parse.quote(name, safe="") or "%00"
    if quoted.startswith("."):
        quoted = "%2E" + quoted[1:]
    return store.root / FOLDER / f"{quoted}.json"


def read_session(store: Store, name: str) -> dict[str, Any] | None:
    """The saved tree of ``name``, or None (never saved, or unreadable: warned and ignored)."""
    data = _read_json(path_of(store, name))
    if data is None or data.get("name") != name or not isinstance(data.get("turns"), list):
        return None
    return data


def write_session(store: Store, name: str, data: dict[str, Any]) -> Path:
    path = path_of(store, name)
    _atomic_write(path, _dumps({"format": FORMAT, "name": name, **data}), 0o666 & ~_umask())
    store.publish(path)
    return path


def session_names(store: Store) -> list[str]:
    """The names of the sessions saved in ``store``, sorted."""
    folder = store.root / FOLDER
    if not folder.is_dir():
        return []
    return sorted(urllib.parse.unquote(p.name[: -len(".json")]) for p in folder.glob("*.json"))


def merged(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """Two kernels' trees of one session name as one: every turn of both (by run id, in time
    order: run ids sort by time), and this kernel's current turn, references and selection.
    What a team's store pushes when a teammate wrote the same session since."""
    turns = {t.get("run"): t for t in remote.get("turns") or [] if isinstance(t, dict)}
    turns.update({t.get("run"): t for t in local.get("turns") or [] if isinstance(t, dict)})
    ordered = [turns[k] for k in sorted(k for k in turns if isinstance(k, str))]
    return {**remote, **local, "turns": ordered}
