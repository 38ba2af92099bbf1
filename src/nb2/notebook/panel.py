"""``Panel``: an anywidget front end for a Session.

Traits hold the state the front end shows; commands arrive as messages ``{id, kind, ...}`` and
every one is answered with ``{id, kind: "ok" | "error", ...}`` (quak's pattern), so a bad
message gets a readable error in the panel instead of a log line nobody sees. Generation runs
in a worker thread: the kernel stays free to answer the panel (Stop, selection) meanwhile.
Images are binary buffers, never base64 in JSON: thumbnails for the history, a screen-sized
rendition for the selected node, and the original file only when Download is pressed.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import traitlets as t

from .. import models
from ..errors import CanceledError, Nb2Error, ValidationError
from ..request.references import as_reference, compose_prompt
from ..session.result import Result
from ..session.session import Session
from . import panel_judging
from . import panel_state as ps
from .panel_state import choices, node_state, static_html
from .strip import ReferenceStrip
from .widgets import MessageWidget

log = logging.getLogger("nb2")

STATIC = Path(__file__).parent.parent / "static"
THUMB_SIDE = 160  # history nodes
VIEW_SIDE = 1536  # the selected image: enough for a notebook column at 2x


class Panel(MessageWidget):
    """An interactive panel for a :class:`Session`: ``nb2.Panel(session)``."""

    _esm = STATIC / "panel.js"
    _css = STATIC / "panel.css"

    # the form
    prompt = t.Unicode("").tag(sync=True)
    image_model = t.Unicode(models.DEFAULT_MODEL).tag(sync=True)
    resolution = t.Unicode("1K").tag(sync=True)
    aspect_ratio = t.Unicode("1:1").tag(sync=True)
    output_format = t.Unicode("png").tag(sync=True)
    google_search = t.Bool(False).tag(sync=True)
    image_search = t.Bool(False).tag(sync=True)
    mode = t.Enum(("generate", "edit"), "generate").tag(sync=True)
    # what Python computes for the form
    choices = t.Dict().tag(sync=True)
    references = t.List(t.Dict()).tag(sync=True)  # {key, name, role, width, height, thumb}
    composed_prompt = t.Unicode("").tag(sync=True)
    # the session
    history = t.List(t.Dict()).tag(sync=True)  # {id, number, parent, kind, prompt, ..., thumb}
    selected = t.Unicode("").tag(sync=True)
    image = t.Bytes(b"").tag(sync=True)  # the selected node, screen-sized
    compare = t.List(t.Unicode()).tag(sync=True)  # two node ids, or none
    compare_images = t.List(t.Bytes()).tag(sync=True)
    status = t.Dict({"state": "idle"}).tag(sync=True)

    def __init__(self, session: Session | None = None, **kwargs: Any) -> None:
        self.session = session if session is not None else Session()
        d = self.session.defaults
        kwargs.setdefault("image_model", d["model"])
        kwargs.setdefault("resolution", d["resolution"] or "1K")
        spec = models.MODELS[d["model"]]
        kwargs.setdefault("aspect_ratio", d["aspect_ratio"] or spec.default("aspect_ratio"))
        kwargs.setdefault("output_format", d["output_format"] or "png")
        kwargs.setdefault("google_search", bool(d["google_search"]))
        kwargs.setdefault("image_search", bool(d["image_search"]))
        self._refs = ReferenceStrip()
        self._thumbs: dict[str, bytes] = {}
        self._job: threading.Thread | None = None
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        super().__init__(choices=choices(self.session.backend), **kwargs)
        for i, item in enumerate(self.session.references):
            ref = as_reference(item, i)
            self._refs.add(ref, ref.name, self._limit(), self.image_model)
        self._handlers = {
            "generate": self._on_generate,
            "edit": self._on_edit,
            "stop": self._on_stop,
            "select": self._on_select,
            "compare": self._on_compare,
            "upscale": self._on_upscale,
            "download": self._on_download,
            "add_reference": self._on_add_reference,
            "remove_reference": self._on_remove_reference,
            "set_role": self._on_set_role,
            "move_reference": self._on_move_reference,
            **panel_judging.handlers(self),  # rate a node, diff two (issue 15)
        }
        self._unsubscribe = self.session.subscribe(self._on_result)
        self._sync_history()
        self._sync_references()
        history = self.session.history
        kept = [r for r in history if r.id == self.session.panel_selected]
        start = (kept or [self.session.current])[0] or (history[-1] if len(history) else None)
        if start is not None:  # the saved selection, else code's current turn, else the latest
            self._select(start, missing_ok=True)

    def __repr__(self) -> str:
        return f"<nb2.Panel session={self.session.name!r} nodes={len(self.history)}>"

    def close(self) -> None:
        self._cancel.set()
        self._unsubscribe()
        super().close()

    # -- validation of the form (a bad value from anywhere is refused, with the allowed ones)
    @t.validate("image_model")
    def _check_model(self, proposal: Any) -> str:
        return models.resolve_model(proposal["value"]).id

    @t.validate("resolution", "aspect_ratio", "output_format")
    def _check_choice(self, proposal: Any) -> str:
        name, value = proposal["trait"].name, proposal["value"]
        spec = models.MODELS[self.image_model]
        field = spec.fields.get(name)
        if field is None and name == "output_format":  # the model answers in its own format
            return value
        allowed = field.choices if field is not None else models.RESOLUTIONS
        if allowed and value not in allowed:
            raise t.TraitError(f"{name}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value

    @t.observe("image_search")
    def _image_search_implies_web(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.google_search = True

    @t.observe("google_search")
    def _web_off_turns_image_off(self, change: dict[str, Any]) -> None:
        if not change["new"]:
            self.image_search = False

    @t.observe("image_model")
    def _fit_model(self, change: dict[str, Any]) -> None:
        c = self.choices["models"][self.image_model]
        if c["resolutions"] and self.resolution not in c["resolutions"]:
            self.resolution = c["resolutions"][0]
        if self.aspect_ratio not in c["aspect_ratios"]:
            self.aspect_ratio = c["aspect_ratios"][0]
        if not c["google_search"]:
            self.google_search = False

    @t.observe("prompt", "mode", "selected", "image_model")
    def _recompose(self, change: dict[str, Any] | None = None) -> None:
        try:
            if self.mode == "edit" and self.selected:
                _, params = self.session.edit_params(
                    self.prompt or "…",
                    parent=self._node(self.selected),
                    references=self._refs.references(),
                )
            else:
                params = self.session.params(
                    self.prompt or "…", references=self._refs.references(), **self._form()
                )
            self.composed_prompt = params.composed_prompt
        except Nb2Error:
            self.composed_prompt = compose_prompt(self.prompt, self._refs.references())

    # -- messages -------------------------------------------------------------------------
    def _on_generate(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        params = self.session.params(
            self._prompt(), references=self._refs.references(), **self._form()
        )
        job = self._start("generate", self._run(params, "generate"))
        return {"job": job}, []

    def _on_edit(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        parent = self._node(msg.get("node") or self.selected)
        base, params = self.session.edit_params(
            self._prompt(), parent=parent, references=self._refs.references()
        )
        job = self._start("edit", self._run(params, "edit", base))
        return {"job": job}, []

    def _on_upscale(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        base = self._node(msg.get("node") or self.selected)
        resolution = msg.get("resolution")
        params = base.params.replace(resolution=resolution)  # validated here, before the thread
        job = self._start("upscale", self._run(params, "upscale", base))
        return {"job": job}, []

    def _on_stop(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        running = self._job is not None and self._job.is_alive()
        self._cancel.set()
        return {"stopped": running}, []

    def _on_select(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        self._select(self._node(msg.get("node")))
        return {"selected": self.selected}, []

    def _on_compare(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        nodes = msg.get("nodes") or []
        if not nodes:
            self.compare, self.compare_images = [], []
            return {"compare": []}, []
        if not isinstance(nodes, list) or len(nodes) != 2:
            raise ValidationError(
                f"compare: {nodes!r} is not two nodes", field="nodes", value=nodes,
                allowed="a list of two node ids",
            )  # fmt: skip
        results = [self._node(n) for n in nodes]
        self.compare_images = [ps.image_of(r, VIEW_SIDE, 88) for r in results]
        self.compare = [r.id for r in results]
        return {"compare": self.compare}, []

    def _on_download(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        result = self._node(msg.get("node") or self.selected)
        name = f"nb2-{result.number}-{result.id[-8:]}.{result.params.output_format}"
        data = ps.read_image(result)
        return {"name": name, "mime": f"image/{'png' if name.endswith('png') else 'jpeg'}"}, [data]

    def _on_add_reference(self, msg: dict[str, Any], buffers: list[bytes]) -> tuple[dict, list]:
        if len(buffers) != 1:
            raise ValidationError(
                "add_reference: send exactly one file", field="file", value=len(buffers),
                allowed="one image buffer",
            )  # fmt: skip
        name = str(msg.get("name") or "pasted image")[:200]
        key = self._refs.upload(
            bytes(buffers[0]), name, msg.get("role"), self._limit(), self.image_model
        )
        self._sync_references()
        return {"key": key}, []

    def _on_remove_reference(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        self._refs.remove(msg.get("ref"))
        self._sync_references()
        return {}, []

    def _on_set_role(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        self._refs.set_role(msg.get("ref"), msg.get("role"))
        self._sync_references()
        return {}, []

    def _on_move_reference(self, msg: dict[str, Any], _b: list[bytes]) -> tuple[dict, list]:
        self._refs.move(msg.get("ref"), msg.get("to"))
        self._sync_references()
        return {}, []

    def _run(self, params: Any, kind: str, parent: Result | None = None) -> Any:
        """A panel run: it never moves the session's current turn (code's, not clicks')."""
        return lambda **kw: self.session.run(params, kind=kind, parent=parent, checkout=False, **kw)

    # -- the job --------------------------------------------------------------------------
    def _start(self, kind: str, call: Any) -> str:
        with self._lock:
            if self._job is not None and self._job.is_alive():
                raise ValidationError(
                    "a run is in progress; press Stop or wait for it",
                    field="status", value="running", allowed="one run at a time",
                )  # fmt: skip
            self._cancel = threading.Event()
            job = f"{kind}-{time.monotonic_ns()}"
            started = time.time()
            self.status = {"state": "running", "kind": kind, "job": job, "phase": "queued",
                           "started": started * 1000}  # fmt: skip
            cancel = self._cancel

            def phase(name: str) -> None:
                self.status = {**self.status, "phase": name}

            def work() -> None:
                try:
                    result = call(cancel=cancel, on_status=phase)
                except CanceledError:
                    self._finish(job, kind, started, "canceled", "stopped; canceled remotely")
                except Nb2Error as exc:
                    self._finish(job, kind, started, "error", str(exc))
                    self.send({"id": job, "kind": "error", "message": str(exc),
                               "field": getattr(exc, "field", None)})  # fmt: skip
                except Exception as exc:  # shown in the panel rather than lost in a thread
                    log.exception("panel: the %s run %s failed", kind, job)
                    self._finish(job, kind, started, "error", f"{type(exc).__name__}: {exc}")
                else:
                    self._select(result, missing_ok=True)
                    self._finish(job, kind, started, "done", f"#{result.number} ready")

            self._job = threading.Thread(target=work, name=f"nb2-panel-{kind}", daemon=True)
            self._job.start()
            return job

    def _finish(self, job: str, kind: str, started: float, state: str, message: str) -> None:
        self.status = {"state": state, "kind": kind, "job": job, "message": message,
                       "elapsed": round(time.time() - started, 2)}  # fmt: skip

    @property
    def result(self) -> Result | None:
        """The selected node, for code: ``s.edit("...", parent=panel.result)``. The panel's
        selection is its own; the session's current turn moves only from code."""
        return self._node(self.selected) if self.selected else None

    def add_reference(self, source: Any, role: str | None = None) -> None:
        """Add a reference image (a path, PIL image, bytes, Reference or (source, role))."""
        ref = as_reference(source if role is None else (source, role))
        self._refs.add(ref, ref.name, self._limit(), self.image_model)
        self._sync_references()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the panel's current run ends (for scripts and tests)."""
        job = self._job
        if job is not None:
            job.join(timeout)

    # -- state ----------------------------------------------------------------------------
    def _on_result(self, result: Result) -> None:
        with self.hold_sync():  # the new node and the selection reach the page as one update
            self._sync_history()
            # a result made in code shows here; the panel's own are selected by their job
            shown = any(t.result.id == result.id for t in self.session.history.turns)
            job = self._job
            own = job is not None and job is threading.current_thread()
            if shown and not own and result.id != self.selected:
                self._select(result, missing_ok=True)

    def _sync_history(self) -> None:
        nodes = []
        for turn in self.session.history.turns:
            r = turn.result
            if r.id not in self._thumbs:  # a node whose file is gone is drawn without one
                self._thumbs[r.id] = ps.image_or_empty(r, THUMB_SIDE, 75)
            nodes.append(node_state(turn, self._thumbs[r.id]))
        self.history = nodes

    def _select(self, result: Result, missing_ok: bool = False) -> None:
        """Select a node; its missing file raises (a message) or shows as no image (sync)."""
        image = (ps.image_or_empty if missing_ok else ps.image_of)(result, VIEW_SIDE, 88)
        self.image = image  # the panel's selection; the session's current turn is code's
        self.selected = result.id
        self.session.note_selected(result)  # saved with the tree, for the next kernel

    def _node(self, node: Any) -> Result:
        return ps.node_of(self.session, node)

    def _form(self) -> dict[str, Any]:
        return ps.form(self.choices["models"][self.image_model], self)

    def _prompt(self) -> str:
        return ps.prompt_of(self.prompt)

    def _limit(self) -> int:
        return models.MODELS[self.image_model].max_references

    def _sync_references(self) -> None:
        self.references = self._refs.state()
        self._recompose()

    # -- where no widget manager runs (GitHub, nbviewer, nbconvert) -------------------------
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, meta = bundle
        else:
            data, meta = bundle, {}
        data = dict(data or {})
        data["text/html"] = self._static_html()
        data["text/plain"] = repr(self)
        return data, meta

    def _static_html(self) -> str:
        return static_html(self.session, self.selected)
