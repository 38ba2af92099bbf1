"""The panel's state as plain data: what each model accepts (so the front end holds no copy of
the schema), the form as request fields, one history node as the front end draws it, a node's
image (a readable error when its file left the store), and the HTML shown where no widget
manager runs (GitHub, nbviewer, nbconvert)."""

from __future__ import annotations

import html
import logging
from typing import Any

from .. import models
from ..backends import serves
from ..errors import MissingReferenceError, Nb2Error, ValidationError
from ..imaging import thumbnail_bytes
from ..request.references import ROLES

log = logging.getLogger("nb2")


def choices(backend: Any = None) -> dict[str, Any]:
    """What each model the backend serves accepts, so the front end holds no copy of the
    schema (the offline stand-in serves every one)."""
    out = {}
    for mid, spec in models.MODELS.items():
        if backend is not None and not serves(backend, spec):
            continue
        out[mid] = {
            "title": spec.title,
            "resolutions": list(spec.fields["resolution"].choices or ())
            if spec.has_resolution
            else [],
            "aspect_ratios": list(spec.aspect_ratios),
            "formats": list(spec.fields["output_format"].choices or ())
            if "output_format" in spec.fields
            else [],  # the Gemini API answers in its own format
            "google_search": spec.has_grounding,
            "image_search": "image_search" in spec.fields,
            "max_references": spec.max_references,
        }
    return {"models": out, "roles": list(ROLES)}


def form(choice: dict[str, Any], panel: Any) -> dict[str, Any]:
    """The panel's form as request fields, leaving out what the model (``choice``) lacks."""
    out: dict[str, Any] = {
        "model": panel.image_model,
        "aspect_ratio": panel.aspect_ratio,
    }
    if choice["formats"]:
        out["output_format"] = panel.output_format
    if choice["resolutions"]:
        out["resolution"] = panel.resolution
    if choice["google_search"]:
        out["google_search"] = panel.google_search
    if choice["image_search"]:
        out["image_search"] = panel.image_search
    return out


def read_image(result: Any) -> bytes:
    """A node's file, or an error that names the node and the store it is missing from."""
    try:
        return result.path.read_bytes()
    except OSError as exc:  # deleted by hand, or its bytes no longer match its hash
        raise MissingReferenceError(
            f"the image of #{result.number} is missing from the store at {result.store.root} "
            f"(run {result.id}; {exc})",
            missing=[{"sha256": result.record["output"]["sha256"],
                      "name": f"#{result.number}", "role": "node"}],
        ) from exc  # fmt: skip


def image_of(result: Any, side: int, quality: int) -> bytes:
    """A node's image at most ``side`` pixels (see :func:`read_image` for a missing file)."""
    return thumbnail_bytes(read_image(result), side, quality)


def image_or_empty(result: Any, side: int, quality: int) -> bytes:
    """:func:`image_of`, or empty bytes (the node is drawn without a picture) and a warning."""
    try:
        return image_of(result, side, quality)
    except (Nb2Error, OSError, ValueError) as exc:
        log.warning("panel: #%s is shown without its image: %s", result.number, exc)
        return b""


def node_state(turn: Any, thumb: bytes) -> dict[str, Any]:
    """One node of the edit tree, as the front end draws it."""
    r = turn.result
    p = r.params
    w, h = r.size
    return {
        "id": r.id, "number": r.number, "kind": turn.kind,
        "parent": turn.parent.result.id if turn.parent else None,
        "prompt": p.prompt, "model": p.model, "resolution": p.resolution or "",
        "aspect_ratio": p.effective_aspect_ratio(),
        "format": p.output_format or r.record["output"].get("format"),
        "grounding": r.record.get("grounding"), "cost_exact": r.record.get("cost") is not None,
        "google_search": p.google_search, "image_search": p.image_search,
        "width": w, "height": h, "offline": r.offline, "cached": r.cached,
        "cost": r.cost, "time": r.record.get("wall_time"), "rating": r.rating,
        "references": [ref.name if ref.role != "edit" else "edited image"
                       for ref in p.references],
        "thumb": thumb,
    }  # fmt: skip


def node_of(session: Any, node: Any) -> Any:
    """The Result of a history node id, or a named error."""
    for turn in session.history.turns:
        if turn.result.id == node:
            return turn.result
    raise ValidationError(
        f"node {node!r} is not in this session's history",
        field="node", value=node, allowed="the id of a history node",
    )  # fmt: skip


def prompt_of(text: str) -> str:
    if not text.strip():
        raise ValidationError(
            "prompt: write what to make (or, for an edit, what to change)",
            field="prompt", value=text, allowed="non-empty text",
        )  # fmt: skip
    return text


def static_html(session: Any, selected_id: str = "") -> str:
    """The selected node (else the session's current turn) large, then the history."""
    found = [t.result for t in session.history.turns if t.result.id == selected_id]
    selected = found[0] if found else None
    from ..views.html import history_html, result_html

    parts = [f"<div class='nb2-panel-static'><b>nb2 panel</b> · session "
             f"{html.escape(session.name)}</div>"]  # fmt: skip
    current = selected if selected is not None else session.current
    if current is not None:
        parts.append(result_html(current))
    if len(session.history):
        parts.append(history_html(session.history))
    return "\n".join(parts)
