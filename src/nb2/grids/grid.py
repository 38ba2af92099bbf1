"""``Grid``: the product of axes over fixed parameters, planned before anything is sent.

Every cell is a validated :class:`Params` at construction, so a value a model does not accept is
an error before any call. ``run`` fans the new cells out over a thread pool (fanout.py; the
backend's rate limiter is shared), keeps what finished when something fails or is interrupted,
and stops launching cells once the budget is spent; in the background (background.py) it leaves
the kernel free.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from .. import models
from .._version import __version__
from ..errors import (
    BudgetExceededError,
    CanceledError,
    ModerationError,
    Nb2Error,
    ReplayMissError,
    ValidationError,
)
from ..views.html import grid_html
from ..views.report import contact_sheet, to_html
from . import batched, frontends, manifests, summary
from .background import Background
from .cells import Cell, Plan, labelled
from .fanout import fan_out
from .plan import make_plan

__all__ = ["Background", "Cell", "Grid", "Plan"]

if TYPE_CHECKING:
    from ..shapes import ResultShape as Result
    from ..shapes import SessionShape as Session

log = logging.getLogger("nb2")
AXES = ("prompt", "model", "resolution", "aspect_ratio", "output_format", "google_search",
        "image_search", "references", "repeat")  # fmt: skip
DEFAULT_CONFIRM_CELLS = 64
MAX_CELLS = 10_000


class Grid:
    """Cells over axes; see :meth:`Session.compare`."""

    def __init__(
        self,
        session: Session,
        axes: dict[str, list[Any]],
        fixed: dict[str, Any],
        *,
        repeat: int = 1,
        confirm_cells: int = DEFAULT_CONFIRM_CELLS,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        self.session = session
        # values used only where a cell's model has the field (the magic's %config defaults)
        self.defaults = dict(defaults or {})
        self.axes: dict[str, list[tuple[str, Any]]] = {}
        for name, values in axes.items():
            if name not in AXES:
                raise ValidationError(
                    f"compare: {name!r} is not an axis; allowed: {', '.join(AXES)}",
                    field=name,
                    value=values,
                    allowed=list(AXES),
                )
            self.axes[name] = labelled(name, values)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
            raise ValidationError(
                f"compare: repeat={repeat!r} is not a number of samples",
                field="repeat", value=repeat, allowed="a whole number from 1",
            )  # fmt: skip
        size = math.prod(len(v) for v in self.axes.values()) * repeat
        if size > MAX_CELLS:  # counted before anything is built: 3,000,000 cells never are
            raise ValidationError(
                f"compare: {size} cells is more than the {MAX_CELLS} a grid can hold",
                field="cells", value=size, allowed=f"at most {MAX_CELLS} cells",
            )  # fmt: skip
        if repeat > 1:
            self.axes["repeat"] = [(f"#{i + 1}", i) for i in range(repeat)]
        self.fixed = fixed
        self.confirm_cells = confirm_cells
        self.cells: list[Cell] = [
            self._cell(combo) for combo in itertools.product(*self.axes.values())
        ]
        self.spent = 0.0
        self.first_plan: Plan | None = None  # the plan as the first run began (for reports)
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self.running: Background | None = None  # the latest background run, if any
        self._busy = False  # a run (foreground or background) is going

    @classmethod
    def from_axes(
        cls,
        session: Session,
        *,
        repeat: int = 1,
        confirm_cells: int | None = None,
        defaults: dict[str, Any] | None = None,
        **axes: Any,
    ) -> Grid:
        """Lists are axes, single values are fixed (see :meth:`Session.compare`)."""
        varying, fixed = {}, {}
        for name, value in axes.items():
            is_axis = isinstance(value, dict) or (
                isinstance(value, (list, tuple))
                and (
                    name != "references"
                    or (bool(value) and all(isinstance(v, (list, tuple)) for v in value))
                )
            )
            (varying if is_axis else fixed)[name] = value
        if "prompt" not in axes:
            raise ValidationError(
                "compare: prompt is required (a string or a list of them)",
                field="prompt",
                value=None,
                allowed="text or a list of texts",
            )
        confirm_cells = confirm_cells or DEFAULT_CONFIRM_CELLS
        return cls(session, varying, fixed, repeat=repeat, confirm_cells=confirm_cells,
                   defaults=defaults)  # fmt: skip

    def _cell(self, combo: tuple[tuple[str, Any], ...]) -> Cell:
        values = dict(self.fixed)
        labels = {}
        for name, (label, value) in zip(self.axes, combo, strict=True):
            values[name] = value
            labels[name] = label
        model = models.canonical_id(values.get("model") or self.session.defaults["model"])
        spec_fields = models.MODELS[model].fields if model in models.MODELS else {}
        for name, value in self.defaults.items():
            if name != "model" and name in spec_fields:
                values.setdefault(name, value)
        prompt = values.pop("prompt")
        try:
            params = self.session.params(prompt, **values)
        except ValidationError as exc:
            where = ", ".join(f"{k}={v}" for k, v in labels.items())
            if "model" in self.axes:  # refused for its own model only; the others still run
                return Cell(labels, None, status="refused", error=str(exc))
            raise ValidationError(
                f"cell [{where}]: {exc}", field=exc.field, value=exc.value, allowed=exc.allowed
            ) from None
        return Cell(labels, params)

    # -- planning ---------------------------------------------------------------------------
    def plan(self, max_concurrency: int = 8, *, batch: bool = False) -> Plan:
        """What a run would do (``batch=True``: as one Batch API job, at half the price)."""
        return make_plan(self, max_concurrency, batch)

    # -- running ----------------------------------------------------------------------------
    @overload
    def run(
        self, max_concurrency: int = ..., budget: float | None = ..., *, confirm: bool = ...,
        on_progress: Callable[[Grid], None] | None = ..., batch: bool = ...,
        background: Literal[False] = ..., show: bool = ...,
    ) -> Grid: ...  # fmt: skip
    @overload
    def run(
        self, max_concurrency: int = ..., budget: float | None = ..., *, confirm: bool = ...,
        on_progress: Callable[[Grid], None] | None = ..., batch: bool = ...,
        background: Literal[True], show: bool = ...,
    ) -> Background: ...  # fmt: skip
    def run(
        self,
        max_concurrency: int = 8,
        budget: float | None = None,
        *,
        confirm: bool = False,
        on_progress: Callable[[Grid], None] | None = None,
        batch: bool = False,
        background: bool = False,
        show: bool = True,
    ) -> Grid | Background:
        """Fill every cell; finished cells are kept whatever happens to the others.
        ``batch=True`` sends the new cells as one Batch API job (the Gemini API; half the
        price, results within 24 h, usually minutes): see :mod:`nb2.grids.batched`.
        ``background=True`` returns at once with a :class:`Background` handle (shown as a live
        progress line in a notebook unless ``show=False``); everything above is checked first,
        so a bad grid is still an error here, before anything is sent."""
        plan = self.plan(max_concurrency, batch=batch)
        if plan.cells > self.confirm_cells and not confirm:
            raise ValidationError(
                f"compare: {plan.cells} cells is more than {self.confirm_cells}; pass "
                "confirm=True (or --yes) to run them all",
                field="cells",
                value=plan.cells,
                allowed=f"up to {self.confirm_cells} without confirm",
            )
        if self.session.cache == "replay" and plan.new_calls:
            # replay means the notebook runs from the store alone: name every missing cell
            missing = [c for c in self.cells if c.params and not c.done and not self._stored(c)]
            where = "; ".join(", ".join(f"{k}={v}" for k, v in c.labels.items()) for c in missing)
            raise ReplayMissError(
                f"replay: {len(missing)} of {plan.cells} cells are not in the store at "
                f"{self.session.store.root}: [{where[:1500]}]; run with cache='auto' to make "
                "them",
                key=missing[0].params.cache_key,
            )
        if budget is not None and plan.cost > budget:
            raise BudgetExceededError(
                f"the plan costs an estimated ${plan.cost:.2f}, over the budget of "
                f"${budget:.2f}; nothing was started"
            )
        self._claim()  # one run of a grid at a time, in the foreground or not
        self._cancel.clear()
        self.first_plan = self.first_plan or plan
        # a cell moderation blocked is not sent again (retry_failed leaves it too)
        todo = [c for c in self.cells if not c.done and c.status not in ("blocked", "refused")]

        def work(progress: Callable[[Grid], None] | None) -> Grid:
            try:
                if batch:
                    return batched.run(self, todo, progress)
                fan_out(self, todo, max_concurrency, budget, progress)
                return self
            finally:
                self._busy = False

        if not background:
            return work(on_progress)

        def tell(grid: Grid) -> None:
            if on_progress:
                on_progress(grid)
            handle.changed()

        for cell in todo:  # what this run sends shows as waiting, not as its last failure
            cell.status, cell.error = "pending", None
        handle = Background(self, lambda: work(tell), todo=len(todo))
        try:
            if show:  # shown before it starts: the widgets' import does not race the grid's
                frontends.show("progress", handle)
        except Exception:  # the display is not the run: a grid must not hang on it
            log.exception("nb2: the background grid's progress could not be shown")
        try:
            self.running = handle.start()
        except BaseException:  # no thread, no run: the grid is free again
            self._busy = False
            raise
        return handle

    async def arun(
        self, max_concurrency: int = 8, budget: float | None = None, *, confirm: bool = False,
        batch: bool = False, show: bool = True,
    ) -> Grid:  # fmt: skip
        """``await g.arun()``: the grid runs in the background while the event loop goes on;
        cancelling the awaiting task cancels the grid (at the server too)."""
        handle = self.run(max_concurrency, budget, confirm=confirm, batch=batch,
                          background=True, show=show)  # fmt: skip
        return await handle.wait_async()

    def _stored(self, cell: Cell) -> bool:
        return self.session.lookup(cell.params) is not None

    def stop(self) -> None:
        self._cancel.set()

    @property
    def stopping(self) -> threading.Event:
        """Set by :meth:`stop` (and a Ctrl-C): every run of the grid cancels at the server."""
        return self._cancel

    def _claim(self) -> None:
        with self._lock:  # checked and taken at once: two runs of one grid never overlap
            if self._busy:
                raise Nb2Error(
                    "this grid is already running (in the background: wait() for it or cancel() it)"
                )
            self._busy = True

    def retry_failed(self, **kw: Any) -> Grid | Background:
        if self._busy:  # before any status is touched: the running grid keeps its reasons
            raise Nb2Error("this grid is already running: wait() for it or cancel() it")
        for cell in self.cells:
            if cell.status in ("failed", "error", "canceled"):
                cell.status, cell.error = "pending", None
        return self.run(**kw)

    def run_cell(self, cell: Cell, early: Callable[[], None] | None = None) -> None:
        """One cell, as a run does (``early``: called when its download starts)."""
        # A hit on a run this session already holds returns that Result (made fresh, so its
        # .cached is False): ask the store first so the cell still counts as cached, not spent.
        stored = self.session.cache != "off" and self._stored(cell)

        def status(phase: str) -> None:
            if phase == "downloading" and early is not None:
                early()

        try:
            result = self.session.run(
                cell.params, kind="grid", cancel=self._cancel, on_status=status
            )
        except ModerationError as exc:
            cell.status, cell.error = "blocked", str(exc)
        except CanceledError as exc:
            cell.status, cell.error = "canceled", str(exc)
        except Nb2Error as exc:
            cell.status, cell.error = "failed", str(exc)
        except Exception as exc:  # never swallowed: the cell says it, the log has the trace
            log.exception("nb2 grid: cell %s failed unexpectedly", cell.labels)
            cell.status, cell.error = "error", f"{type(exc).__name__}: {exc}"
        else:
            cell.result = result
            hit = result.cached or stored
            cell.status = "cached" if hit else "succeeded"
            if not hit:
                with self._lock:
                    self.spent += result.cost

    # -- views ------------------------------------------------------------------------------
    @property
    def results(self) -> list[Result | None]:
        return [c.result for c in self.cells]

    def records(self) -> list[dict[str, Any]]:
        return [
            {
                "labels": c.labels,
                "status": c.status,
                "error": c.error,
                "params": c.params.to_dict() if c.params is not None else None,
                "run_id": c.result.id if c.result else None,
                "path": str(c.result.path) if c.result else None,
                "cached": c.status == "cached",
                "wall_time": c.result.record.get("wall_time") if c.result else None,
                "cost": c.result.cost if c.result and c.status == "succeeded" else 0.0,
            }
            for c in self.cells
        ]

    def contact_sheet(self, thumb: int = 256) -> Any:
        """One PIL image with the axis labels: save it, paste it in a paper or a chat."""
        return contact_sheet(self, manifests.jsonable_fixed(self), thumb)

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """A self-contained HTML report (thumbnails inline) written to ``path``; returns it."""
        return to_html(
            self,
            path,
            fixed=manifests.jsonable_fixed(self),
            plan=repr(self.first_plan or self.plan()),
            backend=self.session.backend.describe(),
            version=__version__,
        )

    def manifest(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """The experiment as JSON (axes, fixed parameters, every cell's record), sorted keys;
        written to ``path`` when given. Compare two with :func:`diff_manifests`."""
        return manifests.manifest(self, path)

    def judge(
        self, judge: Any = None, *, plan: bool = False, on_progress: Any = None,
        max_concurrency: int = 8,
    ) -> Any:  # fmt: skip
        """Each cell's image against its prompt (``plan=True``: what it would ask, call and
        cost first). The session's verb does it: grids and judging stay apart."""
        cells = [(c.labels, c.result) for c in self.cells if c.params is not None]
        return self.session.judge(cells, judge, plan=plan, on_progress=on_progress,
                                  max_concurrency=max_concurrency)  # fmt: skip

    def summary(self, by: str | None = None) -> Any:
        """Per value of ``by``: cells, samples, ratings, win rate, cost, time (summary.py)."""
        return summary.summarize(self, by)

    def explore(self, **options: Any) -> Any:
        """The grid as a widget: two axes as rows and columns, the others as selectors."""
        return frontends.make("explore", self, **options)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.cells:
            out[c.status] = out.get(c.status, 0) + 1
        return out

    def __repr__(self) -> str:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts().items()))
        axes = " x ".join(f"{k} ({len(v)})" for k, v in self.axes.items())
        return f"<nb2.Grid {len(self.cells)} cells over {axes}: {counts}>"

    def _repr_html_(self) -> str:
        return grid_html(self)
