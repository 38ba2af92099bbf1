"""Whole files, written and read safely: atomic writes (a temporary file in the same folder,
renamed into place), JSON records, the umask a shared store needs, a file's hash."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any

_UMASK_LOCK = threading.Lock()


class StoreWarning(UserWarning):
    """Something in the store could not be trusted and was skipped."""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True, default=str).encode()


def _read_json(path: Path | str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        warnings.warn(f"nb2 store: {path} is unreadable; skipped", StoreWarning, stacklevel=3)
        return None
    if not isinstance(data, dict):
        warnings.warn(f"nb2 store: {path} is not a record; skipped", StoreWarning, stacklevel=3)
        return None
    return data


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process's umask (read by setting it back at once, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
