"""The run index: SQLite (WAL, FTS5 over prompts) beside the JSON records, which stay the truth.

``index.sqlite`` in the store's root holds one row per record file with the fields people
filter and sort on, plus each file's size and mtime. Before every query the index compares
itself with ``runs/``: the folder's mtime first (one stat: nothing changed, nothing to do),
then, if it moved, each file's (mtime, size), re-reading only new and changed records. A
missing, damaged or older-format index is rebuilt from the records; a record that cannot be
read is skipped with one warning (and tried again when its file changes). Several kernels may
share a store: SQLite's WAL lets them read at once, and updates are whole transactions.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from .files import StoreWarning
from .filters import Query, where
from .runs import Store

SCHEMA = 1
NAME = "index.sqlite"
RACY_NS = 2_000_000_000  # a folder changed this recently may change again within its mtime tick
COLUMNS = (
    "run_id", "at", "status", "kind", "model", "resolution", "aspect_ratio", "output_format",
    "google_search", "image_search", "session", "cost", "prompt", "offline", "parent",
    "sha256", "ext", "width", "height", "bytes",
)  # fmt: skip
_DDL = f"""
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(name TEXT PRIMARY KEY, mtime_ns INTEGER, size INTEGER);
CREATE TABLE IF NOT EXISTS runs(rid INTEGER PRIMARY KEY, {", ".join(COLUMNS)}, record TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS runs_id ON runs(run_id);
CREATE INDEX IF NOT EXISTS runs_at ON runs(at);
CREATE INDEX IF NOT EXISTS runs_cost ON runs(cost);
CREATE VIRTUAL TABLE IF NOT EXISTS runs_fts USING fts5(prompt, tokenize='unicode61');
"""
_OPEN: dict[Path, Index] = {}
_OPEN_LOCK = threading.Lock()


class Index:
    """The SQLite index of one store. ``Index.of(store)`` shares one per store and process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.path = store.root / NAME
        self._lock = threading.RLock()
        self._conn = self._connect()

    @classmethod
    def of(cls, store: Store) -> Index:
        with _OPEN_LOCK:
            index = _OPEN.get(store.root)
            if index is None:
                index = _OPEN[store.root] = cls(store)
            else:
                index.store = store
            return index

    # -- opening, and rebuilding what cannot be trusted -------------------------------------
    def _connect(self) -> sqlite3.Connection:
        for attempt in (1, 2):
            try:
                conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
                    _reset(conn)
                conn.executescript(_DDL)
                conn.execute(f"PRAGMA user_version={SCHEMA}")
                conn.commit()
                return conn
            except sqlite3.OperationalError:
                if os.access(self.store.root, os.W_OK):
                    raise
                conn = sqlite3.connect(":memory:", check_same_thread=False)  # a read-only store
                conn.executescript(_DDL)
                return conn
            except sqlite3.DatabaseError as exc:  # damaged: start again from the records
                if attempt == 2:
                    raise
                warnings.warn(f"nb2 index: {self.path} is damaged ({exc})", StoreWarning, 2)
                for suffix in ("", "-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f"{self.path}{suffix}")
        raise AssertionError("unreachable")

    def rebuild(self) -> int:
        """Forget everything and index every record again; returns the rows indexed."""
        with self._lock:
            _reset(self._conn)
            self._conn.executescript(_DDL)
            self._conn.commit()
            self.refresh()
            return int(self._conn.execute("SELECT count(*) FROM runs").fetchone()[0])

    # -- keeping up with the records --------------------------------------------------------
    def refresh(self) -> None:
        """Bring the index up to date with ``runs/`` (cheap when nothing changed)."""
        folder = self.store.root / "runs"
        st = folder.stat()
        stamp = f"{st.st_mtime_ns}:{st.st_ino}"
        with self._lock:
            if self._meta("runs") == stamp:
                return
            seen = {}
            with os.scandir(folder) as entries:
                for e in entries:
                    if e.name.endswith(".json") and not e.name.startswith("."):
                        s = e.stat()
                        seen[e.name] = (s.st_mtime_ns, s.st_size)
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")  # one writer at a time, across kernels
            try:
                known = {n: (m, z) for n, m, z in conn.execute("SELECT * FROM files")}
                for name in known.keys() - seen.keys():
                    self._forget(name)
                for name, sig in seen.items():
                    if known.get(name) != sig:
                        self._index(folder / name, name, sig)
                racy = time.time_ns() - st.st_mtime_ns < RACY_NS
                self._set_meta("runs", "" if racy else stamp)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

    def _index(self, path: Path, name: str, sig: tuple[int, int]) -> None:
        conn = self._conn
        self._forget(name)
        conn.execute("INSERT INTO files VALUES (?, ?, ?)", (name, *sig))
        try:
            record = json.loads(path.read_bytes())
            row = _row(record)
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError) as exc:
            warnings.warn(
                f"nb2 index: {path} is not a readable record ({type(exc).__name__}); skipped",
                StoreWarning,
                stacklevel=4,
            )
            return
        if row["run_id"] != name[: -len(".json")]:
            warnings.warn(f"nb2 index: {path} names another run; skipped", StoreWarning, 4)
            return
        cur = conn.execute(
            f"INSERT INTO runs({', '.join(COLUMNS)}, record) "
            f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
            [*(row[c] for c in COLUMNS), json.dumps(record, default=str)],
        )
        fts = "INSERT INTO runs_fts(rowid, prompt) VALUES (?, ?)"
        conn.execute(fts, (cur.lastrowid, row["prompt"]))

    def _forget(self, name: str) -> None:
        conn = self._conn
        run_id = name[: -len(".json")]
        for (rid,) in conn.execute("SELECT rid FROM runs WHERE run_id = ?", (run_id,)).fetchall():
            conn.execute("DELETE FROM runs_fts WHERE rowid = ?", (rid,))
            conn.execute("DELETE FROM runs WHERE rid = ?", (rid,))
        conn.execute("DELETE FROM files WHERE name = ?", (name,))

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- asking ----------------------------------------------------------------------------
    def search(self, query: Query, *, with_record: bool = True) -> list[dict[str, Any]]:
        """The rows matching ``query`` (its filters, sort, limit and offset), as dicts; with
        ``with_record`` each carries its full record under ``record``."""
        self.refresh()
        sql, args = where(query)
        cols = ", ".join(f"r.{c}" for c in COLUMNS) + (", r.record" if with_record else "")
        order = {"time": "r.at DESC", "cost": "r.cost DESC, r.at DESC", "oldest": "r.at ASC",
                 "cheapest": "r.cost ASC, r.at DESC"}[query.sort]  # fmt: skip
        page = ""
        if query.limit is not None:
            page = f" LIMIT {int(query.limit)} OFFSET {int(query.offset)}"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {cols} FROM runs r{sql} ORDER BY {order}{page}", args
            ).fetchall()
        names = [*COLUMNS, "record"] if with_record else list(COLUMNS)
        out = [dict(zip(names, row, strict=True)) for row in rows]
        for d in out:
            if with_record:
                d["record"] = json.loads(d["record"])
        return out

    def count(self, query: Query) -> int:
        self.refresh()
        sql, args = where(query)
        with self._lock:
            return int(self._conn.execute(f"SELECT count(*) FROM runs r{sql}", args).fetchone()[0])

    def sql(self, statement: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A read-only query over ``runs`` (for summaries such as spend by month)."""
        self.refresh()
        with self._lock:
            return self._conn.execute(statement, args).fetchall()

    def close(self) -> None:
        with _OPEN_LOCK, self._lock:
            _OPEN.pop(self.store.root, None)
            self._conn.close()


def _reset(conn: sqlite3.Connection) -> None:
    for table in ("runs_fts", "runs", "files", "meta"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def _row(record: dict[str, Any]) -> dict[str, Any]:
    """The indexed fields of a record (TypeError/KeyError: not a record nb2 can index)."""
    if not isinstance(record, dict) or not isinstance(record["run_id"], str):
        raise TypeError("not a record")
    p = record.get("params")
    p = p if isinstance(p, dict) else {}
    out = record.get("output") if isinstance(record.get("output"), dict) else {}
    backend = record.get("backend") if isinstance(record.get("backend"), dict) else {}
    cost = record.get("cost")  # exact (the Gemini API's tokens), else the estimate
    cost = record.get("estimated_cost") if cost is None else cost
    return {
        "run_id": record["run_id"],
        "at": str(record.get("requested_at") or record.get("completed_at") or ""),
        "status": str(record.get("status") or ""),
        "kind": str(record.get("kind") or "generate"),
        "model": str(record.get("model") or p.get("model") or ""),
        "resolution": p.get("resolution"),
        "aspect_ratio": p.get("aspect_ratio"),
        "output_format": p.get("output_format"),
        "google_search": int(bool(p.get("google_search"))),
        "image_search": int(bool(p.get("image_search"))),
        "session": record.get("session"),
        "cost": float(cost) if isinstance(cost, (int, float)) else 0.0,
        "prompt": str(p.get("prompt") or ""),
        "offline": int(bool(backend.get("offline"))),
        "parent": record.get("parent"),
        "sha256": out.get("sha256"),
        "ext": out.get("format"),
        "width": out.get("width"),
        "height": out.get("height"),
        "bytes": out.get("bytes"),
    }
