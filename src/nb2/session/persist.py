"""A session's tree saved by name in the store, and read back by a later kernel.

``save`` writes what a session is (turn order, parents, kinds, the current turn, the
references with their roles, the panel's selection) after every change to it; ``restore``
rebuilds the turns from the stored runs. Runs are read lazily where they can be: a 200-turn
session costs 200 small JSON reads, not 200 image loads.
"""

from __future__ import annotations

import logging
import warnings
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..errors import Nb2Error
from ..request.references import Reference, as_reference
from ..store import StoreWarning
from ..store.sessions import read_session, write_session
from .history import Turn
from .result import Result

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("nb2")


class Saver:
    """Writes one session's file; remembers each reference's stored hash (hashed once)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._refs: dict[int, tuple[Any, dict[str, Any] | None]] = {}  # id -> (item, entry)
        self.failed = False

    def save(self, order: list[Turn], current: Turn | None) -> None:
        s = self.session
        data = {
            "updated_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "current": current.result.id if current else None,
            "selected": s.panel_selected,
            "turns": [
                {
                    "run": t.result.id,
                    "kind": t.kind,
                    "parent": t.parent.result.id if t.parent else None,
                }
                for t in order
            ],
            "references": self._references(),
        }
        try:
            write_session(s.store, s.name, data)
            self.failed = False
        except OSError as exc:  # a read-only store still generates; the tree is not kept
            if not self.failed:
                log.warning("nb2: session %r could not be saved (%s)", s.name, exc)
            self.failed = True

    def _references(self) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(self.session.references):
            seen = self._refs.get(id(item))
            if seen is not None and seen[0] is item:
                if seen[1] is not None:
                    out.append(seen[1])
                continue
            try:
                ref = as_reference(item, i)
                sha, _ = self.session.store.put_image(ref.data, ref.load().ext)
            except (Nb2Error, OSError) as exc:  # kept in memory all the same; said once
                log.warning("nb2: reference %d of %r is not saved (%s)", i, self.session.name, exc)
                self._refs[id(item)] = (item, None)
                continue
            entry = {"sha256": sha, "ext": ref.load().ext, "role": ref.role, "name": ref.name}
            self._refs[id(item)] = (item, entry)
            out.append(entry)
        return out


def restore(
    session: Session,
) -> tuple[dict[str, Turn], list[Turn], Turn | None, list[Reference] | None] | None:
    """The saved tree of ``session.name`` (turns by run id, the order, the current turn, the
    references), or None when none was saved. A run that is gone is skipped with a warning;
    its children hang from its nearest surviving ancestor."""
    data = read_session(session.store, session.name)
    if data is None:
        return None
    store = session.store
    turns: dict[str, Turn] = {}
    order: list[Turn] = []
    lost: list[str] = []
    up_of: dict[str, str | None] = {}
    for entry in data["turns"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("run"), str):
            continue
        run_id, parent_id = entry["run"], entry.get("parent")
        up_of[run_id] = parent_id if isinstance(parent_id, str) else None
        record = store.get(run_id)
        if record is None or record.get("status") != "succeeded" or run_id in turns:
            lost.append(run_id)
            continue
        while parent_id is not None and parent_id not in turns:  # its nearest ancestor kept
            parent_id = up_of.get(parent_id)
        up = turns.get(parent_id) if parent_id else None
        number = len(order) + 1
        result = Result(record, store, session=session, number=number, cached=True)
        turn = Turn(number, result, str(entry.get("kind") or "generate"), parent=up)
        if up is not None:
            up.children.append(turn)
        turns[run_id] = turn
        order.append(turn)
    if lost:
        warnings.warn(
            f"nb2: session {session.name!r}: {len(lost)} saved turn(s) are no longer in the "
            f"store at {store.root} and are left out (first: {lost[0]})",
            StoreWarning,
            stacklevel=4,
        )
    current = turns.get(data.get("current") or "")
    selected = data.get("selected")
    session.panel_selected = selected if isinstance(selected, str) and selected in turns else None
    refs = _references(session, data.get("references"))
    return turns, order, current, refs


def _references(session: Session, saved: Any) -> list[Reference] | None:
    if not isinstance(saved, list):
        return None
    out = []
    for entry in saved:
        if not isinstance(entry, dict):
            continue
        path = session.store.image_path(str(entry.get("sha256")), entry.get("ext"))
        if path is None:
            log.warning("nb2: a reference of session %r is gone from the store", session.name)
            continue
        out.append(Reference(path, role=entry.get("role")))
    return out
