"""A grid's parts as data: ``Cell`` (one request and its outcome), ``Plan`` (what a run would
cost before it starts), the axes (labelled values; ``leave_one_out`` reference sets), and
``GridShape``: what a run's steps (plan, fan-out, batch, background, summary, manifest) read of
the grid, so they sit below ``grid.py`` that calls them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ValidationError
from ..request.references import as_reference
from ..views.html import plan_html

if TYPE_CHECKING:
    from ..request.inputs import ModelInput
    from ..request.params import Params
    from ..shapes import ResultShape as Result
    from ..shapes import SessionShape


class GridShape(Protocol):
    """A grid as its steps see it (``grid.Grid`` is one)."""

    session: SessionShape
    axes: dict[str, list[tuple[str, Any]]]
    fixed: dict[str, Any]
    cells: list[Cell]
    spent: float

    @property
    def stopping(self) -> threading.Event: ...
    def stop(self) -> None: ...
    def run_cell(self, cell: Cell, early: Callable[[], None] | None = None) -> None: ...
    def counts(self) -> dict[str, int]: ...


@dataclass
class Cell:
    labels: dict[str, str]  # axis -> shown value
    params: Params | ModelInput | None  # None: refused for its model before any call
    status: str = "pending"  # pending | cached | succeeded | failed | blocked | canceled | refused
    result: Result | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("cached", "succeeded")


@dataclass
class Plan:
    cells: int
    cached: int
    new_calls: int
    cost: float
    seconds: float
    concurrency: int
    offline: bool
    axes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # shared fields a model left out
    refused: list[str] = field(default_factory=list)  # cells refused for their own model
    unknown_prices: list[str] = field(default_factory=list)  # models with no known price
    unknown_cells: int = 0  # new calls whose price is unknown (not in cost)
    batch: bool = False  # one Batch API job at half the price
    paid_before: int = 0  # new calls with an earlier run lost after it may have been billed

    def __repr__(self) -> str:
        axes = " x ".join(f"{k} ({len(v)})" for k, v in self.axes.items()) or "none"
        cost = "0 (offline)" if self.offline else f"${self.cost:.2f}"
        if self.unknown_cells:
            cost += (
                f" + {self.unknown_cells} call(s) at an unknown price "
                f"({', '.join(self.unknown_prices)}; nb2.models.set_price)"
            )
        lines = [
            f"Plan: {self.cells} cells over {axes}",
            f"  cached:        {self.cached}",
            f"  new calls:     {self.new_calls}",
            f"  est. cost:     {cost}" + (" (Batch API: half price)" if self.batch else ""),
            f"  est. time:     {self.time_text()}",
        ]
        if self.paid_before:
            lines.append(
                f"  paid before:   {self.paid_before} of the new calls had an earlier run lost "
                "after it may have been billed (status 'lost'); they are paid for again"
            )
        lines += [f"  note:          {n}" for n in self.notes]
        lines += [f"  refused:       {r}" for r in self.refused]
        return "\n".join(lines)

    def time_text(self) -> str:
        """The wall time in words: nothing to call, a local stand-in, or waves of calls."""
        if self.new_calls == 0:
            return "none (every cell is in the store)"
        if self.offline:
            return "seconds (the offline stand-in renders locally)"
        if self.batch:
            return "one Batch API job: within 24 h, usually minutes"
        at_once = min(self.concurrency, self.new_calls)
        return f"~{duration(self.seconds)}, {at_once} call{'s' if at_once > 1 else ''} at once"

    def _repr_html_(self) -> str:
        return plan_html(self)


def leave_one_out(refs: list[Any]) -> dict[str, list[Any]]:
    """Named reference sets for an ablation: ``{"all": refs, "without <name>": refs minus one}``.

    ``refs`` takes what ``references=`` takes (paths, URLs, bytes, PIL images, ``Reference``
    objects, ``(source, role)`` pairs); the items are kept as given. Use it as the
    ``references`` axis: ``s.compare(prompt=..., references=nb2.leave_one_out(refs))``.
    """
    items = list(refs)
    sets: dict[str, list[Any]] = {"all": items}
    for i, item in enumerate(items):
        ref = as_reference(item, i)
        name = f"without {ref.name}" + (f" ({ref.role})" if ref.role else "")
        if name in sets:  # two images with one name: number them as they come
            name = f"{name} #{i + 1}"
        sets[name] = items[:i] + items[i + 1 :]
    return sets


def labelled(name: str, values: Any) -> list[tuple[str, Any]]:
    if name == "references" and isinstance(values, dict):
        return [(str(k), list(v)) for k, v in values.items()]
    if not isinstance(values, (list, tuple)) or not values:
        raise ValidationError(
            f"compare: axis {name!r} needs a non-empty list of values",
            field=name,
            value=values,
            allowed="a non-empty list",
        )
    if name == "references":
        return [(f"set {i + 1}", list(v)) for i, v in enumerate(values)]
    if name == "prompt":
        return [(f"P{i + 1}", v) for i, v in enumerate(values)]
    if name in ("google_search", "image_search"):
        return [("on" if v else "off", v) for v in values]
    return [(str(v).split("/")[-1], v) for v in values]


def duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"
