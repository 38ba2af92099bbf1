"""``Result``: one stored run, as a user holds it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..imaging import open_file

if TYPE_CHECKING:
    from ..params import Params
    from ..store import Store
    from .session import Session


class GroundedSnapshotWarning(UserWarning):
    """A grounded result came from the store: it shows the web of its ``grounded_at`` time."""


class Result:
    """A finished image: its record, its file in the store, its request.

    The image is read from disk on each access of :attr:`image` (keep it in a variable if you
    use it often), so a long session does not hold every picture in memory.
    """

    def __init__(
        self,
        record: dict[str, Any],
        store: Store,
        *,
        session: Session | None = None,
        params: Params | None = None,
        number: int = 0,
        cached: bool = False,
    ) -> None:
        self.record = record
        self.store = store
        self.session = session
        self.number = number  # the turn number in its session (1, 2, ...)
        self.cached = cached  # answered from the store, not the backend
        self._params = params

    @property
    def id(self) -> str:
        return str(self.record["run_id"])

    @property
    def params(self) -> Params:
        if self._params is None:
            from ..params import Params

            self._params = Params.from_dict(self.record["params"], self.store.read_image)
        return self._params

    @property
    def path(self) -> Path:
        out = self.record["output"]
        path = self.store.image_path(out["sha256"], out.get("format"))
        if path is None:
            raise FileNotFoundError(f"the image of run {self.id} is missing from {self.store.root}")
        return path

    @property
    def image(self) -> Any:
        return open_file(self.path)

    @property
    def size(self) -> tuple[int, int]:
        out = self.record["output"]
        return int(out["width"]), int(out["height"])

    @property
    def offline(self) -> bool:
        return bool(self.record.get("backend", {}).get("offline"))

    @property
    def grounded_at(self) -> str | None:
        """When a grounded (web search) result was made: the web it saw is a snapshot of then.

        None for a result without grounding. A cached result still says the original time.
        """
        if not self.record.get("params", {}).get("google_search"):
            return None
        return self.record.get("grounded_at") or self.record.get("completed_at")

    @property
    def cost(self) -> float:
        """Estimated USD (0 offline); see nb2.models.PRICE_SOURCE."""
        return float(self.record.get("estimated_cost") or 0.0)

    @property
    def parent(self) -> Result | None:
        if self.session is None:
            return None
        return self.session.parent_of(self)

    def edit(self, instruction: str, **options: Any) -> Result:
        """A follow-up edit of this image (a branch if it is not the latest)."""
        return self._session().edit(instruction, parent=self, **options)

    def upscale(self, resolution: str = "4K") -> Result:
        """The same request again at a higher resolution (the resolution ladder)."""
        return self._session().upscale(self, resolution)

    def _session(self) -> Session:
        if self.session is None:
            raise RuntimeError(
                "this result is not attached to a Session (it was read from a store); "
                "edit a result of a session, or repeat its request: session.run(result.params)"
            )
        return self.session

    def __repr__(self) -> str:
        p = self.record["params"]
        w, h = self.size
        bits = [
            f"#{self.number}" if self.number else self.id,
            self.record.get("kind", "generate"),
            f"{w}x{h}",
            p["output_format"],
            repr(_short(p["prompt"])),
        ]
        if self.offline:
            bits.append("offline")
        if self.cached:
            bits.append("cached")
        if self.cached and self.grounded_at:
            bits.append(f"web snapshot of {self.grounded_at}")
        return f"<nb2.Result {' '.join(bits)}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from ..views.html import result_html

        return {"text/plain": repr(self), "text/html": result_html(self)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Result) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def snapshot_warning(result: Result) -> GroundedSnapshotWarning:
    """What a grounded result from the store is: the web of then, not a new search."""
    return GroundedSnapshotWarning(
        f"nb2: {_short(result.params.prompt)!r} is grounded and comes from the store: "
        f"it is a snapshot of the web at {result.grounded_at}, not a fresh search "
        "(pass fresh=True to search again; said once per session)"
    )


def _short(text: str, n: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
