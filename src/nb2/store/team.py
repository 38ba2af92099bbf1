"""A team's store: the local store in front, an object store (``s3://bucket/prefix``) behind it
as the shared truth.

Everything works on the local folder as before; the bucket only ever sees whole files:

- **Push.** Each file the store writes that others should see (an image, a settled run's
  record, a rating, a duel choice, a judgment, a session's tree, a thumbnail) is noted in
  ``outbox/`` and uploaded by a background thread, images before records, so no one sees a
  record whose image is not there yet. Content-addressed names (images, judgments) are created
  with ``If-None-Match: *`` after a look at whether they are there, so two kernels never clobber
  or upload one twice. A note leaves the outbox only once its upload succeeded: a kill mid-push,
  or a bucket that is unreachable, loses nothing; ``nb2.sync()`` (or the next write) pushes
  what is left. The journal (``pending/``), cache pointers (``keys/``) and the index stay local.
- **Pull.** ``nb2.sync()`` lists the bucket (by prefix, with each object's ETag and
  last-modified time) and downloads only what this store has not seen at that ETag: records,
  judgments, sessions and thumbnails. Images are fetched when first opened, verified against
  their hash; a listing says which exist, so a plan counts a teammate's run as cached without
  downloading it. The SQLite index then takes the new records in as it takes any new file.
- **Sessions** of one name written by two kernels (two people on notebooks of one name) are
  merged when pushed: every turn of both, this kernel's current turn (an If-Match put, read
  and merged again when a teammate wrote in between).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    RemoteCredentialsError,
    RemoteMissingError,
    RemoteStoreError,
    RemoteUnreachableError,
)
from . import sessions
from .bucket import SCHEMES, Bucket, check_url
from .files import _dumps
from .fsbucket import FsBucket

if TYPE_CHECKING:
    from .runs import Store

log = logging.getLogger("nb2")
PULLED = ("runs/", "judgments/", "sessions/", "thumbs/")  # downloaded by a pull
CREATE_ONLY = ("images/", "judgments/ratings/", "judgments/choices/", "judgments/scores/")
WIDTH = 16  # uploads and downloads at once
RETRY_AFTER = 30.0  # seconds the pusher waits after the bucket failed


def local_root(url: str, cache: str | os.PathLike[str] | None = None) -> Path:
    """The local folder in front of ``url``: ``cache``, else ``NB2_STORE_CACHE``, else
    ``$XDG_CACHE_HOME/nb2/stores/<scheme>/<bucket>/<prefix>`` (``~/.cache`` by default)."""
    parts = urllib.parse.urlsplit(check_url(url))  # a bad URL is named before a folder is made
    if cache is not None or os.environ.get("NB2_STORE_CACHE"):
        return Path(cache or os.environ["NB2_STORE_CACHE"]).expanduser().resolve()
    base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    tail = [p for p in (parts.netloc, *parts.path.split("/")) if p not in ("", ".", "..")]
    return (base / "nb2" / "stores" / parts.scheme / Path(*tail or ["_"])).resolve()


@dataclass
class SyncReport:
    """What one ``nb2.sync()`` did."""

    pushed: int = 0
    already: int = 0  # in the bucket already (a teammate's identical image): not uploaded
    pulled: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    left: int = 0  # notes still in the outbox (an error stopped the push)
    behind: int = 0  # pushed by the background pusher since the last sync, as work went on
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    first: RemoteStoreError | None = field(default=None, repr=False)  # raised by nb2.sync

    def __repr__(self) -> str:
        bits = [f"pushed {self.pushed} ({self.bytes_up / 1e6:.1f} MB)",
                f"already there {self.already}",
                f"pulled {self.pulled} ({self.bytes_down / 1e6:.1f} MB)",
                f"{self.seconds:.1f} s"]  # fmt: skip
        if self.behind:
            bits.insert(1, f"{self.behind} more pushed in the background since the last sync")
        if self.left:
            bits.append(f"{self.left} left to push")
        text = "nb2.sync: " + ", ".join(bits)
        return text + "".join(f"\n  error: {e}" for e in self.errors[:5])


class Team:
    """The bucket behind one local store (``store.team``)."""

    def __init__(self, store: Store, url: str) -> None:
        self.store = store
        self.url = check_url(url)
        scheme = urllib.parse.urlsplit(self.url).scheme
        self.bucket = Bucket(self.url) if scheme in SCHEMES else FsBucket(self.url)
        self.outbox = store.root / "outbox"
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._db_lock = threading.Lock()
        self._db = sqlite3.connect(store.root / "team.sqlite", check_same_thread=False,
                                   timeout=30, isolation_level=None)  # fmt: skip
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS seen(key TEXT PRIMARY KEY, etag TEXT)")
        self._images: dict[str, str] = {}  # sha -> remote key, from the last listing
        self._push_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed_at = 0.0
        self._said = False  # this outage was logged: once per outage, not once a retry
        self._behind = 0  # the pusher's uploads since the last sync: a sync reports them
        self._behind_lock = threading.Lock()
        self._down: tuple[float, RemoteStoreError] | None = None  # the last push's, if whole

    def __repr__(self) -> str:
        return f"Team({self.url!r}, local {str(self.store.root)!r})"

    # -- push -------------------------------------------------------------------------------
    def publish(self, path: Path) -> None:
        """Note ``path`` (a file of the local store) for the bucket, and wake the pusher."""
        rel = path.relative_to(self.store.root).as_posix()
        stamp = f"{time.time_ns():020d}-{secrets.token_hex(3)}"
        name = f"{stamp}-{hashlib.sha1(rel.encode()).hexdigest()[:12]}"
        with contextlib.suppress(OSError):  # a full disk: the next sync's sweep finds the file
            (self.outbox / name).write_text(rel)
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._pusher, name="nb2-push", daemon=True)
            self._thread.start()

    def sweep(self) -> int:
        """Note every shared file of this store that the bucket lacks and no note names: a
        store that was a local folder before it had a bucket, a note a full disk refused. One
        listing of the bucket and a walk of the local folders; unsettled runs stay local."""
        there = {e.key for e in self.bucket.listing()}
        noted = set()
        for note in self.outbox.iterdir():
            with contextlib.suppress(OSError):
                noted.add(note.read_text().strip())
        count = 0
        for folder in ("images", *(p.rstrip("/") for p in PULLED)):
            for path in sorted((self.store.root / folder).rglob("*")):
                rel = path.relative_to(self.store.root).as_posix()
                if rel in there or rel in noted or "/." in rel or not path.is_file():
                    continue
                if folder == "runs" and (self.store.root / "pending" / path.stem).exists():
                    continue  # still running: its settled record is published when it settles
                self.publish(path)
                count += 1
        return count

    def pushed_behind(self) -> int:
        """What the background pusher uploaded since this was last asked."""
        with self._behind_lock:
            count, self._behind = self._behind, 0
        return count

    def waiting(self) -> int:
        return sum(1 for _ in self.outbox.iterdir())

    def _pusher(self) -> None:
        while True:
            self._wake.wait(timeout=RETRY_AFTER)
            self._wake.clear()
            if time.monotonic() - self._failed_at < RETRY_AFTER:
                continue  # the bucket failed lately: offline work goes on, it waits its turn
            with contextlib.suppress(Exception):  # never a kernel's problem: it is logged
                report = self.push()
                with self._behind_lock:
                    self._behind += report.pushed
                self._failed_at = time.monotonic() if report.errors else 0.0
                if report.errors and not self._said:
                    log.warning("nb2: %s; %d left in the outbox, pushed by nb2.sync() or the "
                                "next write", report.errors[0], report.left)  # fmt: skip
                self._said = bool(report.errors)

    def push(self, on_progress: Callable[[str, int, int], Any] | None = None) -> SyncReport:
        """Upload what the outbox notes: other files first, then records (one pusher at a
        time per process; a second kernel on the same local folder would only repeat puts)."""
        report = SyncReport()
        asked = time.monotonic()
        with self._push_lock:
            if self._down is not None and self._down[0] >= asked:
                # the bucket failed whole while this call waited its turn: the same answer
                # now, not a second wait as long (a silent server costs one timeout, not two)
                report.first, report.left = self._down[1], self.waiting()
                report.errors.append(str(self._down[1]))
                return report
            notes = sorted(self.outbox.iterdir())
            todo: dict[str, list[Path]] = {}
            for note in notes:
                with contextlib.suppress(OSError):
                    todo.setdefault(note.read_text().strip(), []).append(note)
            phases = [[k for k in todo if not k.startswith("runs/")],
                      [k for k in todo if k.startswith("runs/")]]  # fmt: skip
            done = [0]
            total = len(todo)
            for keys in phases:
                with ThreadPoolExecutor(WIDTH, thread_name_prefix="nb2-push") as pool:
                    for rel, outcome in zip(keys, pool.map(self._push_one, keys), strict=True):
                        done[0] += 1
                        if isinstance(outcome, RemoteStoreError):
                            report.errors.append(str(outcome))
                            report.first = report.first or outcome
                            continue
                        sent, size = outcome
                        report.pushed += sent
                        report.already += not sent
                        report.bytes_up += size
                        for note in todo[rel]:
                            with contextlib.suppress(FileNotFoundError):
                                note.unlink()
                        if on_progress is not None:
                            on_progress("push", done[0], total)
                if report.errors:
                    break  # records wait for their images
            report.left = self.waiting()
            whole = (RemoteUnreachableError, RemoteMissingError, RemoteCredentialsError)
            failed = report.first if isinstance(report.first, whole) else None
            self._down = (time.monotonic(), failed) if failed is not None else None
        return report

    def _push_one(self, rel: str) -> tuple[bool, int] | RemoteStoreError:
        path = self.store.root / rel
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return False, 0  # gone locally (a thumbnail made again later): nothing to send
        create = rel.startswith(CREATE_ONLY)
        if rel.startswith("sessions/"):
            return self._push_session(rel, path, data)
        try:
            if create and self._seen(rel) is not None:
                return False, 0
            if rel.startswith("images/") and self.bucket.exists(rel):
                self._mark(rel, "")
                return False, 0  # a teammate made the same image: its bytes are not sent again
            etag = self.bucket.put(rel, data, create=create)
        except RemoteStoreError as exc:
            return exc
        self._mark(rel, etag or "")
        return etag is not None, len(data) if etag is not None else 0

    def _push_session(self, rel: str, path: Path, data: bytes) -> tuple[bool, int] | Exception:
        """A session's tree, merged with a teammate's same-named one written since (If-Match:
        a write between our read and our put makes us read and merge again)."""
        try:
            for _ in range(5):
                got = self.bucket.get_tagged(rel)
                if got is None:
                    etag = self.bucket.put(rel, data, create=True)
                else:
                    remote, tag = got
                    both = sessions.merged(json.loads(data), json.loads(remote))
                    data = _dumps(both)
                    if json.loads(remote) == both:  # nothing new of ours: only remember it
                        self._mark(rel, tag)
                        return False, 0
                    etag = self.bucket.put(rel, data, if_match=tag)
                if etag is not None:
                    if got is not None:  # this kernel's next session sees the teammate's turns
                        self.store.write(path, data)
                    self._mark(rel, etag)
                    return True, len(data)
        except RemoteStoreError as exc:
            return exc
        except ValueError:  # an unreadable tree (either side): this kernel's goes up as it is
            etag = self.bucket.put(rel, data)
            self._mark(rel, etag or "")
            return True, len(data)
        return RemoteStoreError(f"store: {rel} kept changing under five tries; left to push")

    # -- pull -------------------------------------------------------------------------------
    def pull(self, on_progress: Callable[[str, int, int], Any] | None = None) -> SyncReport:
        """Download what the bucket holds that this store has not seen at its ETag."""
        report = SyncReport()
        waiting = set()
        for note in self.outbox.iterdir():
            with contextlib.suppress(OSError):
                waiting.add(note.read_text().strip())
        images: dict[str, str] = {}
        todo = []
        for entry in self.bucket.listing():
            key = entry.key
            if key.startswith("images/"):
                images[key.rsplit("/", 1)[-1].split(".", 1)[0]] = key
                continue
            if not key.startswith(PULLED) or key in waiting or "/." in key:
                continue
            if self._seen(key) != entry.etag:
                todo.append((key, entry.etag))
        self._images = images
        with ThreadPoolExecutor(WIDTH, thread_name_prefix="nb2-pull") as pool:
            for i, got in enumerate(pool.map(self._pull_one, todo), 1):
                if isinstance(got, RemoteStoreError):
                    report.errors.append(str(got))
                    report.first = report.first or got
                    continue
                report.pulled += got > 0
                report.bytes_down += got
                if on_progress is not None:
                    on_progress("pull", i, len(todo))
        return report

    def _pull_one(self, item: tuple[str, str]) -> int | RemoteStoreError:
        key, etag = item
        try:
            data = self.bucket.get(key)
        except RemoteStoreError as exc:
            return exc
        if data is None:
            return 0
        path = self.store.root / key
        self.store.write(path, data)
        self._mark(key, etag)
        if key.startswith("runs/"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(data)
                if record.get("status") == "succeeded" and record.get("cache_key"):
                    self.store.adopt(record)  # a teammate's run answers too
        return len(data)

    # -- images, when first opened ----------------------------------------------------------
    def knows(self, sha: str) -> bool:
        return sha in self._images

    def fetch_image(self, sha: str, ext: str | None) -> Path | None:
        """Download the image ``sha`` into the local store (verified by its name); None if the
        bucket has none. A bucket that cannot be reached is a named error."""
        keys = [f"images/{sha[:2]}/{sha}.{ext.lstrip('.')}"] if ext else []
        if sha in self._images and self._images[sha] not in keys:
            keys.append(self._images[sha])
        for key in keys:
            data = self.bucket.get(key)
            if data is not None and hashlib.sha256(data).hexdigest() == sha:
                path = self.store.root / key
                self.store.write(path, data)
                self._mark(key, "")
                return path
        return None

    # -- what this store has seen of the bucket ---------------------------------------------
    def _seen(self, key: str) -> str | None:
        with self._db_lock:
            row = self._db.execute("SELECT etag FROM seen WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _mark(self, key: str, etag: str) -> None:
        with self._db_lock:
            self._db.execute("INSERT OR REPLACE INTO seen VALUES (?, ?)", (key, etag))
