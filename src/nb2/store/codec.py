"""Parameters and lineage written into the image files themselves, and read back.

PNG: one iTXt chunk, keyword ``nb2``, right after IHDR. JPEG: an XMP packet (APP1) holding the
same JSON in ``nb2:data``, plus EXIF ImageDescription / Software / UserComment when the file has
no EXIF of its own. Both are spliced into the byte stream: pixel data is never decoded or
re-encoded, so the pixels stay identical and embedding costs one copy of the bytes.

``opened.py`` reads a file back (``nb2.open``).
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

if TYPE_CHECKING:
    from .runs import Store

FORMAT = "nb2-metadata/1"
KEY = "nb2"  # the PNG iTXt keyword
NS = "https://nb2.invalid/ns/1.0/"  # the XMP namespace (.invalid: a name, not a web page)
MAX_ANCESTORS = 200  # a guard against a cycle in a damaged store, not a practical limit

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_XMP_HEAD = b"http://ns.adobe.com/xap/1.0/\x00"
_APP1_MAX = 65533  # a JPEG segment's payload limit (its 2-byte length counts itself)
_DATA_RE = re.compile(rb"<nb2:data>(.*?)</nb2:data>", re.S)


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


def embed(data: bytes, meta: dict[str, Any]) -> bytes:
    """``data`` with ``meta`` written in (PNG or JPEG); other formats come back unchanged."""
    if data.startswith(_PNG_SIG):
        return _png_embed(data, meta)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_embed(data, meta)
    return data


def _json(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


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


# -- JPEG -----------------------------------------------------------------------------------
def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(start, end, marker) of each segment before the image data (SOS)."""
    out, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded pixels follow
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        out.append((pos, pos + 2 + length, marker))
        pos += 2 + length
    return out


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _xmp(meta: dict[str, Any]) -> bytes:
    summary = xml_escape(str(meta.get("params", {}).get("prompt", "")))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:nb2="{NS}" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/" nb2:format="{FORMAT}">'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{summary}</rdf:li></rdf:Alt>'
        f"</dc:description><nb2:data>{xml_escape(_json(meta).decode())}</nb2:data>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _exif(meta: dict[str, Any]) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    prompt = str(meta.get("params", {}).get("prompt", ""))
    exif[0x010E] = prompt.encode("ascii", "replace").decode()[:1000]  # ImageDescription
    exif[0x0131] = f"nb2 {meta.get('nb2_version')}"  # Software
    exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + _json(meta)  # UserComment
    return exif.tobytes()


def _fit(meta: dict[str, Any], encode: Callable[[dict[str, Any]], bytes]) -> bytes | None:
    """Encoded ``meta`` within one JPEG segment, dropping middle ancestors if it must."""
    meta = dict(meta)
    while True:
        blob = encode(meta)
        if len(blob) <= _APP1_MAX - 2:
            return blob
        chain = meta.get("ancestors") or []
        if len(chain) < 2:
            return None  # still too large: leave it out rather than write a broken file
        cut = len(chain) // 2  # keep the root and the nearest ancestors
        meta["ancestors"] = chain[:cut] + chain[cut + 1 :]
        meta["ancestors_dropped"] = int(meta.get("ancestors_dropped", 0)) + 1


def _is_ours(segment: bytes) -> bool:
    return FORMAT.encode() in segment


def _jpeg_embed(data: bytes, meta: dict[str, Any]) -> bytes:
    segments = _jpeg_segments(data)
    for s, e, _ in reversed(segments):
        if data[s + 1] == 0xE1 and _is_ours(data[s:e]):
            data = data[:s] + data[e:]  # replace an older nb2 segment, never double it
    segments = _jpeg_segments(data)
    has_exif = any(m == 0xE1 and data[s + 4 : s + 10] == b"Exif\x00\x00" for s, _, m in segments)
    new = b""
    if not has_exif:  # a file's own EXIF (camera, C2PA hints) is kept as it is
        exif = _fit(meta, _exif)
        new += _app1(exif) if exif else b""
    xmp = _fit(meta, _xmp)
    new += _app1(_XMP_HEAD + xmp) if xmp else b""
    at = 2  # after SOI, and after a leading JFIF APP0 / EXIF APP1, which expect to be first
    for s, e, m in segments:
        if not (m == 0xE0 or (m == 0xE1 and data[s + 4 : s + 10] == b"Exif\x00\x00")):
            break
        at = e
    view = memoryview(data)
    return b"".join((view[:at], new, view[at:]))


def _jpeg_read(f: IO[bytes]) -> bytes | None:
    f.seek(2)
    user_comment = None
    while True:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF or head[1] == 0xDA:
            return user_comment
        (length,) = struct.unpack(">H", head[2:])
        if head[1] != 0xE1:
            f.seek(length - 2, 1)
            continue
        seg = f.read(length - 2)
        if not _is_ours(seg):
            continue
        if seg.startswith(_XMP_HEAD):
            m = _DATA_RE.search(seg)
            if m:
                return xml_unescape(m.group(1).decode()).encode()
        elif seg.startswith(b"Exif\x00\x00"):
            user_comment = _user_comment(seg)  # used when a tool stripped the XMP


def _user_comment(seg: bytes) -> bytes | None:
    from PIL import Image

    exif = Image.Exif()
    exif.load(seg[6:])
    value = exif.get_ifd(0x8769).get(0x9286)
    if isinstance(value, bytes) and value.startswith(b"ASCII\x00\x00\x00"):
        return value[8:]
    return value.encode() if isinstance(value, str) else None


def read(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The nb2 metadata of an image file, or None. Reads headers only, never the pixels."""
    with Path(path).open("rb") as f:
        sig = f.read(8)
        try:
            if sig == _PNG_SIG:
                blob = _png_read(f)
            elif sig[:2] == b"\xff\xd8":
                blob = _jpeg_read(f)
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
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None
