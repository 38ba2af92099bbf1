"""Reference images: where they come from, their normalised bytes, and the role they play.

A reference is loaded once: its bytes are normalised (orientation applied, downscaled to a sane
longest side), hashed, and from then on identified by that hash (in cache keys and records).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ValidationError

DEFAULT_MAX_SIDE = 4096  # longest side sent to the model; larger images are downscaled
MAX_INPUT_BYTES = 50 * 1024 * 1024
MAX_INPUT_PIXELS = 64 * 1024 * 1024  # a 50 MP photo fits; a decompression bomb does not
MAX_ROLE_CHARS = 200
MAX_PROMPT_CHARS = 20_000  # a generous prompt is a few thousand; this stops pasted files
ROLES = ("subject", "style", "palette", "composition", "lighting", "material")
EDIT_ROLE = "edit"  # the image being edited: always image 1 of a follow-up edit
EDIT_PREFIX = "Using image 1 as the base image, "

# How the vendors advise naming each image's job in the prompt.
_ROLE_SENTENCES = {
    "subject": "Keep the subject of image {n} (same identity, shape and details).",
    "style": "Render it in the style of image {n}.",
    "palette": "Use the colour palette from image {n}.",
    "composition": "Follow the composition and framing of image {n}.",
    "lighting": "Match the lighting of image {n}.",
    "material": "Use the materials and textures from image {n}.",
}
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_EXT = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


@dataclass(frozen=True)
class ImageData:
    """Normalised image bytes and what is known about them."""

    data: bytes
    format: str  # PNG | JPEG | WEBP
    width: int
    height: int
    sha256: str

    @property
    def mime(self) -> str:
        return _MIME[self.format]

    @property
    def ext(self) -> str:
        return _EXT[self.format]

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


class Reference:
    """A reference image for a request: a path, an http(s) URL, a PIL image or bytes.

    ``role`` is one of ROLES or free text ("the dog's collar"); it is composed into the prompt.
    The image is read and checked on first use (or at once with :meth:`load`).
    """

    def __init__(self, source: Any, role: str | None = None, *, max_side: int = DEFAULT_MAX_SIDE):
        if isinstance(source, Reference):
            role = role if role is not None else source.role
            source = source.source
        if role is not None and (not isinstance(role, str) or not role.strip()):
            raise ValidationError(
                f"reference role: {role!r} is not a role; use one of {', '.join(ROLES)} "
                "or a short free-text description",
                field="role",
                value=role,
                allowed=ROLES,
            )
        if role is not None and len(role) > MAX_ROLE_CHARS:
            raise ValidationError(
                f"reference role: {len(role)} characters; a role is a few words, at most "
                f"{MAX_ROLE_CHARS}",
                field="role",
                value=role[:40] + "…",
                allowed=f"at most {MAX_ROLE_CHARS} characters",
            )
        if role is not None:
            check_text("role", role)
        self.source = source
        self.role = role.strip() if role else None
        self.max_side = max_side
        self._image: ImageData | None = None

    @property
    def name(self) -> str:
        """A short human name: the file name, the URL's last part, or the kind of object."""
        src = self.source
        if isinstance(src, (str, os.PathLike)):
            text = os.fspath(src)
            return text.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or text
        if isinstance(src, (bytes, bytearray)):
            return f"bytes-{self.load().sha256[:8]}"
        return f"image-{self.load().sha256[:8]}"

    def load(self) -> ImageData:
        if self._image is None:
            self._image = normalise(
                _read(self.source, self.name_hint()), self.max_side, self.name_hint()
            )
        return self._image

    def with_role(self, role: str | None) -> Reference:
        """The same image under another role (its decoded bytes shared, not read again)."""
        new = Reference(self.source, role=role, max_side=self.max_side)
        new._image = self._image
        return new

    def name_hint(self) -> str:
        src = self.source
        return os.fspath(src) if isinstance(src, (str, os.PathLike)) else type(src).__name__

    @property
    def sha256(self) -> str:
        return self.load().sha256

    @property
    def data(self) -> bytes:
        return self.load().data

    def thumbnail(self, max_side: int = 160) -> bytes:
        """A small JPEG of the reference, for cards and the panel."""
        from ..imaging import thumbnail_bytes

        return thumbnail_bytes(self.data, max_side)

    def __repr__(self) -> str:
        role = f", role={self.role!r}" if self.role else ""
        return f"Reference({self.name_hint()!r}{role})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reference):
            return NotImplemented
        return self.sha256 == other.sha256 and self.role == other.role

    def __hash__(self) -> int:
        return hash((self.sha256, self.role))


def as_reference(item: Any, index: int = 0) -> Reference:
    """Coerce what a user passes in ``references=[...]`` to a Reference."""
    if isinstance(item, Reference):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        return Reference(item[0], role=item[1])
    if isinstance(item, (str, os.PathLike, bytes, bytearray)) or _is_pil(item):
        return Reference(item)
    raise ValidationError(
        f"references[{index}]: {type(item).__name__} is not an image; pass a path, an http(s) "
        "URL, a PIL image, bytes, or nb2.Reference(source, role=...)",
        field=f"references[{index}]",
        value=type(item).__name__,
        allowed="path | URL | PIL.Image | bytes | nb2.Reference",
    )


def compose_prompt(prompt: str, references: tuple[Reference, ...] | list[Reference]) -> str:
    """The prompt as sent: the user's text, then one sentence per image that has a role."""
    sentences = []
    for n, ref in enumerate(references, 1):
        if ref.role and ref.role != EDIT_ROLE:
            template = _ROLE_SENTENCES.get(ref.role.lower(), "Image {n}: {role}.")
            sentences.append(template.format(n=n, role=ref.role.rstrip(".")))
    head = prompt.strip()
    if references and references[0].role == EDIT_ROLE:
        head = EDIT_PREFIX + head
    return head + ("\n" + " ".join(sentences) if sentences else "")


def _is_pil(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "save")


def _read(source: Any, name: str) -> bytes | Any:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    if _is_pil(source):
        return source
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return _download(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValidationError(
                f"reference {name!r}: no such file",
                field="references",
                value=name,
                allowed="an existing image file, an http(s) URL, a PIL image or bytes",
            )
        if path.stat().st_size > MAX_INPUT_BYTES:
            raise ValidationError(
                f"reference {name!r}: {path.stat().st_size} bytes is more than the "
                f"{MAX_INPUT_BYTES} allowed",
                field="references",
                value=name,
                allowed=f"at most {MAX_INPUT_BYTES} bytes",
            )
        return path.read_bytes()
    raise ValidationError(
        f"reference: {type(source).__name__} is not an image source",
        field="references",
        value=type(source).__name__,
        allowed="path | URL | PIL.Image | bytes",
    )


def _download(url: str) -> bytes:
    import httpx

    # No credentials: a reference host is not the API host.
    try:
        with httpx.Client(follow_redirects=True, timeout=30.0) as client:
            r = client.get(url)
    except httpx.HTTPError as exc:  # unreachable, refused, timed out: the user's input is bad
        raise ValidationError(
            f"reference {url!r}: could not download it ({type(exc).__name__})",
            field="references",
            value=url,
            allowed="a reachable image URL",
        ) from None
    if r.status_code != 200:
        raise ValidationError(
            f"reference {url!r}: HTTP {r.status_code} when downloading it",
            field="references",
            value=url,
            allowed="a reachable image URL",
        )
    return r.content


def normalise(raw: bytes | Any, max_side: int, name: str = "image") -> ImageData:
    """Check that ``raw`` is an image and bring it to a sendable form.

    Bytes that are already PNG, JPEG or WebP, upright and small enough, are kept exactly (so a
    file's hash is its own); anything else is re-encoded (PNG when lossless or transparent).
    """
    import warnings

    from PIL import Image

    if isinstance(raw, (bytes, bytearray)) and not raw:
        raise ValidationError(
            f"reference {name!r} is empty (0 bytes)",
            field="references",
            value=name,
            allowed="PNG, JPEG, WebP, GIF, BMP or TIFF images",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = raw if _is_pil(raw) else Image.open(io.BytesIO(raw))
            _check_pixels(img, name)  # from the header, before a bomb is decoded
            img.load()
    except ValidationError:
        raise
    except Exception as exc:  # a hostile file can make Pillow raise almost anything
        raise ValidationError(
            f"reference {name!r} is not a readable image ({type(exc).__name__})",
            field="references",
            value=name,
            allowed="PNG, JPEG, WebP, GIF, BMP or TIFF images",
        ) from None
    src_format = None if _is_pil(raw) else img.format
    orientation = img.getexif().get(0x0112, 1) if src_format else 1
    if (
        src_format in _MIME
        and orientation == 1
        and max(img.size) <= max_side
        and isinstance(raw, bytes)
    ):
        return ImageData(raw, src_format, img.width, img.height, hashlib.sha256(raw).hexdigest())
    try:
        return _reencode(img, src_format, max_side)
    except Exception as exc:  # an odd mode ("La", "I;16"...) Pillow cannot convert or save
        raise ValidationError(
            f"reference {name!r}: an image in mode {img.mode!r} that cannot be re-encoded "
            f"({type(exc).__name__}); convert it to RGB or RGBA first",
            field="references",
            value=name,
            allowed="RGB, RGBA, L or LA images",
        ) from None


def _reencode(img: Any, src_format: str | None, max_side: int) -> ImageData:
    import io

    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    lossless = src_format != "JPEG" or "A" in img.getbands()
    out = io.BytesIO()
    if lossless:
        img = img if img.mode in ("RGB", "RGBA", "L", "LA") else img.convert("RGBA")
        img.save(out, "PNG")
        fmt = "PNG"
    else:
        img.convert("RGB").save(out, "JPEG", quality=95)
        fmt = "JPEG"
    data = out.getvalue()
    return ImageData(data, fmt, img.width, img.height, hashlib.sha256(data).hexdigest())


def _check_pixels(img: Any, name: str) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise ValidationError(
            f"reference {name!r}: {w}x{h} has no pixels",
            field="references",
            value=name,
            allowed="an image at least 1x1",
        )
    if w * h > MAX_INPUT_PIXELS:
        raise ValidationError(
            f"reference {name!r}: {w}x{h} is more than the {MAX_INPUT_PIXELS} pixels allowed "
            "(the model downsizes inputs anyway)",
            field="references",
            value=name,
            allowed=f"at most {MAX_INPUT_PIXELS} pixels",
        )


def check_text(name: str, text: str) -> None:
    """Text the API can carry: valid Unicode (a lone surrogate cannot be sent as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{name}: character {exc.start} is a lone surrogate ({text[exc.start]!r}), which "
            "cannot be sent; remove it",
            field=name,
            value=text[max(0, exc.start - 10) : exc.start + 10],
            allowed="valid Unicode text",
        ) from None
