"""``Gallery``: the whole store as a widget (search, filters, pages of thumbnails, a detail view,
and actions: reuse a run's parameters in a panel, continue editing it in a session, compare two).

Pages come from the SQLite run index (a page is one indexed query, whatever the store's size);
thumbnails are made once and kept in the store. Commands arrive as messages ``{id, kind, ...}``
and every one is answered ``ok`` or ``error``, as the panel's are.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import ipywidgets
import traitlets as t

from ..archive.find import as_store
from ..errors import ValidationError
from ..imaging import thumbnail_bytes
from ..session.result import Result
from ..session.session import Session
from ..store import Store
from ..store.filters import Query
from . import gallery_state as gs
from .widgets import MessageWidget

log = logging.getLogger("nb2")
STATIC = Path(__file__).parent.parent / "static"
PAGE = 48
VIEW_SIDE = 1280
STATIC_ROWS = 8  # runs shown where the widget cannot run (the notebook file stays light)
FILTERS = ("model", "resolution", "aspect_ratio", "output_format", "google_search",
           "session", "since", "status", "sort")  # fmt: skip


class Gallery(MessageWidget):
    """Every run of a store, browsable: ``nb2.Gallery()`` or ``%nb2 gallery``."""

    _esm = STATIC / "gallery.js"
    _css = STATIC / "gallery.css"

    text = t.Unicode("").tag(sync=True)
    filters = t.Dict().tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(PAGE).tag(sync=True)
    total = t.Int(0).tag(sync=True)
    items = t.List(t.Dict()).tag(sync=True)
    choices = t.Dict().tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    detail = t.Dict().tag(sync=True)
    image = t.Bytes(b"").tag(sync=True)
    compare = t.List(t.Dict()).tag(sync=True)  # two details, or none
    compare_images = t.List(t.Bytes()).tag(sync=True)
    notice = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        store: Store | str | os.PathLike[str] | None = None,
        *,
        session: Session | None = None,
        page_size: int = PAGE,
        **kwargs: Any,
    ) -> None:
        self.store = session.store if store is None and session is not None else as_store(store)
        self._session = session
        self.panel: Any = None  # the panel "reuse" last filled in
        self.outlet = ipywidgets.Output()  # where that panel shows, under the gallery
        self._box: Any = None
        handlers = {
            "search": self._on_search,
            "select": self._on_select,
            "reuse": self._on_reuse,
            "continue": self._on_continue,
            "compare": self._on_compare,
        }
        super().__init__(handlers, page_size=page_size, **kwargs)
        self.choices = gs.choices(self.store)
        self.search()

    def __repr__(self) -> str:
        return f"<nb2.Gallery store={str(self.store.root)!r} runs={self.total}>"

    @property
    def session(self) -> Session:
        """Where "continue editing" puts a run (the magic's session under %nb2 gallery)."""
        if self._session is None:
            self._session = Session(store=self.store)
        return self._session

    # -- what code (and the messages) can do ------------------------------------------------
    def search(self, text: str | None = None, page: int = 0, **filters: Any) -> list[dict]:
        """Show the runs matching ``text`` and ``filters`` (nb2.find's), page ``page``."""
        text = self.text if text is None else text
        filters = {k: v for k, v in filters.items() if v not in ("", None)}
        query = Query.make(text, limit=self.page_size, offset=max(0, page) * self.page_size,
                           **filters)  # fmt: skip
        items, total = gs.page(self.store, query)
        with self.hold_sync():
            self.text, self.filters, self.page = text or "", filters, max(0, page)
            self.items, self.total = items, total
        return items

    def select(self, run: str | Result) -> Result:
        """Open a run in the detail view."""
        result = self._result(run)
        self.image = _image(result, VIEW_SIDE)
        self.detail = gs.detail(result)
        self.selected = result.id
        return result

    def reuse(self, run: str | Result) -> Any:
        """A panel on this gallery's session with the run's parameters and references filled
        in, shown under the gallery (and kept as ``gallery.panel``)."""
        from .panel import Panel

        result = self._result(run)
        p = result.params
        panel = Panel(self.session, prompt=p.prompt, image_model=p.model)
        if p.resolution:
            panel.resolution = p.resolution
        if p.aspect_ratio in panel.choices["models"][p.model]["aspect_ratios"]:
            panel.aspect_ratio = p.aspect_ratio
        panel.output_format = p.output_format
        panel.google_search, panel.image_search = p.google_search, p.image_search
        for ref in p.references:
            panel.add_reference(ref)
        if self.panel is not None:
            self.panel.close()
        self.panel = panel
        self.outlet.outputs = ()  # set, not clear_output(): that needs a front end to apply it
        self.outlet.append_display_data(panel)
        self.notice = f"the parameters of {result.id} are in the panel below"
        return panel

    def continue_editing(self, run: str | Result) -> Result:
        """The run joins the session's tree as its current turn: ``%%nb2 --edit`` and
        ``session.edit(...)`` build on it next."""
        adopted = self.session.adopt(self._result(run))
        self.notice = (f"#{adopted.number} of session {self.session.name!r} is {adopted.id}: "
                       "%%nb2 --edit builds on it")  # fmt: skip
        return adopted

    def compare_runs(self, a: str | Result, b: str | Result) -> None:
        """Two runs side by side, with their parameters."""
        results = [self._result(a), self._result(b)]
        self.compare_images = [_image(r, VIEW_SIDE // 2) for r in results]
        self.compare = [gs.detail(r) for r in results]

    # -- messages -------------------------------------------------------------------------
    def _on_search(self, msg: dict[str, Any]) -> dict[str, Any]:
        raw = msg.get("filters") or {}
        if not isinstance(raw, dict) or set(raw) - set(FILTERS):
            raise ValidationError(f"search: filters must be among {', '.join(FILTERS)}",
                                  field="filters", value=raw, allowed=FILTERS)  # fmt: skip
        self.search(str(msg.get("text") or ""), int(msg.get("page") or 0), **raw)
        return {"total": self.total}

    def _on_select(self, msg: dict[str, Any]) -> dict[str, Any]:
        return {"selected": self.select(msg.get("run")).id}

    def _on_reuse(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.reuse(msg.get("run"))
        return {"notice": self.notice}

    def _on_continue(self, msg: dict[str, Any]) -> dict[str, Any]:
        adopted = self.continue_editing(msg.get("run"))
        return {"number": adopted.number, "notice": self.notice}

    def _on_compare(self, msg: dict[str, Any]) -> dict[str, Any]:
        runs = msg.get("runs") or []
        if not runs:
            self.compare, self.compare_images = [], []
            return {}
        if not isinstance(runs, list) or len(runs) != 2:
            raise ValidationError("compare: pick two runs", field="runs", value=runs,
                                  allowed="two run ids")  # fmt: skip
        self.compare_runs(*runs)
        return {}

    def _result(self, run: Any) -> Result:
        if isinstance(run, Result):
            return run
        record = self.store.get(run) if isinstance(run, str) and run else None
        if record is None or record.get("status") != "succeeded":
            raise ValidationError(f"{run!r} is not a finished run of the store at "
                                  f"{self.store.root}", field="run", value=run,
                                  allowed="a run id from the gallery")  # fmt: skip
        return Result(record, self.store)

    # -- display: the gallery with the reused panel's place under it -----------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self._box is None:
            self._box = ipywidgets.VBox([self, self.outlet])
        bundle = self._box._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = {**(data or {}), "text/plain": repr(self), "text/html": self._static_html()}
        return data, meta

    def _static_html(self) -> str:
        """Where no widget manager runs (GitHub, nbviewer): the first runs of the page."""
        from ..archive.find import Runs
        from ..views.runs import runs_table_html

        records = [self.store.get(i["id"]) for i in self.items[:STATIC_ROWS]]
        runs = Runs([Result(r, self.store) for r in records if r], self.store)
        return runs_table_html(runs.rows(STATIC_ROWS), total=self.total)


def _image(result: Result, side: int) -> bytes:
    try:
        return thumbnail_bytes(result.path.read_bytes(), side, 88)
    except (OSError, ValueError) as exc:
        log.warning("gallery: %s is shown without its image: %s", result.id, exc)
        return b""
