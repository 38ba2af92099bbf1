"""The run store: content-addressed images and one JSON record per run, on disk.

Layout under the root folder::

    images/ab/<sha256>.<ext>   every output and reference image, named by its content
    runs/<run id>.json          one record per run (succeeded, failed, blocked or canceled)
    keys/ab/<cache key>.json    the run that answers a request, for cache look-ups

Every write goes to a temporary file in the same folder and is renamed into place, so a reader
(another kernel, a crash) sees a whole file or none. Images are verified against their name
before they are trusted: a file whose hash does not match is skipped with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_ROOT = "nb2-runs"
CACHE_MODES = ("auto", "replay", "off")


class StoreWarning(UserWarning):
    """Something in the store could not be trusted and was skipped."""


class Store:
    """A folder of runs. Safe to share between threads and between kernels."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser().resolve() if root is not None else self.default_root()
        for sub in ("images", "runs", "keys"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self._verified: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) seen good
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- where stores are (without making one) ----------------------------------------------
    @staticmethod
    def default_root(env: bool = True) -> Path:
        """``NB2_STORE`` (one store for every notebook of a project, or a test run), else
        ``./nb2-runs``; ``env=False``: ``./nb2-runs`` alone."""
        root = (os.environ.get("NB2_STORE") if env else None) or DEFAULT_ROOT
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
            _atomic_write(path, data)
            self._remember(path)
        return sha, path

    def image_path(self, sha: str, ext: str | None = None) -> Path | None:
        """The verified file for a hash, or None (missing or corrupted).

        With ``ext`` (a record knows it) this is one stat, not a folder listing.
        """
        folder = self.root / "images" / sha[:2]
        if ext is not None:
            candidates = [self._image_path(sha, ext)]
        else:
            candidates = sorted(folder.glob(f"{sha}.*")) if folder.is_dir() else []
        for path in candidates:
            if self._is_good(path, sha):
                return path
        return None

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
        """Write a run's record; a succeeded run also becomes the answer for its cache key."""
        path = self.root / "runs" / f"{record['run_id']}.json"
        _atomic_write(path, _dumps(record))
        if record.get("status") == "succeeded" and record.get("cache_key"):
            key = record["cache_key"]
            _atomic_write(self._key_path(key), _dumps({"run_id": record["run_id"]}))
        return path

    def get(self, run_id: str) -> dict[str, Any] | None:
        return _read_json(self.root / "runs" / f"{run_id}.json")

    def lookup(self, cache_key: str) -> dict[str, Any] | None:
        """The stored, verified, succeeded record for a request, or None."""
        pointer = _read_json(self._key_path(cache_key))
        record = self.get(pointer["run_id"]) if pointer else None
        if not record or record.get("status") != "succeeded":
            return None
        out = record.get("output") or {}
        if not out.get("sha256") or self.image_path(out["sha256"], out.get("format")) is None:
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


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True, default=str).encode()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        warnings.warn(f"nb2 store: {path} is unreadable; skipped", StoreWarning, stacklevel=3)
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
