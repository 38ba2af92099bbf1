"""``nb2.Duel``: blind pairwise judging in the notebook.

Two images at a time, sides at random, nothing about them shown until the choice is made; keys
(or buttons) for left / right / tie / skip. What to show and the ranking are the engine's
(judging/duel.py); every choice is a record in the store, so a duel survives a restart.
"""

from __future__ import annotations

import itertools
from typing import Any

import traitlets as t

from ..errors import ValidationError
from ..judging.duel import Pairwise
from ..views.tables import Table
from .panel_state import image_or_empty
from .widgets import STATIC, MessageWidget

SIDE = 768  # each image of the pair: half a notebook column at 2x


class Duel(MessageWidget):
    """``nb2.Duel(grid_or_results, by=None, rater=None)``: judge blind, then ``ranking()``."""

    _esm = STATIC / "duel.js"
    _css = STATIC / "duel.css"

    left = t.Bytes(b"").tag(sync=True)
    right = t.Bytes(b"").tag(sync=True)
    pair = t.Unicode("").tag(sync=True)  # an opaque token for the pair on screen ("" = none)
    axis = t.Unicode("").tag(sync=True)  # what the ranking is by ("" = each image)
    done = t.Int(0).tag(sync=True)  # choices stored for this duel (all raters)
    reveal = t.Dict().tag(sync=True)  # the last pair, unmasked once chosen
    ranking_rows = t.List(t.Dict()).tag(sync=True)  # by code (P1), as the page stays blind

    def __init__(
        self,
        items: Any,
        by: str | None = None,
        rater: str | None = None,
        *,
        name: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.pairwise = Pairwise(items, by, rater, name=name, seed=seed)
        self._tokens = itertools.count(1)
        self._shown: tuple[Any, Any] | None = None
        super().__init__({"choose": self._on_choose, "next": self._on_next}, axis=by or "")
        self._advance()

    # -- for code ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.pairwise.name

    @property
    def shown(self) -> tuple[Any, Any] | None:
        """The two Results on screen (left, right), or None."""
        return self._shown

    def record(self, a: Any, b: Any, choice: str) -> dict[str, Any]:
        """Store a choice made in code, as the widget does: ``a`` shown left, ``b`` right,
        ``choice`` "left", "right", "tie" or "skip"."""
        record = self.pairwise.record(a, b, choice)
        self._after(record)
        if self._shown is not None and {r.id for r in self._shown} == {
            record["left"],
            record["right"],
        }:
            self._advance()  # fmt: skip
        return record

    def choices(self, rater: str | None = None) -> list[dict[str, Any]]:
        return self.pairwise.choices(rater)

    def ranking(
        self, by: str | None = None, rater: str | None = None, judge: Any = None,
        weight: float = 1.0,
    ) -> Table:  # fmt: skip
        """A Bradley-Terry score per value of ``by`` with its 95% interval, a judge's scores
        mixed in when given; see :meth:`nb2.judging.duel.Pairwise.ranking`."""
        return self.pairwise.ranking(by, rater, judge, weight)

    def next_pair(self) -> tuple[Any, Any] | None:
        """Move on to a new pair (the one on screen is left unjudged); returns it."""
        self._advance()
        return self._shown

    # -- messages ---------------------------------------------------------------------------
    def _on_choose(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self._shown is None or msg.get("pair") != self.pair:
            raise ValidationError(
                "duel: that pair is no longer on screen (already judged)",
                field="pair", value=msg.get("pair"), allowed=self.pair or "none",
            )  # fmt: skip
        left, right = self._shown
        record = self.pairwise.record(left, right, str(msg.get("choice")))
        self._after(record)
        self._advance()
        return {"choice": record["choice"]}

    def _on_next(self, _msg: dict[str, Any]) -> dict[str, Any]:
        self._advance()
        return {}

    # -- state ------------------------------------------------------------------------------
    def _after(self, record: dict[str, Any]) -> None:
        a = self.pairwise.item(record["left"])
        b = self.pairwise.item(record["right"])
        self.reveal = {"left": a.labels, "right": b.labels, "choice": record["choice"],
                       "left_id": a.result.id, "right_id": b.result.id}  # fmt: skip

    def _advance(self) -> None:
        pair = self.pairwise.next_pair()
        with self.hold_sync():
            self.done = len(self.pairwise.choices())
            self.ranking_rows = [_coded(row) for row in self.pairwise.ranking().rows]
            if pair is None:
                self._shown, self.pair, self.left, self.right = None, "", b"", b""
                return
            self._shown = pair
            self.left = image_or_empty(pair[0], SIDE, 85)
            self.right = image_or_empty(pair[1], SIDE, 85)
            self.pair = f"p{next(self._tokens)}"

    def __repr__(self) -> str:
        by = self.pairwise.by or "image"
        return (
            f"<nb2.Duel {self.name}: {len(self.pairwise.items)} images by {by}, "
            f"{len(self.pairwise.choices())} choices>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        data["text/plain"] = repr(self)  # blind: nothing about the images where no widget runs
        return data, meta


def _coded(row: dict[str, Any]) -> dict[str, Any]:
    """A ranking row for the page: a grid's prompt by its code (P1), not its text. The duel is
    blind, and the page's state is readable there; ``ranking()`` in code names the prompt."""
    if "label" not in row:
        return row
    return {k: row["label"] if k == "value" else v for k, v in row.items() if k != "label"}
