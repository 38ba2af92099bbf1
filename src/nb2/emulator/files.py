"""The Files API: uploads (multipart, part ``content``), their JSON objects, listing, deleting,
and reading an upload back when a prediction names its ``urls.get`` in ``image_input``."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from typing import TYPE_CHECKING, Any

from .predictions import new_id
from .wire import iso

if TYPE_CHECKING:
    from .host import Host


@dataclass
class File:
    id: str
    name: str
    content_type: str
    data: bytes
    metadata: dict[str, Any]
    created: float  # monotonic
    md5: str = ""
    sha256: str = ""

    def __post_init__(self) -> None:
        self.md5 = hashlib.md5(self.data).hexdigest()
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    def to_json(self, emu: Host) -> dict[str, Any]:
        # Field order and checksums as recorded from api.replicate.com (etag is the md5).
        return {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": len(self.data),
            "etag": self.md5,
            "checksums": {"sha256": self.sha256, "md5": self.md5},
            "metadata": self.metadata,
            "created_at": iso(emu.wall(self.created)),
            "expires_at": iso(emu.wall(self.created + emu.faults.file_ttl)),
            "urls": {"get": f"{emu.base_url}/v1/files/{self.id}"},
        }


@dataclass
class Files:
    """The uploads of the account."""

    emu: Host
    by_id: dict[str, File] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)  # ids a DELETE reached
    lock: threading.Lock = field(default_factory=threading.Lock)

    def live(self, fid: str) -> File | None:
        f = self.by_id.get(fid)
        if f is None or self.emu.clock() - f.created > self.emu.faults.file_ttl:
            return None  # expired uploads are gone, as on the real service
        return f

    def all(self) -> list[File]:
        with self.lock:
            return [f for f in self.by_id.values() if self.live(f.id)]

    def delete(self, fid: str) -> bool:
        with self.lock:
            if self.live(fid) is None:
                return False
            del self.by_id[fid]
            self.deleted.append(fid)
            return True

    def upload(self, ctype: str, body: bytes) -> File | str:
        """A new file from a multipart body, or why it is refused."""
        msg = BytesParser(policy=default).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + body
        )
        if not msg.is_multipart():
            return "the body must be multipart/form-data"
        parts = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
        content = parts.get("content")
        if content is None:
            return "multipart part 'content' is missing"
        data = content.get_payload(decode=True) or b""
        name = content.get_filename() or "file"
        if "filename" in parts:
            name = _text(parts["filename"]) or name
        mime = content.get_content_type() if content.get("content-type") else ""
        if "type" in parts:
            mime = _text(parts["type"]) or mime
        metadata: dict[str, Any] = {}
        if "metadata" in parts:
            try:
                metadata = json.loads(_text(parts["metadata"]) or "{}")
            except ValueError:
                return "metadata must be valid JSON"
            if not isinstance(metadata, dict):
                return "metadata must be a JSON object"
        f = File(
            id=new_id(),
            name=name,
            content_type=mime or "application/octet-stream",
            data=data,
            metadata=metadata,
            created=self.emu.clock(),
        )
        with self.lock:
            self.by_id[f.id] = f
        return f


def _text(part: Any) -> str:
    return (part.get_payload(decode=True) or b"").decode("utf-8", "replace").strip()
