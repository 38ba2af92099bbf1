"""The run store: content-addressed images and one JSON record per run, on disk.

Layout under the root folder::

    images/ab/<sha256>.<ext>   every output and reference image, named by its content
    runs/<run id>.json          one record per run (succeeded, failed, blocked or canceled)
    keys/ab/<cache key>.json    the run that answers a request, for cache look-ups
    pending/<run id>            runs that may have spent money and are not settled yet: their
                                prediction id is in the record; the running process holds a
                                lock on this file, so nb2.recover() leaves live runs alone
    sessions/<name>.json        each named session's tree (sessions.py)
    index.sqlite, thumbs/       the run index and kept thumbnails (index.py, thumbs.py): both
                                made again from the above when missing

Every write goes to a temporary file in the same folder and is renamed into place, so a reader
(another kernel, a crash) sees a whole file or none. Images are verified against their name
before they are trusted: a file whose hash does not match is skipped with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import scrub
from .files import StoreWarning, _atomic_write, _dumps, _read_json, _sha256_file, _umask

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; recover() then trusts run ages
    fcntl = None  # type: ignore[assignment]

DEFAULT_ROOT = "nb2-runs"
UNSETTLED = ("running", "pending")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SHA = re.compile(r"[0-9a-f]{64}")
CACHE_MODES = ("auto", "replay", "off")


class Store:
    """A folder of runs. Safe to share between threads and between kernels."""

    def __init__(
        self, root: str | os.PathLike[str] | None = None, *, cache: str | None = None
    ) -> None:
        """``root``: a folder, or an object store's URL (``s3://bucket/prefix``, a team's
        store: ``cache`` or NB2_STORE_CACHE is the local folder in front; see team.py)."""
        url = root if root is not None else os.environ.get("NB2_STORE")
        url = url if isinstance(url, str) and "://" in url else None
        self.root = Path(root).expanduser().resolve() if root is not None else self.default_root()
        if url is not None:  # here: the team's store (and obstore) load only for a URL
            from .team import local_root

            self.root = local_root(url, cache)
        self._mode = 0o666 & ~_umask()  # mkstemp makes 0600; a shared store needs the umask
        for sub in ("images", "runs", "keys", "pending"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._verified: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) seen good
        self._lock = threading.Lock()
        self.team: Any = None
        if url is not None:
            from .team import Team

            self.team = Team(self, url)

    def __repr__(self) -> str:
        if self.team is not None:
            return f"Store({self.team.url!r}, cache={str(self.root)!r})"
        return f"Store({str(self.root)!r})"

    def write(self, path: Path, data: bytes) -> None:
        """Write a file of this store whole (a pulled one), with the store's mode."""
        _atomic_write(path, data, self._mode)

    def adopt(self, record: dict[str, Any]) -> None:
        """A teammate's succeeded run answers its request here too, unless one does already."""
        self._point(record, unless_set=True)

    def publish(self, path: Path) -> None:
        """Note a file others should see for a team's bucket (nothing for a plain folder)."""
        if self.team is not None:
            self.team.publish(path)

    # -- where stores are (without making one) ----------------------------------------------
    @staticmethod
    def default_root(env: bool = True) -> Path:
        """``NB2_STORE`` (one store for every notebook of a project, or a test run), else
        ``./nb2-runs``; ``env=False``: ``./nb2-runs`` alone."""
        root = (os.environ.get("NB2_STORE") if env else None) or DEFAULT_ROOT
        if "://" in root:  # a team's bucket: the local folder in front of it
            from .team import local_root

            return local_root(root)
        return Path(root).expanduser().resolve()

    @staticmethod
    def is_store(root: str | os.PathLike[str]) -> bool:
        root = Path(root)
        return (root / "images").is_dir() and (root / "runs").is_dir()

    @staticmethod
    def root_of(image: str | os.PathLike[str]) -> Path:
        """The store an image file would sit in (``<root>/images/ab/<sha>.<ext>``)."""
        return Path(image).resolve().parent.parent.parent

    # -- images -----------------------------------------------------------------------------
    def put_image(self, data: bytes, ext: str) -> tuple[str, Path]:
        """Store image bytes under their hash; returns (sha256, path). Idempotent."""
        sha = hashlib.sha256(data).hexdigest()
        path = self._image_path(sha, ext)
        if not (path.exists() and self._is_good(path, sha)):
            _atomic_write(path, data, self._mode)
            self._remember(path)
            self.publish(path)
        return sha, path

    def image_path(self, sha: str, ext: str | None = None) -> Path | None:
        """The verified file for a hash, or None (missing or corrupted).

        With ``ext`` (a record knows it) this is one stat, not a folder listing.
        """
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            return None  # not a hash: never a path built from it
        folder = self.root / "images" / sha[:2]
        if ext is not None:
            candidates = [self._image_path(sha, ext)]
        else:
            candidates = sorted(folder.glob(f"{sha}.*")) if folder.is_dir() else []
        for path in candidates:
            if self._is_good(path, sha):
                return path
        return self.team.fetch_image(sha, ext) if self.team is not None else None

    def read_image(self, sha: str) -> bytes:
        path = self.image_path(sha)
        if path is None:
            raise FileNotFoundError(f"image {sha[:12]} is not in the store at {self.root}")
        return path.read_bytes()

    def _image_path(self, sha: str, ext: str) -> Path:
        return self.root / "images" / sha[:2] / f"{sha}.{ext.lstrip('.')}"

    def _is_good(self, path: Path, sha: str) -> bool:
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        if self._verified.get(path) == (st.st_size, st.st_mtime_ns):
            return True
        if _sha256_file(path) != sha:
            warnings.warn(
                f"nb2 store: {path} does not match its hash; it is ignored (the run will be "
                "made again if needed)",
                StoreWarning,
                stacklevel=3,
            )
            return False
        self._remember(path)
        return True

    def _remember(self, path: Path) -> None:
        st = path.stat()
        with self._lock:
            self._verified[path] = (st.st_size, st.st_mtime_ns)

    # -- records ----------------------------------------------------------------------------
    def save(self, record: dict[str, Any]) -> Path:
        """Write a run's record; a succeeded run also becomes the answer for its cache key.

        A run whose status is ``running`` or ``pending`` is listed under ``pending/`` until a
        later save settles it."""
        path = self.root / "runs" / f"{record['run_id']}.json"
        # no key reaches the disk, whatever an answer or an error echoed
        _atomic_write(path, scrub(_dumps(record).decode()).encode(), self._mode)
        marker = self.root / "pending" / str(record["run_id"])
        if record.get("status") in UNSETTLED:
            if not marker.exists():
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.touch()
            return path
        if record.get("status") == "succeeded" and record.get("cache_key"):
            self._point(record)
        elif record.get("status") == "lost" and record.get("cache_key"):
            self._note_lost(record)
        # last: until the pointer is written, the marker makes unsettled() look at the run
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()
        self.publish(path)  # a settled run, for the team (the journal stays local)
        return path

    def _point(self, record: dict[str, Any], *, unless_set: bool = False) -> None:
        """Make a succeeded run the cache's answer for its key (at its endpoint)."""
        key, endpoint = record["cache_key"], self.endpoint_of(record.get("backend"))
        with self._lock:  # one writer per key in this process; whole files between kernels
            old = _read_json(self._key_path(key)) or {}
            by = old.get("endpoints") if isinstance(old.get("endpoints"), dict) else {}
            if unless_set and endpoint in by:
                return
            by = {**by, endpoint: record["run_id"]}
            pointer = {**old, "run_id": record["run_id"], "endpoints": by}
            _atomic_write(self._key_path(key), _dumps(pointer), self._mode)

    def _note_lost(self, record: dict[str, Any]) -> None:
        """Remember, by key, a run that may have been paid for and left no image: a request
        sent again later says that it pays again (see :meth:`lost`)."""
        key = record["cache_key"]
        with self._lock:
            old = _read_json(self._key_path(key)) or {}
            lost = old.get("lost") if isinstance(old.get("lost"), list) else []
            if record["run_id"] not in lost:
                pointer = {**old, "lost": [*lost, record["run_id"]]}
                _atomic_write(self._key_path(key), _dumps(pointer), self._mode)

    def lost(self, cache_key: str) -> list[str]:
        """Run ids of earlier runs of this request that were lost (maybe billed, no image)."""
        pointer = _read_json(self._key_path(cache_key)) or {}
        lost = pointer.get("lost")
        return [r for r in lost if isinstance(r, str)] if isinstance(lost, list) else []

    @staticmethod
    def endpoint_of(backend: Any) -> str:
        """Who answered, from a record's ``backend``: ``offline`` or the API's base URL."""
        desc = backend if isinstance(backend, dict) else {}
        if desc.get("offline"):
            return "offline"
        return str(desc.get("base_url") or "https://api.replicate.com").rstrip("/")

    def has_unsettled(self) -> bool:
        folder = self.root / "pending"
        return folder.is_dir() and any(folder.iterdir())

    # -- runs not settled yet (the journal) ---------------------------------------------------
    def unsettled(self) -> list[dict[str, Any]]:
        """Records of runs that may have spent money and are not settled, oldest first."""
        folder = self.root / "pending"
        names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
        out = []
        for run_id in names:
            record = self.get(run_id)
            if record is not None and record.get("status") in UNSETTLED:
                out.append(record)
            elif record is not None:  # settled after all (a crash or a full disk between writes)
                if record.get("status") == "succeeded" and record.get("cache_key"):
                    self._point(record, unless_set=True)  # its cache pointer may be missing
                with contextlib.suppress(FileNotFoundError):
                    (folder / run_id).unlink()
        return out

    def hold(self, run_id: str) -> Any:
        """Mark ``run_id`` as live in this process until the returned handle is closed (or the
        process dies): :meth:`is_live` says so to any process on this machine."""
        marker = self.root / "pending" / run_id
        marker.parent.mkdir(parents=True, exist_ok=True)
        handle = open(marker, "a+b")  # noqa: SIM115  (held open on purpose: the lock)
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        return handle

    def try_hold(self, run_id: str) -> Any:
        """Hold ``run_id`` as :meth:`hold` does, without waiting: None if a process already
        holds it or nothing is pending under that id (it settled meanwhile)."""
        try:
            handle = open(self.root / "pending" / run_id, "r+b")  # noqa: SIM115
        except FileNotFoundError:
            return None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                return None
        return handle

    def is_live(self, run_id: str) -> bool:
        """Whether a process (this one or another kernel) is still running ``run_id``."""
        marker = self.root / "pending" / run_id
        if fcntl is None or not marker.exists():
            return False
        with open(marker, "a+b") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False

    def wait_unheld(self, run_id: str, cancel: threading.Event | None = None) -> bool:
        """Wait while a process runs ``run_id`` (see :meth:`is_live`); False if ``cancel`` was
        set first."""
        while self.is_live(run_id):
            if cancel is not None and cancel.is_set():
                return False
            time.sleep(0.05)
        return True

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The record of ``run_id``; None if there is none (or the id could name a file
        outside ``runs/``, as a tampered pointer's ``../../elsewhere`` would)."""
        if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
            warnings.warn(f"nb2 store: {run_id!r} is not a run id; ignored", StoreWarning, 2)
            return None
        return _read_json(self.root / "runs" / f"{run_id}.json")

    def lookup(self, cache_key: str, endpoint: str | None = None) -> dict[str, Any] | None:
        """The stored, verified, succeeded record for a request, or None; with ``endpoint``,
        only one made there (see :meth:`endpoint_of`)."""
        # a string path: most keys of a big plan are absent, and Path joins cost more than
        # the failed open (10,000 lookups: 0.5 s with Paths)
        keys = os.path.join(self.root, "keys", cache_key[:2], f"{cache_key}.json")
        pointer = _read_json(keys) or {}
        run_id = pointer.get("run_id")
        if endpoint is not None:
            by = pointer.get("endpoints") if isinstance(pointer.get("endpoints"), dict) else {}
            run_id = by.get(endpoint, run_id)
        record = self.get(run_id) if isinstance(run_id, str) else None
        if not record or record.get("status") != "succeeded":
            return None
        if record.get("cache_key") != cache_key:  # a pointer aimed elsewhere is not trusted
            return None
        if not _well_formed(record):
            warnings.warn(f"nb2 store: run {run_id} has a damaged record; ignored", StoreWarning, 2)
            return None
        if endpoint is not None and self.endpoint_of(record.get("backend")) != endpoint:
            return None
        out = record.get("output") or {}
        sha = out.get("sha256")
        if self.team is not None and isinstance(sha, str) and self.team.knows(sha):
            return record  # a teammate's image, fetched when it is first opened
        if not sha or self.image_path(sha, out.get("format")) is None:
            return None
        return record

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, oldest first (run ids sort by time)."""
        for path in sorted((self.root / "runs").glob("*.json")):
            record = _read_json(path)
            if record is not None:
                yield record

    def _key_path(self, key: str) -> Path:
        return self.root / "keys" / key[:2] / f"{key}.json"


def _well_formed(record: dict[str, Any]) -> bool:
    """A succeeded record nb2 can use: params, and an output with a hash and a size."""
    out = record.get("output")
    return (
        isinstance(record.get("params"), dict)
        and isinstance(record["params"].get("prompt"), str)
        and isinstance(out, dict)
        and isinstance(out.get("sha256"), str)
        and bool(_SHA.fullmatch(out["sha256"]))
        and all(isinstance(out.get(k), int) and out[k] > 0 for k in ("width", "height"))
    )
