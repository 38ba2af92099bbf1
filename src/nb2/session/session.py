"""``Session``: conversational editing over a store and a backend.

A session is a tree of turns. ``generate`` starts a root; ``edit`` builds on the current turn
(or on ``parent=``, which makes a branch); ``checkout`` moves the current turn. Every request goes
through :meth:`Session.run`: the store first (unless the cache is off), then the backend, and
what comes back is written to the store before it is returned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import models
from ..anymodel.modelschemas import Schemas
from ..backends import Backend, StatusCallback, auto_backend
from ..errors import ValidationError
from ..request.inputs import ModelInput
from ..request.params import Params
from ..store import CACHE_MODES, Store
from . import persist, pipeline, recover, requests, runner
from .history import History, Turn
from .result import Result, snapshot_warning

if TYPE_CHECKING:
    from ..grids.grid import Grid

log = logging.getLogger("nb2")


class Session:
    """Generate, edit, branch and upscale, with every result stored.

    ``backend`` is a backend or its name (``"replicate"``, ``"gemini"``, ``"offline"``); by
    default ``NB2_BACKEND``, else Replicate when REPLICATE_API_TOKEN is set, else the Gemini API
    when GEMINI_API_KEY (or GOOGLE_API_KEY) is, else the offline stand-in. ``model`` defaults
    to the backend's own (``gemini-nano-banana-2.1`` on the Gemini API), else nano-banana-2;
    ``store`` is a folder (default ``./nb2-runs``); ``cache`` is ``auto``
    (reuse identical requests), ``replay`` (never call the backend) or ``off`` (default from
    ``NB2_CACHE``, else auto). The keyword defaults apply to every ``generate``. The tree is
    saved in the store under ``name`` and picked up by the next ``Session`` of that name
    (``resume=False``: a fresh tree, which replaces the saved one at its first turn).
    """

    def __init__(
        self,
        backend: Backend | str | None = None,
        store: Store | str | os.PathLike[str] | None = None,
        cache: str | None = None,
        *,
        name: str = "default",
        resume: bool = True,
        model: str | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        output_format: str = "png",
        google_search: bool = False,
        image_search: bool = False,
        references: list[Any] | None = None,
    ) -> None:
        cache = cache or os.environ.get("NB2_CACHE") or "auto"
        if cache not in CACHE_MODES:
            raise ValidationError(
                f"cache: {cache!r} is not a cache mode; allowed: {', '.join(CACHE_MODES)}",
                field="cache",
                value=cache,
                allowed=list(CACHE_MODES),
            )
        self.name = name
        self.cache = cache
        named = backend is None or isinstance(backend, str)  # "gemini", or None: the default
        self.backend: Backend = auto_backend(backend or None) if named else backend  # type: ignore[assignment]
        self.store = store if isinstance(store, Store) else Store(store)
        model = model or getattr(self.backend, "model", None) or models.DEFAULT_MODEL
        self.defaults: dict[str, Any] = {
            "model": models.canonical_id(model),
            "resolution": resolution,
            "aspect_ratio": aspect_ratio,
            "output_format": output_format,
            "google_search": google_search,
            "image_search": image_search,
        }
        self.references: list[Any] = list(references or [])
        self._turns: dict[str, Turn] = {}
        self._order: list[Turn] = []
        self._current: Turn | None = None
        self._lock = threading.RLock()
        self._listeners: list[Any] = []  # called with each new Result (the panel listens)
        self._snapshot_noted = False  # the grounded-replay note is said once per session
        self.schemas = Schemas(self)  # other models' input schemas: the store, else the API
        self.panel_selected: str | None = None  # the panel's selected node, kept with the tree
        self._saver = persist.Saver(self)
        if saved := persist.restore(self) if resume else None:
            self._turns, self._order, self._current, refs = saved
            self.references = self.references if references is not None else refs or []
        runner.announce(self.backend)
        self.recovered = recover.on_open(self.store, self.backend)

    def __repr__(self) -> str:
        return (
            f"Session({self.name!r}, backend={self.backend.name}, store={str(self.store.root)!r}, "
            f"cache={self.cache!r}, turns={len(self._order)})"
        )

    @property
    def current(self) -> Result | None:
        return self._current.result if self._current else None

    @property
    def history(self) -> History:
        with self._lock:
            return History(list(self._order), self._current)

    def generate(
        self,
        prompt: str,
        *,
        references: list[Any] | None = None,
        repeat: int = 0,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        fresh: bool = False,
        **options: Any,
    ) -> Result:
        """A new image (a new root of the tree). Options: model, resolution, aspect_ratio,
        output_format, google_search, image_search (and safety_filter_level,
        allow_fallback_model for nano-banana-pro)."""
        params = self.params(prompt, references=references, repeat=repeat, **options)
        return self.run(params, kind="generate", cancel=cancel, on_status=on_status, fresh=fresh)

    def params(
        self, prompt: str, *, references: list[Any] | None = None, repeat: int = 0, **options: Any
    ) -> Params | ModelInput:
        """The validated request ``generate`` would send, with the session's defaults."""
        return requests.generate_params(self, prompt, references, repeat, options)

    def edit(
        self,
        instruction: str,
        *,
        parent: Result | None = None,
        references: list[Any] | None = None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        fresh: bool = False,
        **options: Any,
    ) -> Result:
        """Edit the current image (or ``parent``, which makes a branch) by an instruction.

        The image being edited is sent first, then the parent's references (or
        ``references``). The aspect ratio follows the image unless given; model, resolution
        and grounding follow the parent's.
        """
        base, params = self.edit_params(
            instruction, parent=parent, references=references, **options
        )
        return self.run(
            params, kind="edit", parent=base, cancel=cancel, on_status=on_status, fresh=fresh
        )

    def edit_params(
        self,
        instruction: str,
        *,
        parent: Result | None = None,
        references: list[Any] | None = None,
        **options: Any,
    ) -> tuple[Result, Params]:
        """The parent and the validated request ``edit`` would send."""
        base = parent if parent is not None else self.current
        if base is None:
            raise ValidationError(
                "edit: no image to edit yet (made from code); call generate() first, or pass "
                "parent= (a panel's selection is panel.result)",
                field="parent",
                value=None,
                allowed="a Result of this session",
            )
        base = self._own(base)
        return base, requests.edit_params(self, base, instruction, references, options)

    def upscale(self, result: Result, resolution: str = "4K", **kw: Any) -> Result:
        """``result``'s request again at another resolution (same inputs, same prompt)."""
        result = self._own(result)
        params = result.params.replace(resolution=resolution)
        return self.run(params, kind="upscale", parent=result, **kw)

    def parent_of(self, result: Result) -> Result | None:
        """The result ``result`` was made from (an edit's base, an upscale's source), or None."""
        with self._lock:
            turn = self._turns.get(result.id)
            return turn.parent.result if turn and turn.parent else None

    def checkout(self, result: Result) -> Result:
        """Make ``result`` the current turn: the next ``edit`` builds on it."""
        result = self._own(result)
        with self._lock:
            self._show(self._turns[result.id])
        return result

    def adopt(self, result: Result) -> Result:
        """A stored run (nb2.find, the gallery, a bundle) joins the tree as the current turn,
        under its parent if that is in the tree: edits then build on it."""
        rec, up = result.record, self._turns.get(str(result.record.get("parent")))
        kind = "generate" if rec.get("kind") in (None, "grid") else str(rec["kind"])
        records = pipeline.with_siblings(self.store, rec)
        return self._add(records, result.params, kind, up.result if up else None, cached=True)

    def note_selected(self, result: Result) -> None:
        """Keep the panel's selection with the saved tree (it never moves the current turn)."""
        with self._lock:
            if result.id in self._turns and self.panel_selected != result.id:
                self.panel_selected = result.id
                self._saver.save(self._order, self._current)

    # -- the one path every request takes (its steps: pipeline.py) ---------------------------
    def run(
        self,
        params: Params,
        *,
        kind: str = "generate",
        parent: Result | None = None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        fresh: bool = False,
        checkout: bool = True,
    ) -> Result:
        """One request, from the store or the backend (the steps are ``pipeline.py``'s).
        ``checkout=False`` leaves the current turn where it is (the panel's runs: code's
        ``edit()`` never depends on clicks)."""
        records, cached = pipeline.obtain(
            self.store, self.backend, params, cache=self.cache, fresh=fresh, kind=kind,
            parent=parent.id if parent is not None else None, session=self.name,
            cancel=cancel, on_status=on_status,
        )  # fmt: skip
        result = self._add(records, params, kind, parent, cached=cached, checkout=checkout)
        if cached:
            self._note_snapshot(result)
        return result

    def run_batch(
        self, params: list[Params], *, cancel: threading.Event | None = None,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, dict[str, Any]]:  # fmt: skip
        """Requests as one Batch API job per model (the Gemini API, half price), followed to
        the end; each record by cache key. Grids use it (``g.run(batch=True)``). An earlier
        run of one of them (a kernel that died, a Ctrl-C during submit) is settled first and
        not sent again: UncollectedError while its job still runs."""
        return pipeline.obtain_batch(self.store, self.backend, params, self.name, cancel=cancel,
                                     on_progress=on_progress)  # fmt: skip

    def batch_result(self, record: dict[str, Any], params: Params) -> Result:
        """A run of this session's own ``run_batch`` as a new result: made and paid just now,
        so not a cache hit (no "cached" badge, its cost counted, no snapshot note)."""
        records = pipeline.with_siblings(self.store, record)
        return self._add(records, params, "grid", None, cached=False, checkout=False)

    def judge(
        self, items: list[tuple[dict[str, str], Any]], judge: Any = None, *, plan: bool = False,
        on_progress: Callable[[int, int], Any] | None = None, max_concurrency: int = 8,
    ) -> Any:  # fmt: skip
        """Results (with their labels) judged against their prompts: a JudgeReport, or with
        ``plan=True`` the JudgePlan (nothing asked). ``g.judge()`` calls this."""
        # here: the judge's rules load on the first judgment, not with every Session
        from ..judging import judged

        judge = judge if judge is not None else judged.Judge()
        if plan:
            return judged.plan(items, judge)
        return judged.judge_all(items, judge, on_progress=on_progress,
                                max_concurrency=max_concurrency)  # fmt: skip

    def lookup(self, params: Params) -> dict[str, Any] | None:
        """The stored record that answers ``params`` for this session's backend, or None."""
        return pipeline.lookup(self.store, self.backend, params)

    def subscribe(self, fn: Callable[[Result], Any]) -> Callable[[], None]:
        """Call ``fn(result)`` for each new result of this session; returns an unsubscribe."""
        with self._lock:
            self._listeners.append(fn)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._listeners.remove(fn)

        return unsubscribe

    def _note_snapshot(self, result: Result) -> None:
        """Once per session: a stored grounded result is the web of then, not a new search."""
        with self._lock:
            if not result.grounded_at or self._snapshot_noted:
                return
            self._snapshot_noted = True
        warnings.warn(snapshot_warning(result), stacklevel=3)

    # -- records and turns -----------------------------------------------------------------
    def _add(
        self, records: list[dict[str, Any]], params: Params, kind: str, parent: Result | None,
        *, cached: bool, checkout: bool = True,
    ) -> Result:  # fmt: skip
        """A run into the tree, with its siblings (a list output's other files: the records
        ``pipeline.with_siblings`` gives); returns the run's Result."""
        first, *siblings = records
        result, new = self._turn(first, params, kind, parent, cached, checkout)
        for sib in siblings if new else []:
            self._turn(sib, params, kind, parent, cached, False)
        return result

    def _turn(
        self, record: dict[str, Any], params: Params, kind: str, parent: Result | None,
        cached: bool, checkout: bool,
    ) -> tuple[Result, bool]:  # fmt: skip
        with self._lock:
            if record["run_id"] in self._turns:  # the same stored run again (a cache hit)
                turn = self._turns[record["run_id"]]
                if kind != "grid":
                    self._show(turn, checkout)
                # said as a hit, as after a restart: the same turn, an equal object
                return (turn.result.as_cached() if cached else turn.result), False
            number = len(self._order) + 1
            result = Result(
                record, self.store, session=self, params=params, number=number, cached=cached
            )
            up = self._turns.get(parent.id) if parent is not None else None
            turn = Turn(number, result, kind, parent=up)
            if up is not None:
                up.children.append(turn)
            self._turns[result.id] = turn
            if kind != "grid":  # grid cells join the tree only when used (see _own)
                self._show(turn, checkout)
        for listener in list(self._listeners):
            listener(result)  # subscribers (the panel) hear of every new result
        return result, True

    def _own(self, result: Result) -> Result:
        if not isinstance(result, Result) or result.id not in self._turns:
            raise ValidationError(
                f"parent: {result!r} is not a result of this session",
                field="parent",
                value=repr(result),
                allowed="a Result from this session's history",
            )
        turn = self._turns[result.id]
        with self._lock:
            if turn not in self._order:
                self._show(turn)
        return turn.result

    def _show(self, turn: Turn, current: bool = True) -> None:
        if turn not in self._order:
            turn.number = len(self._order) + 1
            turn.result.number = turn.number
            self._order.append(turn)
        if current:
            self._current = turn
        self._saver.save(self._order, self._current)

    def compare(
        self,
        *,
        repeat: int = 1,
        confirm_cells: int | None = None,
        defaults: dict[str, Any] | None = None,
        **axes: Any,
    ) -> Grid:
        """A comparison grid: each list is an axis, each single value is fixed.

        ``references`` is an axis when it is a dict of named sets (or a list of lists).
        ``defaults`` apply only to cells whose model has the field (a resolution default
        leaves nano-banana, which has none, alone).
        """
        # here, not at the top: the grids' room (its views, statistics) loads on the first
        # compare, not with every Session (about 30 ms of import time)
        from ..grids.grid import Grid

        return Grid.from_axes(
            self, repeat=repeat, confirm_cells=confirm_cells, defaults=defaults, **axes
        )
