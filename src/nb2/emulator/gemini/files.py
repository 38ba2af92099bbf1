"""The Files API: resumable uploads (start, upload, finalize), File objects, listing, deleting,
downloads of generated files (batch results), and reading a file back for a ``fileData`` part
or a batch's input."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import GeminiError, invalid

if TYPE_CHECKING:
    from .host import GeminiHost

_ALPHABET = string.ascii_lowercase + string.digits
CHUNK = 8 * 1024 * 1024  # the SDK's chunk size; told to clients as the upload granularity


def new_id(n: int = 12) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def missing(name: str) -> GeminiError:
    # as the API answers an unknown (or expired, or someone else's) file
    return GeminiError(
        403, f"You do not have permission to access the File {name} or it may not exist."
    )


@dataclass
class File:
    id: str
    display_name: str | None
    mime: str
    data: bytes
    created: float  # monotonic
    source: str = "UPLOADED"  # or "GENERATED" (batch results): only those download

    def to_json(self, emu: GeminiHost, version: str) -> dict[str, Any]:
        when = emu.iso(self.created)
        out: dict[str, Any] = {"name": f"files/{self.id}"}
        if self.display_name:
            out["displayName"] = self.display_name
        out.update(
            mimeType=self.mime,
            sizeBytes=str(len(self.data)),  # int64: a string in proto-JSON
            createTime=when,
            updateTime=when,
            expirationTime=emu.iso(self.created + emu.faults.file_ttl),
            # base64 of the hex digest, as the API writes it (best guess from captures)
            sha256Hash=base64.b64encode(hashlib.sha256(self.data).hexdigest().encode()).decode(),
            # a deliberate difference: the real uri is on generativelanguage.googleapis.com
            uri=f"{emu.base_url}/{version}/files/{self.id}",
            state="ACTIVE",
            source=self.source,
        )
        if self.source == "GENERATED":
            out["downloadUri"] = f"{emu.base_url}/{version}/files/{self.id}:download?alt=media"
        return out


@dataclass
class Upload:
    """A resumable upload between its start and its finalize."""

    meta: dict[str, Any]
    size: int | None
    mime: str
    received: bytearray = field(default_factory=bytearray)


@dataclass
class Files:
    emu: GeminiHost
    by_id: dict[str, File] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, meta: dict[str, Any], headers: Any) -> str:
        """A new upload's id (the ``upload_id`` of its ``x-goog-upload-url``)."""
        size = headers.get("X-Goog-Upload-Header-Content-Length") or meta.get("sizeBytes")
        mime = headers.get("X-Goog-Upload-Header-Content-Type") or meta.get("mimeType") or ""
        upload_id = "ABgVH" + secrets.token_urlsafe(48)
        with self.lock:
            self.uploads[upload_id] = Upload(meta, int(size) if size else None, str(mime))
        return upload_id

    def chunk(self, upload_id: str, command: str, offset: str | None, data: bytes) -> File | int:
        """Apply an upload command: the finished File on finalize, else the bytes received."""
        up = self.uploads.get(upload_id)
        if up is None:
            raise GeminiError(404, "Upload not found: the upload id is unknown or finished.")
        commands = {c.strip() for c in command.lower().split(",")}
        if "query" in commands:
            return len(up.received)
        if "upload" in commands:
            if offset is not None and int(offset) != len(up.received):
                raise invalid(f"Invalid upload offset {offset}: {len(up.received)} bytes received.")
            up.received += data
        if "finalize" not in commands:
            return len(up.received)
        with self.lock:
            self.uploads.pop(upload_id, None)
        if up.size is not None and up.size != len(up.received):
            raise invalid(f"Upload size {len(up.received)} does not match the declared {up.size}.")
        name = str(up.meta.get("name") or "").removeprefix("files/") or new_id()
        made = File(name, up.meta.get("displayName"), up.mime, bytes(up.received), self.emu.clock())
        with self.lock:
            self.by_id[name] = made
        return made

    def generated(self, name: str, mime: str, data: bytes) -> File:
        made = File(name, None, mime, data, self.emu.clock(), source="GENERATED")
        with self.lock:
            self.by_id[name] = made
        return made

    def live(self, ref: str) -> File | None:
        """A file by id, ``files/id`` or uri; None once deleted or past its TTL."""
        fid = ref.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].split(":", 1)[0]
        f = self.by_id.get(fid)
        if f is None or self.emu.clock() - f.created > self.emu.faults.file_ttl:
            return None
        return f

    def data(self, ref: str) -> bytes | None:
        f = self.live(ref)
        return None if f is None else f.data

    def get(self, fid: str) -> File:
        f = self.live(fid)
        if f is None:
            raise missing(fid)
        return f

    def download(self, fid: str) -> File:
        f = self.get(fid)
        if f.source != "GENERATED":  # best guess at the wording; the SDK says as much
            raise invalid(f"File files/{fid} is not downloadable: only generated files are.")
        return f

    def delete(self, fid: str) -> None:
        self.get(fid)
        with self.lock:
            self.by_id.pop(fid, None)

    def all(self) -> list[File]:
        """Live files, newest first."""
        live = [f for f in list(self.by_id.values()) if self.live(f.id) is not None]
        return sorted(live, key=lambda f: f.created, reverse=True)
