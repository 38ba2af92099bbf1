"""``Result``: one stored run, as a user holds it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..anymodel.chain import chain_manifest, then
from ..imaging import open_file
from ..judging.diff import diff
from ..request.inputs import ModelInput, is_model_input
from ..request.params import Params
from ..store.judgments import Judgments

if TYPE_CHECKING:
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
            data = self.record["params"]
            build = ModelInput.from_dict if is_model_input(data) else Params.from_dict
            self._params = build(data, self.store.read_image)
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
    def cost_known(self) -> bool:
        """False when nb2 does not know this model's price (see nb2.models.set_price)."""
        return (
            self.offline or self.record.get("cost", self.record.get("estimated_cost")) is not None
        )

    @property
    def cost(self) -> float:
        """USD: exact where the API reported its tokens (the Gemini API: ``record["cost"]``),
        else the estimate (0 offline, and 0 when unknown: see cost_known); see
        nb2.models.PRICE_SOURCE."""
        exact = self.record.get("cost")
        return float(exact if exact is not None else self.record.get("estimated_cost") or 0.0)

    @property
    def parent(self) -> Result | None:
        if self.session is None:
            return None
        return self.session.parent_of(self)

    # -- judgments (their own records in the store; the image and the run are never rewritten)
    def rate(self, score: int | None, note: str = "", rater: str | None = None) -> Result:
        """Rate this image 1 to 5 (None clears), with an optional note and rater's name.

        The rating is a small record of its own in the store, so it survives a restart and
        shows wherever this run shows; returns this result."""
        Judgments(self.store).rate(self.id, score, note, rater)
        return self

    @property
    def rating(self) -> int | None:
        """The newest rating (1 to 5), or None when unrated or cleared."""
        found = self._rating()
        return None if found is None else int(found["score"])

    @property
    def note(self) -> str:
        """The note of the newest rating ("" when none)."""
        found = self._rating()
        return "" if found is None else str(found.get("note") or "")

    def _rating(self) -> dict[str, Any] | None:
        return Judgments(self.store).rating(self.id)

    def diff(self, other: Any = None) -> Any:
        """What changed from ``other`` (a Result, path or PIL image; by default the image this
        edit built on) to this image: see :func:`nb2.diff`."""
        base = other if other is not None else self.parent
        if base is None:
            raise ValueError(
                f"run {self.id} has no parent in a session; pass the image to compare with"
            )
        return diff(base, self)

    def judge(self, judge: Any = None) -> Any:
        """How well this image follows its prompt: its questions, answers and score (see
        :class:`nb2.Judge`; stored, so asking again costs nothing)."""
        # here: the judge's rules load on the first judgment, not with every Result
        from ..judging.judge import Judge

        return (judge if judge is not None else Judge()).judge(self)

    @property
    def judgment(self) -> Any:
        """The newest stored judgment of this image by any judge (a ``Judgment``), or None."""
        found = Judgments(self.store).scored(self.id)
        if found is None:
            return None
        # here: as in judge() above, the judge's module loads only when there is a judgment
        from ..judging.judge import Judgment

        return Judgment.from_dict(found)

    def edit(self, instruction: str, **options: Any) -> Result:
        """A follow-up edit of this image (a branch if it is not the latest)."""
        return self._session().edit(instruction, parent=self, **options)

    def then(self, model: str, *, image: str | None = None, **inputs: Any) -> Result:
        """This image fed into another Replicate model (``image=`` names its image input when
        it has several); the new result's parent is this one. ``fresh``, ``cancel`` and
        ``on_status`` work as in ``generate``."""
        return then(self._session(), self, model, image=image, **inputs)

    def manifest(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """This result's provenance: each step from the root request to it (a chain's models,
        versions, inputs and images by hash), as JSON; written to ``path`` when given."""
        return chain_manifest(self, path)

    @property
    def siblings(self) -> list[Result]:
        """The other outputs of the same prediction (a ``num_outputs`` > 1 run), in order."""
        first = self.record.get("sibling_of") or self.id
        if self.session is None:
            return []
        return [r for r in self.session.history if r.id != self.id and
                (r.id == first or r.record.get("sibling_of") == first)]  # fmt: skip

    def upscale(self, resolution: str = "4K") -> Result:
        """The same request again at a higher resolution (the resolution ladder)."""
        return self._session().upscale(self, resolution)

    def as_cached(self) -> Result:
        """This result (the same turn, equal to it) as a cache hit: an identical request
        answered again from the store says so, in this kernel as after a restart."""
        return Result(
            self.record, self.store, session=self.session, params=self._params,
            number=self.number, cached=True,
        )  # fmt: skip

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
            p.get("output_format") or str(self.record["output"].get("format")),
            repr(_short(p["prompt"])),
        ]
        if p.get("schema"):
            bits.insert(2, str(p.get("model", "")).split("/")[-1])
        if self.offline:
            bits.append("offline")
        if self.rating is not None:
            bits.append(f"rated {self.rating}/5")
        if (j := self.judgment) is not None:
            bits.append(f"judged {j.score:.2f}")
        if self.cached:
            bits.append("cached")
        if self.cached and self.grounded_at:
            bits.append(f"web snapshot of {self.grounded_at}")
        return f"<nb2.Result {' '.join(bits)}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # here, not at the top: the HTML views load on the first display (~10 ms of import)
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
