"""The panel's state as plain data: what each model accepts (so the front end holds no copy of
the schema), one history node as the front end draws it, and the HTML shown where no widget
manager runs (GitHub, nbviewer, nbconvert)."""

from __future__ import annotations

import html
from typing import Any

from .. import models
from ..references import ROLES


def choices() -> dict[str, Any]:
    """What each model accepts, so the front end holds no copy of the schema."""
    out = {}
    for mid, spec in models.MODELS.items():
        out[mid] = {
            "title": spec.title,
            "resolutions": list(spec.fields["resolution"].choices or ())
            if spec.has_resolution
            else [],
            "aspect_ratios": list(spec.aspect_ratios),
            "formats": list(spec.fields["output_format"].choices or ()),
            "google_search": spec.has_grounding,
            "image_search": "image_search" in spec.fields,
            "max_references": spec.max_references,
        }
    return {"models": out, "roles": list(ROLES)}


def node_state(turn: Any, thumb: bytes) -> dict[str, Any]:
    """One node of the edit tree, as the front end draws it."""
    r = turn.result
    p = r.params
    w, h = r.size
    return {
        "id": r.id, "number": r.number, "kind": turn.kind,
        "parent": turn.parent.result.id if turn.parent else None,
        "prompt": p.prompt, "model": p.model, "resolution": p.resolution or "",
        "aspect_ratio": p.effective_aspect_ratio(), "format": p.output_format,
        "google_search": p.google_search, "image_search": p.image_search,
        "width": w, "height": h, "offline": r.offline, "cached": r.cached,
        "cost": r.cost, "time": r.record.get("wall_time"),
        "references": [ref.name if ref.role != "edit" else "edited image"
                       for ref in p.references],
        "thumb": thumb,
    }  # fmt: skip


def static_html(session: Any) -> str:
    from ..views.html import history_html, result_html

    parts = [f"<div class='nb2-panel-static'><b>nb2 panel</b> · session "
             f"{html.escape(session.name)}</div>"]  # fmt: skip
    current = session.current
    if current is not None:
        parts.append(result_html(current))
    if len(session.history):
        parts.append(history_html(session.history))
    return "\n".join(parts)
