"""The panel's reference strip: ordered reference images, each with a stable key for the front
end and the name it arrived with. Every change is checked here, in Python, whatever the browser
already checked: type, size and count of uploads, roles, positions."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError
from ..request.references import ROLES, Reference

THUMB_SIDE = 96
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
UPLOAD_FORMATS = ("PNG", "JPEG", "WEBP")


@dataclass
class Slot:
    key: str
    ref: Reference
    name: str


class ReferenceStrip:
    def __init__(self) -> None:
        self.slots: list[Slot] = []

    def __iter__(self) -> Iterator[Slot]:
        return iter(self.slots)

    def __len__(self) -> int:
        return len(self.slots)

    def references(self) -> list[Reference]:
        return [slot.ref for slot in self.slots]

    def add(self, ref: Reference, name: str, limit: int, model: str) -> str:
        self._room(name, limit, model)
        ref.load()  # a bad file is refused here, with its name
        key = f"r{time.monotonic_ns()}"
        self.slots.append(Slot(key, ref, name))
        return key

    def upload(self, data: bytes, name: str, role: Any, limit: int, model: str) -> str:
        """A file from the browser: count and size first (cheap), then what Pillow sees."""
        self._room(name, limit, model)
        if len(data) > MAX_UPLOAD_BYTES:
            raise ValidationError(
                f"reference {name!r}: {len(data) / 2**20:.1f} MB is too large; "
                f"at most {MAX_UPLOAD_BYTES // 2**20} MB",
                field="file", value=len(data), allowed=f"at most {MAX_UPLOAD_BYTES} bytes",
            )  # fmt: skip
        ref = Reference(data, role=check_role(role))
        try:
            fmt = ref.load().format
        except ValidationError:
            fmt = None
        if fmt not in UPLOAD_FORMATS:
            raise ValidationError(
                f"reference {name!r}: not a readable image; allowed: PNG, JPEG, WEBP",
                field="file", value=name, allowed=UPLOAD_FORMATS,
            )  # fmt: skip
        return self.add(ref, name, limit, model)

    def remove(self, key: Any) -> None:
        del self.slots[self._index(key)]

    def set_role(self, key: Any, role: Any) -> None:
        i = self._index(key)
        slot = self.slots[i]
        self.slots[i] = Slot(slot.key, slot.ref.with_role(check_role(role)), slot.name)

    def move(self, key: Any, to: Any) -> None:
        i = self._index(key)
        if not isinstance(to, int) or not 0 <= to < len(self.slots):
            raise ValidationError(
                f"move_reference: position {to!r} is outside 0..{len(self.slots) - 1}",
                field="to", value=to, allowed=f"0..{len(self.slots) - 1}",
            )  # fmt: skip
        self.slots.insert(to, self.slots.pop(i))

    def state(self) -> list[dict[str, Any]]:
        """What the front end shows: the thumbnail travels as bytes (a binary buffer)."""
        return [
            {"key": s.key, "name": s.name, "role": s.ref.role or "",
             "width": s.ref.load().width, "height": s.ref.load().height,
             "thumb": s.ref.thumbnail(THUMB_SIDE)}
            for s in self.slots
        ]  # fmt: skip

    def _room(self, name: str, limit: int, model: str) -> None:
        if len(self.slots) >= limit:
            raise ValidationError(
                f"references: {name!r} would be number {len(self.slots) + 1}; "
                f"{model} takes at most {limit}",
                field="references", value=len(self.slots) + 1, allowed=f"at most {limit}",
            )  # fmt: skip

    def _index(self, key: Any) -> int:
        for i, slot in enumerate(self.slots):
            if slot.key == key:
                return i
        raise ValidationError(
            f"reference {key!r} is not in the panel", field="ref", value=key,
            allowed=[slot.key for slot in self.slots],
        )  # fmt: skip


def check_role(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise ValidationError(
            f"role: {value!r} is not a role; use one of {', '.join(ROLES)} or short free text",
            field="role", value=value, allowed=ROLES,
        )  # fmt: skip
    return value
