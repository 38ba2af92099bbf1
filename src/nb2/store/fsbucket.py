"""A team's store under any other URL fsspec knows (``sftp://``, ``ftp://``, ``hf://``,
``webdav://``, ...): the same calls as :class:`~nb2.store.bucket.Bucket`, through fsspec.

S3, GCS, Azure and local folders go through obstore (faster, and it has conditional puts);
this is for the rest. Most of those file systems have no conditional put, so ``create`` is a
look and then a write, and ``if_match`` compares the object's tag (its ETag when the file system
has one, else its size and modified time) before writing. The gap between the two is a race:
content-addressed names lose nothing to it (the same bytes either way), but two kernels
writing one session's tree at the same moment can keep one's new turns only. Credentials come
from fsspec's own chain (``FSSPEC_<PROTOCOL>_<OPTION>`` variables, ``~/.config/fsspec``) and the
file system's (``~/.ssh``, a Hugging Face token); a URL with one in it is refused.
"""

from __future__ import annotations

import errno
import threading
import urllib.parse
from datetime import datetime, timezone
from typing import Any

from ..errors import (
    RemoteCredentialsError,
    RemoteReadOnlyError,
    RemoteStoreError,
    RemoteUnreachableError,
)
from .bucket import Entry, check_url

TIMEOUT = 20  # seconds, where the file system takes a timeout option (ftp, sftp)
_UNREACHABLE = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}


class FsBucket:
    """The file system at ``url``; every key is relative to the URL's path."""

    def __init__(self, url: str) -> None:
        self.url = check_url(url)
        try:
            import fsspec
        except ImportError:
            raise RemoteStoreError(
                "store: this URL needs fsspec (and its file system's package): "
                "pip install 'nb2[team]' fsspec"
            ) from None
        self._fsspec = fsspec
        self.scheme = urllib.parse.urlsplit(self.url).scheme
        # one connection per thread (ftplib's is not shared), made at first use: a server
        # that is down must not stop the local store from opening
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"FsBucket({self.url!r})"

    def _fs(self) -> tuple[Any, str]:
        got = getattr(self._local, "fs", None)
        if got is None:
            options = {"timeout": TIMEOUT} if self.scheme in ("ftp", "sftp") else {}
            try:
                got = self._fsspec.core.url_to_fs(self.url, **options)
            except Exception as exc:
                raise self._named(exc, "open", "") from None
            self._local.fs = got
        return got

    def _path(self, key: str) -> str:
        return f"{self._fs()[1].rstrip('/')}/{key}"

    def _tag(self, info: dict[str, Any]) -> str:
        for name in ("ETag", "etag", "e_tag"):
            if info.get(name):
                return str(info[name]).strip('"')
        return f"{info.get('size')}-{_modified(info).timestamp():.6f}"

    def put(
        self, key: str, data: bytes, *, create: bool = False, if_match: str | None = None
    ) -> str | None:
        """As :meth:`Bucket.put`, with the look-then-write the module's docstring names."""
        fs, path = self._fs()[0], self._path(key)
        try:
            if create and fs.exists(path):
                return None
            if if_match is not None:
                now = fs.info(path) if fs.exists(path) else None
                if now is None or self._tag(now) != if_match:
                    return None
            parent = path.rsplit("/", 1)[0]
            _make_folder(fs, parent)
            fs.pipe_file(path, data)
            fs.invalidate_cache(parent)
            return self._tag(fs.info(path))
        except Exception as exc:
            raise self._named(exc, "write", key) from None

    def get_tagged(self, key: str) -> tuple[bytes, str] | None:
        fs, path = self._fs()[0], self._path(key)
        try:
            info = fs.info(path)
            return bytes(fs.cat_file(path)), self._tag(info)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._named(exc, "read", key) from None

    def get(self, key: str) -> bytes | None:
        got = self.get_tagged(key)
        return None if got is None else got[0]

    def exists(self, key: str) -> bool:
        try:
            return bool(self._fs()[0].exists(self._path(key)))
        except Exception as exc:
            raise self._named(exc, "read", key) from None

    def listing(self, prefix: str = "") -> list[Entry]:
        fs, root = self._fs()
        root = root.rstrip("/")
        try:
            fs.invalidate_cache()
            if not fs.exists(root):
                return []  # a folder is made by its first write: nothing is there yet
            found = fs.find(f"{root}/{prefix}" if prefix else root, detail=True)
        except Exception as exc:
            raise self._named(exc, "list", prefix) from None
        out = []
        for path, info in found.items():
            key = path.split(root + "/", 1)[-1] if root else path.lstrip("/")
            out.append(Entry(key, int(info.get("size") or 0), _modified(info), self._tag(info)))
        return out

    def _named(self, exc: BaseException, doing: str, key: str) -> RemoteStoreError:
        """The error as nb2 names it, with the first line of why (never a credential)."""
        if isinstance(exc, RemoteStoreError):  # named already (the connection, in _fs)
            return exc
        text = str(exc).split("\n", 1)[0][:300]
        where = f"{self.url}/{key}" if key else self.url
        if isinstance(exc, (TimeoutError, ConnectionError, EOFError)) or (
            isinstance(exc, OSError) and exc.errno in _UNREACHABLE
        ):
            return RemoteUnreachableError(f"store: {self.url} is unreachable: {text or exc!r}")
        if isinstance(exc, PermissionError) or text.startswith(("550", "553")):
            if doing == "write":
                return RemoteReadOnlyError(f"store: {where} cannot be written (read-only for "
                                           f"these credentials): {text}")  # fmt: skip
            return RemoteCredentialsError(f"store: {where}: access denied: {text}")
        if text.startswith("530") or "authentication" in text.lower():
            return RemoteCredentialsError(f"store: {self.url}: the login was refused: {text}")
        return RemoteStoreError(f"store: {where}: {doing} failed: {text}")


def _make_folder(fs: Any, path: str) -> None:
    """``path`` as a folder, each level made once: another thread (or kernel) making a level
    first is no failure, and the next try goes on past it."""
    for attempt in range(4):
        try:
            fs.makedirs(path, exist_ok=True)
            return
        except Exception:
            fs.invalidate_cache()
            if fs.isdir(path):
                return
            if attempt == 3:
                raise


def _modified(info: dict[str, Any]) -> datetime:
    """The modified time fsspec's file systems give under their own names."""
    for name in ("LastModified", "last_modified", "mtime", "modified", "modify", "created"):
        value = info.get(name)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        if isinstance(value, str) and value.isdigit() and len(value) >= 14:  # ftp's MLSD
            return datetime.strptime(value[:14], "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(0, timezone.utc)
