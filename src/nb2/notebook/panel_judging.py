"""The panel's judging messages (issue 15), kept out of panel.py: ``rate`` a node (1 to 5, 0 or
None clears) and ``diff`` two nodes (the difference map as a binary buffer, with its figures).
The front end's stars and its "difference" compare mode are drawn by js/ (issue 17 owns the
panel's look); these answer them."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from ..errors import ValidationError
from ..judging.diff import diff
from .panel_state import node_of

MAP_SIDE = 1536  # the difference map, as large as the selected image's rendition

Handler = Callable[[dict[str, Any], list[bytes]], tuple[dict[str, Any], list[bytes]]]


def handlers(panel: Any) -> dict[str, Handler]:
    """Message handlers for ``panel`` (a Panel): ``{"rate": ..., "diff": ...}``."""

    def rate(msg: dict[str, Any], _b: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        result = node_of(panel.session, msg.get("node") or panel.selected)
        score = msg.get("score")
        result.rate(None if score in (None, 0) else score, note=str(msg.get("note") or ""))
        rating = result.rating
        panel.history = [
            {**n, "rating": rating} if n.get("id") == result.id else n for n in panel.history
        ]
        return {"node": result.id, "rating": rating}, []

    def difference(msg: dict[str, Any], _b: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        nodes = msg.get("nodes") or panel.compare
        if not isinstance(nodes, list) or len(nodes) != 2:
            raise ValidationError(
                f"diff: {nodes!r} is not two nodes", field="nodes", value=nodes,
                allowed="a list of two node ids",
            )  # fmt: skip
        a, b = (node_of(panel.session, n) for n in nodes)
        d = diff(a, b)
        img = d.image.copy()
        img.thumbnail((MAP_SIDE, MAP_SIDE))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=85)
        figures = {"changed": round(d.changed, 4), "ssim": round(d.ssim, 4),
                   "box": list(d.box) if d.box else None}  # fmt: skip
        return {"nodes": [a.id, b.id], **figures}, [out.getvalue()]

    return {"rate": rate, "diff": difference}
