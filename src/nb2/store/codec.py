"""Parameters and lineage written into the image files themselves, and read back.

PNG: one iTXt chunk, keyword ``nb2``, right after IHDR. JPEG (``jpeg.py``): an XMP packet
(APP1) holding the same JSON in ``nb2:data``, split over standard extended-XMP segments when it
is larger than one segment holds, plus EXIF ImageDescription / Software / UserComment when the
file has no EXIF of its own (UserComment: a copy, shortened to one segment if it must be, and
then saying so in ``"truncated"``). Both are spliced into the byte stream: pixel data is never
decoded or re-encoded, so the pixels stay identical and embedding costs one copy of the bytes.

The JSON keeps each prompt once (:func:`pack`): the edit instruction, the composed prompt and a
step's ``params.prompt`` are derived again on reading (:func:`unpack`). A record read back
incomplete (a shortened copy, because a tool removed the XMP) is returned with a
:class:`MetadataWarning` saying what is missing; so is a file the metadata could not go into.

``opened.py`` reads a file back (``nb2.open``).
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any

from ..request.references import compose_prompt
from . import jpeg
from .jpeg import NS as NS

if TYPE_CHECKING:
    from .runs import Store

FORMAT = "nb2-metadata/1"
KEY = "nb2"  # the PNG iTXt keyword
MAX_ANCESTORS = 200  # a guard against a cycle in a damaged store, not a practical limit

_PNG_SIG = b"\x89PNG\r\n\x1a\n"


class MetadataWarning(UserWarning):
    """nb2 metadata could not be written into an image file, or was read back incomplete."""


# -- what goes in ---------------------------------------------------------------------------
def build(record: dict[str, Any], store: Store | None = None) -> dict[str, Any]:
    """The metadata of a run: its request, how it was made, and its ancestors' requests."""
    params = record["params"]
    kind = record.get("kind") or "generate"
    backend = record.get("backend") or {}
    return {
        "format": FORMAT,
        "nb2_version": record.get("nb2_version"),
        "run_id": record.get("run_id"),
        "kind": kind,
        "model": record.get("model") or params.get("model"),
        "version": record.get("version"),
        # name and offline flag only: a backend's URL is no business of a shared file
        "backend": {"name": backend.get("name"), "offline": bool(backend.get("offline"))},
        "cache_key": record.get("cache_key"),
        "params": params,
        "parent": record.get("parent"),
        "edit_instruction": params.get("prompt") if kind == "edit" else None,
        "google_search": bool(params.get("google_search")),
        "image_search": bool(params.get("image_search")),
        "grounded_at": record.get("grounded_at"),
        "ancestors": ancestors(store, record.get("parent")) if store is not None else [],
    }


def ancestors(store: Store, parent: str | None) -> list[dict[str, Any]]:
    """The requests from the root down to ``parent``, read from the store's records."""
    steps: list[dict[str, Any]] = []
    seen: set[str] = set()
    while parent and parent not in seen and len(steps) < MAX_ANCESTORS:
        seen.add(parent)
        rec = store.get(parent)
        if rec is None:  # an older store without the record: say so rather than stop silently
            steps.append({"run_id": parent, "missing": True})
            break
        steps.append(step(rec))
        parent = rec.get("parent")
    return steps[::-1]


def step(rec: dict[str, Any]) -> dict[str, Any]:
    """One request of a chain, as the metadata keeps it."""
    params = {k: v for k, v in rec["params"].items() if k != "composed_prompt"}  # derivable
    return {
        "run_id": rec.get("run_id"),
        "kind": rec.get("kind") or "generate",
        "prompt": params.get("prompt"),
        "params": params,
    }


def pack(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` as written: each prompt once; what :func:`unpack` derives again is left out."""
    out = dict(meta)
    params = out.get("params")
    if isinstance(params, dict):
        params = out["params"] = dict(params)
        if "prompt" in params and params.get("composed_prompt") == _composed(params):
            del params["composed_prompt"]
        if out.get("edit_instruction") == _instruction(out):
            out.pop("edit_instruction", None)
    steps = []
    for st in out.get("ancestors") or []:
        sp = st.get("params")
        if isinstance(sp, dict) and "prompt" in st and sp.get("prompt") == st["prompt"]:
            st = {**st, "params": {k: v for k, v in sp.items() if k != "prompt"}}
        steps.append(st)
    if "ancestors" in out:
        out["ancestors"] = steps
    return out


def unpack(meta: dict[str, Any]) -> dict[str, Any]:
    """The record as :func:`build` made it, from what :func:`pack` wrote (or an older file)."""
    params = meta.get("params")
    if isinstance(params, dict) and isinstance(params.get("prompt"), str):
        params.setdefault("composed_prompt", _composed(params))
        if "kind" in meta:
            meta.setdefault("edit_instruction", _instruction(meta))
    for st in meta.get("ancestors") or []:
        if isinstance(st, dict) and isinstance(st.get("params"), dict) and "prompt" in st:
            st["params"].setdefault("prompt", st["prompt"])
    return meta


def _composed(params: dict[str, Any]) -> str:
    roles = [r.get("role") if isinstance(r, dict) else None for r in params.get("references") or []]
    refs = [SimpleNamespace(role=role if isinstance(role, str) else None) for role in roles]
    return compose_prompt(str(params.get("prompt", "")), refs)  # type: ignore[arg-type]


def _instruction(meta: dict[str, Any]) -> str | None:
    return meta.get("params", {}).get("prompt") if meta.get("kind") == "edit" else None


def embed(data: bytes, meta: dict[str, Any]) -> bytes:
    """``data`` with ``meta`` written in (PNG or JPEG); other data comes back unchanged, with a
    :class:`MetadataWarning`."""
    packed = pack(meta)
    out = data
    if data.startswith(_PNG_SIG):
        out = _png_embed(data, packed)
    elif data.startswith(b"\xff\xd8"):
        out = _jpeg_embed(data, packed)
    if out is data:
        warnings.warn(
            MetadataWarning(
                f"run {meta.get('run_id')}: no nb2 metadata written into its image (not a PNG "
                f"or JPEG nb2 can splice: {len(data)} bytes starting {data[:8]!r}); nb2.open "
                "will not read it, the store's record still has it"
            ),
            stacklevel=2,
        )
    return out


def _json(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def shorten(meta: dict[str, Any], budget: int) -> bytes | None:
    """``meta``'s JSON in at most ``budget`` bytes: the ancestors' prompts are dropped from the
    oldest, then the oldest ancestors themselves, saying so in ``"truncated"``. None when the
    image's own request alone is larger."""
    blob = _json(meta)
    if len(blob) <= budget:
        return blob
    steps = [dict(st) for st in meta.get("ancestors") or []]
    excess, prompts, dropped = len(blob) - budget + 200, 0, 0  # 200: room for the note
    for st in steps:  # each step's size is measured once: a long chain stays linear
        if excess <= 0:
            break
        if st.get("prompt"):
            before = len(_json(st))
            st.pop("prompt")
            excess -= before - len(_json(st))
            prompts += 1
    while True:
        while steps and excess > 0:
            excess -= len(_json(steps.pop(0))) + 1
            dropped += 1
        note = {
            "ancestor_prompts": prompts,
            "ancestors": dropped,
            "of": len(meta.get("ancestors") or []),
        }
        blob = _json({**meta, "ancestors": steps, "truncated": note})
        if len(blob) <= budget:
            return blob
        if not steps:
            return None
        excess = len(blob) - budget


# -- PNG ------------------------------------------------------------------------------------
def _png_chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, type) of every chunk, by header jumps (no data is read)."""
    out, pos = [], len(_PNG_SIG)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        out.append((pos, end, kind))
        pos = end
        if kind == b"IEND":
            break
    return out


def _png_embed(data: bytes, meta: dict[str, Any]) -> bytes:
    body = KEY.encode() + b"\x00\x00\x00\x00\x00" + _json(meta)  # uncompressed, no language
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    chunks = _png_chunks(data)
    if not chunks or chunks[0][2] != b"IHDR":
        return data  # not a PNG we can splice safely: store it as delivered
    ours = [(s, e) for s, e, k in chunks if k == b"iTXt" and _png_keyword(data, s) == KEY]
    for s, e in reversed(ours):  # an older nb2 chunk is replaced, never doubled
        data = data[:s] + data[e:]
    ihdr_end = chunks[0][1]  # IHDR is always first (and comes before any chunk removed)
    view = memoryview(data)  # one copy of a large file, not three
    return b"".join((view[:ihdr_end], chunk, view[ihdr_end:]))


def _png_keyword(data: bytes, start: int) -> str:
    head = data[start + 8 : start + 8 + 80]
    return head.split(b"\x00", 1)[0].decode("latin-1")


def _png_read(f: IO[bytes]) -> bytes | None:
    f.seek(len(_PNG_SIG))
    while True:
        head = f.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I", head[:4])[0], head[4:]
        if kind == b"IEND":
            return None
        if kind != b"iTXt":
            f.seek(length + 4, 1)
            continue
        body = f.read(length)
        f.seek(4, 1)
        key, rest = body.split(b"\x00", 1)
        if key != KEY.encode():
            continue
        compressed = rest[0] == 1
        text = rest[2:].split(b"\x00", 2)[2]  # skip language tag and translated keyword
        return zlib.decompress(text) if compressed else text


# -- JPEG (jpeg.py carries the bytes) -----------------------------------------------------
def _jpeg_embed(data: bytes, meta: dict[str, Any]) -> bytes:
    about = jpeg.summary(str(meta.get("params", {}).get("prompt", "")))

    def exif() -> bytes:
        fit = lambda budget: shorten(meta, budget)  # noqa: E731
        return jpeg.exif_payload(about, f"nb2 {meta.get('nb2_version')}", fit)

    return jpeg.embed(data, FORMAT, jpeg.xmp_payloads(_json(meta), FORMAT, about), exif)


def read(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The nb2 metadata of an image file, or None. Reads headers only, never the pixels."""
    with Path(path).open("rb") as f:
        sig = f.read(8)
        try:
            if sig == _PNG_SIG:
                blob = _png_read(f)
            elif sig[:2] == b"\xff\xd8":
                blob = jpeg.read(f, FORMAT)
            else:
                blob = None
        except (ValueError, IndexError, struct.error, zlib.error):  # a damaged header
            blob = None
    if blob is None:
        return None
    try:
        meta = json.loads(blob)
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    _warn_if_short(meta, Path(path).name)
    return unpack(meta)


def _warn_if_short(meta: dict[str, Any], name: str) -> None:
    cut = meta.get("truncated")
    if isinstance(cut, dict):
        what = f"the prompts of the {cut.get('ancestor_prompts')} oldest of its {cut.get('of')} "
        what += f"earlier steps (and {cut.get('ancestors')} of those steps altogether)"
    elif meta.get("ancestors_dropped"):  # written by nb2 before extended XMP
        what = f"{meta['ancestors_dropped']} steps from the middle of its chain"
    else:
        return
    warnings.warn(
        MetadataWarning(
            f"{name}: its nb2 metadata was read from a shortened copy (a tool removed the full "
            f"record): {what} are missing; its own request is whole"
        ),
        stacklevel=3,
    )
