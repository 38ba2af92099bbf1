"""JPEG: the nb2 record in XMP, split over extended-XMP segments when one segment cannot hold it.

A JPEG APP1 segment holds at most 65533 bytes. A record that fits goes whole into the standard
XMP packet (``http://ns.adobe.com/xap/1.0/``). A larger one (a long prompt, a long edit chain)
goes into the extended XMP of the XMP specification, part 3: the standard packet names it with
``xmpNote:HasExtendedXMP`` (its GUID: the MD5 of the extended packet, 32 upper-case hex digits)
and the extended packet follows in ``http://ns.adobe.com/xmp/extension/`` segments, each with
that GUID, the full length and its portion's offset. exiftool and Adobe's tools read it.

An EXIF segment (ImageDescription, Software, and a copy of the record in UserComment, made to
fit one segment by ``fit``) is written too when the file has no EXIF of its own, for tools
that strip XMP. Segments are spliced in before the image data: the pixels are never touched.
The record's JSON and its meaning belong to ``codec.py``; this module only carries bytes.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable
from typing import IO
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import unescape as xml_unescape

NS = "https://nb2.invalid/ns/1.0/"  # the XMP namespace (.invalid: a name, not a web page)
XMP_HEAD = b"http://ns.adobe.com/xap/1.0/\x00"
EXT_HEAD = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_HEAD = b"Exif\x00\x00"
NOTE_NS = "http://ns.adobe.com/xmp/note/"
APP1_MAX = 65533  # a segment's payload limit (its 2-byte length counts itself)
EXT_PORTION = 65400  # the XMP specification's largest extended portion per segment
SUMMARY_MAX = 1000  # characters of the prompt shown to other tools (description fields)
_DATA_RE = re.compile(rb"<nb2:data>(.*?)</nb2:data>", re.S)
_GUID_RE = re.compile(rb'xmpNote:HasExtendedXMP="([0-9A-Fa-f]{32})"')
_EXT_AT = len(EXT_HEAD)  # then GUID (32), full length (4), offset (4), the portion


def segments(data: bytes) -> list[tuple[int, int, int]]:
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


def summary(prompt: str) -> str:
    """The start of a prompt for other tools' description fields (the record keeps it whole)."""
    text = "".join(c for c in prompt if c >= " " or c in "\t\n")  # no XML-illegal controls
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 3] + "..."


def _packet(fmt: str, about: str, body: str, guid: bytes | None) -> bytes:
    note = ""
    if guid is not None:  # the standard packet names the extended one
        note = f' xmlns:xmpNote="{NOTE_NS}" xmpNote:HasExtendedXMP="{guid.decode()}"'
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:nb2="{NS}" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/" nb2:format="{fmt}"{note}>'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{xml_escape(about)}</rdf:li>'
        f"</rdf:Alt></dc:description>{body}"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode("utf-8", "replace")


def xmp_payloads(blob: bytes, fmt: str, about: str) -> list[bytes]:
    """The XMP APP1 payloads: one packet, or a standard one and the extended portions."""
    body = f"<nb2:data>{xml_escape(blob.decode())}</nb2:data>"
    whole = _packet(fmt, about, body, None)
    if len(XMP_HEAD) + len(whole) <= APP1_MAX:
        return [XMP_HEAD + whole]
    ext = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:nb2="{NS}">{body}'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    guid = hashlib.md5(ext, usedforsecurity=False).hexdigest().upper().encode()
    head = EXT_HEAD + guid + struct.pack(">I", len(ext))
    portions = [
        head + struct.pack(">I", at) + ext[at : at + EXT_PORTION]
        for at in range(0, len(ext), EXT_PORTION)
    ]
    return [XMP_HEAD + _packet(fmt, about, "", guid), *portions]


def exif_payload(description: str, software: str, fit: Callable[[int], bytes | None]) -> bytes:
    """EXIF with a copy of the record in UserComment: ``fit(budget)`` gives it in ``budget``
    bytes (shortened if it must), or None, and then the segment goes without it."""
    from PIL import Image

    def encode(comment: bytes | None) -> bytes:
        exif = Image.Exif()
        exif[0x010E] = description.encode("ascii", "replace").decode()  # ImageDescription
        exif[0x0131] = software  # Software
        if comment is not None:
            exif.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00" + comment  # UserComment
        return exif.tobytes()

    bare = encode(None)
    comment = fit(APP1_MAX - len(bare) - 64)  # 64: the comment's prefix, IFD entry, padding
    out = encode(comment) if comment is not None else bare
    return out if len(out) <= APP1_MAX else bare


def embed(data: bytes, fmt: str, xmp: list[bytes], exif: Callable[[], bytes]) -> bytes:
    """``data`` with these payloads spliced in, replacing the nb2 segments it already has.
    ``exif()`` is asked only when the file has no EXIF of its own (that one is kept as it is)."""
    mark = fmt.encode()
    segs = segments(data)
    payloads = [(s, e, data[s + 4 : e]) for s, e, m in segs if m == 0xE1]
    guids = {g.upper() for _, _, p in payloads if mark in p for g in _GUID_RE.findall(p)}
    old = [
        (s, e)
        for s, e, p in payloads
        if (p.startswith(EXT_HEAD) and p[_EXT_AT : _EXT_AT + 32] in guids) or mark in p
    ]
    if old:  # an older nb2 record is replaced, never doubled
        view, kept, at = memoryview(data), [], 0
        for s, e in old:
            kept.append(view[at:s])
            at = e
        data = b"".join([*kept, view[at:]])
        segs = segments(data)
    own_exif = [(s, e) for s, e, m in segs if m == 0xE1 and data[s + 4 : s + 10] == EXIF_HEAD]
    new = b"".join(_app1(p) for p in ([] if own_exif else [exif()]) + xmp)
    at = 2  # after SOI, and after a leading JFIF APP0 / EXIF APP1, which expect to be first
    for s, e, m in segs:
        if not (m == 0xE0 or (s, e) in own_exif):
            break
        at = e
    view = memoryview(data)
    return b"".join((view[:at], new, view[at:]))


def read(f: IO[bytes], fmt: str) -> bytes | None:
    """The record's JSON: from the XMP (whole or extended), else from the EXIF copy, or None."""
    mark = fmt.encode()
    f.seek(2)
    data = guid = comment = None
    portions: dict[bytes, list[tuple[int, int, bytes]]] = {}
    while True:
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF or head[1] == 0xDA:
            break
        (length,) = struct.unpack(">H", head[2:])
        if head[1] != 0xE1:
            f.seek(length - 2, 1)
            continue
        seg = f.read(length - 2)
        if seg.startswith(EXT_HEAD):
            key = seg[_EXT_AT : _EXT_AT + 32].upper()
            total, offset = struct.unpack(">II", seg[_EXT_AT + 32 : _EXT_AT + 40])
            portions.setdefault(key, []).append((offset, total, seg[_EXT_AT + 40 :]))
        elif mark not in seg:
            continue
        elif seg.startswith(XMP_HEAD) and data is None and guid is None:
            found, named = _DATA_RE.search(seg), _GUID_RE.search(seg)
            data = found.group(1) if found else None
            guid = named.group(1).upper() if named and not found else None
        elif seg.startswith(EXIF_HEAD):
            comment = _user_comment(seg)  # used when a tool stripped the XMP
    if data is None and guid is not None:
        ext = _assemble(portions.get(guid, []), guid)
        found = _DATA_RE.search(ext) if ext is not None else None
        data = found.group(1) if found else None
    return xml_unescape(data.decode()).encode() if data is not None else comment


def _assemble(parts: list[tuple[int, int, bytes]], guid: bytes) -> bytes | None:
    """The extended packet from its portions (any order), or None if one is missing or damaged."""
    out = bytearray()
    for offset, total, chunk in sorted(parts, key=lambda p: p[0]):
        if total != parts[0][1] or offset > len(out):
            return None  # lengths disagree, or a portion is missing
        out += chunk[len(out) - offset :]  # a repeated portion adds nothing
    digest = hashlib.md5(out, usedforsecurity=False).hexdigest().upper().encode()
    return bytes(out) if parts and len(out) == parts[0][1] and digest == guid else None


def _user_comment(seg: bytes) -> bytes | None:
    from PIL import Image

    exif = Image.Exif()
    exif.load(seg[6:])
    value = exif.get_ifd(0x8769).get(0x9286)
    if isinstance(value, bytes) and value.startswith(b"ASCII\x00\x00\x00"):
        return value[8:]
    return value.encode() if isinstance(value, str) else None
