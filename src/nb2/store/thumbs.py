"""Thumbnails made once and kept: ``thumbs/<side>/ab/<sha256>.img`` beside the images.

A thumbnail is named by its image's hash (images never change under a name), so it is made on
first use and then read back; the gallery and the find table page through thousands of runs
without decoding a full-size image twice.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from ..imaging import thumbnail_bytes
from .files import _atomic_write
from .runs import _SHA, Store


def thumbnail(store: Store, sha: str, ext: str | None = None, side: int = 160) -> bytes:
    """A JPEG (PNG when transparent) of at most ``side`` pixels of the stored image ``sha``;
    empty bytes when the image is gone."""
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        return b""
    path = cached(store, sha, side)
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    source = store.image_path(sha, ext)
    if source is None:
        return b""
    data = thumbnail_bytes(source.read_bytes(), side, quality=75)
    with contextlib.suppress(OSError):  # a read-only store: made again next time
        _atomic_write(path, data, 0o644)
        store.publish(path)  # a teammate's gallery shows it before the image is fetched
    return data


def cached(store: Store, sha: str, side: int = 160) -> Path:
    """Where the thumbnail of ``sha`` at ``side`` is kept."""
    return store.root / "thumbs" / str(int(side)) / sha[:2] / f"{sha}.img"
