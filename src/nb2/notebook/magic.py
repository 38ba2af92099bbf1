"""``%%nb2``: parse the options, then hand the work to a Session. No generation logic here.

Defaults are configurable: ``%config Nb2Magics.resolution = "2K"``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, Unicode, default

from . import after, cellargs, linemagic
from .cellargs import CellArgs, interpolate, split_variants
from .live import Handle, Lines, run_live

__all__ = ["Nb2Magics", "interpolate", "load_ipython_extension", "split_variants"]
_DEFAULTS = linemagic.DEFAULTS  # the request defaults %config sets, as the engine names them


@magics_class
class Nb2Magics(Magics):
    """The %%nb2 cell magic and the %nb2 line magic."""

    model = Unicode(
        "nano-banana-2", help="model for new generations (a Gemini API session: its own)"
    ).tag(config=True)
    backend = Unicode(
        "", help="replicate, gemini or offline (empty: NB2_BACKEND, else by the keys set)"
    ).tag(config=True)
    resolution = Unicode(
        "", help="1K, 2K or 4K; empty: the model's own default (1K; 2K for nano-banana-pro)"
    ).tag(config=True)
    aspect = Unicode("match_input_image", help="aspect ratio preset").tag(config=True)
    format = Unicode("png", help="jpg or png").tag(config=True)
    store = Unicode("", help="the run store folder (empty: NB2_STORE, else nb2-runs)").tag(
        config=True
    )
    cache = Unicode("", help="auto, replay or off (empty: NB2_CACHE, else auto)").tag(config=True)
    concurrency = Int(8, help="grid cells at once").tag(config=True)
    confirm_cells = Int(64, help="grids larger than this need --yes").tag(config=True)
    budget = Float(0.0, help="default grid budget in USD (0: none)").tag(config=True)
    search = Bool(False, help="web-search grounding by default").tag(config=True)
    judge = Unicode(
        "", help="the judge of --judge (empty: offline on the offline backend, else Gemini's)"
    ).tag(config=True)
    judge_questions = Unicode(
        "rules",
        help="where --judge's questions come from: rules, or model (a Gemini judge "
        "decomposes each prompt once; the offline stand-in always asks the rules')",
    ).tag(config=True)
    progress = Bool(
        help="a live status line while a run goes (off: the result alone, as batch runs and "
        "nbval, which does not apply display updates, want; default from NB2_PROGRESS)",
    ).tag(config=True)

    @default("progress")
    def _progress_default(self) -> bool:
        return os.environ.get("NB2_PROGRESS", "1").lower() not in ("0", "off", "false", "no")

    def __init__(self, shell: Any = None, **kw: Any) -> None:
        super().__init__(shell=shell, **kw)
        self.sessions: dict[str, Any] = {}
        self.active = notebook_session()

    # -- sessions ---------------------------------------------------------------------------
    def session(self, name: str | None = None, backend: str | None = None) -> Any:
        import nb2

        name, backend = name or self.active, backend or self.backend or None
        held = self.sessions.get(name)
        if held is None or (backend and held.backend.name != backend):  # a switch: same tree
            self.sessions[name] = nb2.Session(
                backend=backend, store=self.store or None, cache=self.cache or None, name=name
            )
        return self.sessions[name]

    # -- %%nb2 ------------------------------------------------------------------------------
    @magic_arguments()
    @argument("-m", "--model", help="nano-banana-2 (default), nano-banana or nano-banana-pro")
    @argument("-r", "--resolution", help="1K, 2K or 4K")
    @argument(
        "-a",
        "--aspect",
        help="match_input_image, 1:1, 1:4, 1:8, 2:3, 3:2, 3:4, 4:1, "
        "4:3, 4:5, 5:4, 8:1, 9:16, 16:9 or 21:9",
    )
    @argument("-f", "--format", help="jpg or png")
    @argument(
        "--ref",
        action="append",
        default=[],
        metavar="PATH[:ROLE]",
        help="a reference image (repeatable, up to 14): a path, a glob, a URL or a notebook "
        "variable (PIL image, path, list); ROLE is subject, style, palette, composition, "
        "lighting, material or free text",
    )
    @argument("-s", "--search", action="store_true", default=None, help="web-search grounding")
    @argument(
        "--image-search",
        action="store_true",
        default=None,
        help="image-search grounding (turns web search on too)",
    )
    @argument("--session", help="the session to use (default: the notebook's)")
    @argument(
        "--backend",
        choices=("replicate", "gemini", "offline"),
        help="who makes the image (default: %%config Nb2Magics.backend, else by the keys set)",
    )
    @argument("-e", "--edit", action="store_true", help="edit the session's current image")
    @argument("--parent", help="with --edit: the turn number or a Result variable to edit")
    @argument(
        "--then",
        action="append",
        nargs="+",
        metavar="OWNER/MODEL [KEY=VALUE ...]",
        help="a chain step on another Replicate model, fed the image (repeatable)",
    )
    @argument("-o", "--out", metavar="VAR", help="the Result (Grid, background handle) to keep")
    @argument(
        "--vary",
        action="append",
        default=[],
        metavar="AXIS=V1,V2",
        help="a comparison axis: resolution, aspect, format, search, image_search, model",
    )
    @argument("-n", "--repeat", type=int, default=1, help="samples of each request")
    @argument("--fresh", action="store_true", help="skip the cache for this run")
    @argument("--plan", action="store_true", help="show the plan, call nothing")
    @argument("--budget", type=float, help="USD cap for a grid")
    @argument("--concurrency", type=int, help="grid cells at once")
    @argument("--yes", action="store_true", help="run a grid larger than the confirm size")
    @argument(
        "--batch", action="store_true", help="a grid as one Batch API job (Gemini, half price)"
    )
    @argument("--background", action="store_true", help="a grid that leaves the kernel free")
    @argument("--panel", action="store_true", help="show the panel for this session")
    @argument("--judge", nargs="?", const="", metavar="MODEL",
              help="judge the images against their prompts after the run (nb2.Judge)")  # fmt: skip
    @cell_magic
    def nb2(self, line: str, cell: str) -> Any:
        """Generate with Nano Banana 2: the cell is the prompt.

        Lines that are exactly ``---`` split the cell into prompt variants (a comparison axis);
        ``{name}`` takes a notebook variable. See the options below.
        """
        ns = self.shell.user_ns if self.shell else {}
        cell_args = cellargs.parse(self._parse(line), cell, ns)
        session = self.session(cell_args.session, cell_args.backend)
        judge = after.judge_of(
            cell_args.judge, self.judge, session, self.judge_questions
        )  # named errors first
        if cell_args.panel:  # returned, so the cell shows it (with -o too)
            panel = self._panel(cell_args, session)
            self._store(cell_args.out, panel)
            return panel
        if cell_args.then and not cell_args.prompts:  # steps on the current image
            base = cellargs.parent(cell_args.parent, session, ns) or session.current
            done = after.run(cell_args.then, base, self._live)
            return self._store(cell_args.out, done)
        if cell_args.edit:
            return self._store(cell_args.out, self._edit(cell_args, session, ns, judge))
        if cell_args.is_grid:
            return self._grid(cell_args, session, judge)
        request = {**self.defaults(cell_args.options.get("model"), session), **cell_args.options}
        result = run_live(
            self.progress,
            lambda cancel, say: after.judged(
                session.generate(
                    cell_args.prompts[0],
                    references=list(cell_args.refs),
                    cancel=cancel,
                    on_status=say,
                    fresh=cell_args.fresh,
                    **request,
                ),
                judge,
                say,
            ),
        )
        if cell_args.then:  # then the chain steps, each on the previous image
            result = after.run(cell_args.then, result, self._live)
        return self._store(cell_args.out, result)

    def defaults(self, model: str | None = None, session: Any = None) -> dict[str, Any]:
        """The request defaults from ``%config Nb2Magics.*``, under the engine's names, for
        ``model`` (else the default model; a Gemini API session's own when
        ``Nb2Magics.model`` names a Replicate one): a default for a field the model lacks is
        left out, and an empty one means the model's own default."""
        from .. import models

        name = models.canonical_id(model or self.model)
        held = session if session is not None else self.sessions.get(self.active)
        if model is None and held is not None and held.backend.name == "gemini":
            name = name if models.resolve_model(name).api == "gemini" else held.defaults["model"]
        fields = models.MODELS[name].fields if name in models.MODELS else {}  # others: own
        out = {key: getattr(self, trait) for trait, key in _DEFAULTS}
        out["model"] = (
            name if model is None and name != models.canonical_id(self.model) else out["model"]
        )
        return {k: v for k, v in out.items() if v != "" and (k == "model" or k in fields)}

    def _edit(self, args: CellArgs, session: Any, ns: dict[str, Any], judge: Any) -> Any:
        parent = cellargs.parent(args.parent, session, ns)
        return run_live(
            self.progress,
            lambda cancel, say: after.judged(
                session.edit(
                    args.prompts[0],
                    parent=parent,
                    references=list(args.refs) if args.refs_given else None,
                    cancel=cancel,
                    on_status=say,
                    fresh=args.fresh,
                    **args.options,
                ),
                judge,
                say,
            ),
        )

    def _panel(self, args: CellArgs, session: Any) -> Any:
        """The panel for the session; the cell and the options fill in its form."""
        from .panel import Panel

        prompt = args.prompts[0] if args.prompts else ""
        given = args.options
        form = {k: v for k, v in {**self.defaults(given.get("model"), session), **given}.items()}
        session.params(prompt or "…", references=list(args.refs), **form)  # named errors first
        panel = Panel(session, prompt=prompt)
        traits = {"model": "image_model"}
        for key, value in form.items():
            setattr(panel, traits.get(key, key), value)
        for ref in args.refs:
            panel.add_reference(ref)
        return panel

    def _parse(self, line: str) -> Any:
        try:
            return parse_argstring(self.nb2, line)
        except ValueError as exc:  # shlex: an unclosed quote or a trailing backslash
            raise UsageError(f"%%nb2 {line}: {exc}") from None
        except UsageError as exc:  # a mistyped flag: name the one meant
            raise UsageError(cellargs.suggest(str(exc), self.nb2.parser)) from None

    def _grid(self, args: CellArgs, session: Any, judge: Any = None) -> Any:
        varies_model = "model" in args.axes
        defaults = self.defaults(args.options.get("model"), session)
        fixed = {**({} if varies_model else defaults), **args.options}
        if not varies_model:
            fixed.setdefault("model", self.model)
        for key in args.axes:
            fixed.pop(key, None)
        grid = session.compare(
            defaults={k: v for k, v in self.defaults(None, session).items() if k != "model"}
            if varies_model
            else None,
            prompt=list(args.prompts) if len(args.prompts) > 1 else args.prompts[0],
            references=list(args.refs),
            repeat=args.repeat,
            confirm_cells=self.confirm_cells,
            **fixed,
            **args.axes,
        )
        concurrency = args.concurrency or self.concurrency
        if args.plan:
            plan = grid.plan(concurrency, batch=args.batch)
            self._store(args.out, grid)
            if judge is not None:  # the grid's plan, then the judge's
                from IPython.display import display

                display(plan)
                return grid.judge(judge, plan=True)
            return plan
        budget = args.budget if args.budget is not None else (self.budget or None)
        if args.background:  # at once: the handle shows its live progress (-o keeps it)
            running = grid.run(concurrency, budget, confirm=args.yes, batch=args.batch,
                               background=True, show=self.progress)  # fmt: skip
            # without -o the cell's value holds it (Out[n], _): a paid grid is never unreachable
            return self._store(args.out, running) if args.out else running
        handle = Handle(self.progress, f"grid: 0 of {len(grid.cells)} cells")
        started = time.monotonic()

        def progress(g: Any) -> None:
            done = sum(1 for c in g.cells if c.status not in ("pending", "running"))
            handle.say(f"grid: {done} of {len(g.cells)} cells, {time.monotonic() - started:.0f} s")

        try:
            grid.run(concurrency, budget, confirm=args.yes, on_progress=progress, batch=args.batch)
        finally:  # finished cells are shown even after an interrupt
            handle.show(grid)
            self._store(args.out, grid)
        return None if judge is None else after.judge_grid(grid, judge, self.progress, concurrency)

    def _store(self, name: str | None, value: Any) -> None:
        if name:
            self.shell.user_ns[name] = value

    # -- %nb2 -------------------------------------------------------------------------------
    @line_magic("nb2")
    def nb2_line(self, line: str) -> Any:
        """%nb2 history | sessions | use NAME | config | then OWNER/MODEL [KEY=VALUE ...] |
        find WORDS --since 7d | store | gallery | models | sync [push | pull]"""
        words = line.split()
        verb = words[0] if words else "config"
        if verb == "then" and len(words) > 1:  # chain steps on the current image
            steps = after.steps(after.split(words))
            return after.run(steps, self.session().current, self._live)
        if verb == "history":
            return self.session(words[1] if len(words) > 1 else None).history
        if verb == "sessions":
            return Lines(self.sessions_text())
        if verb == "use" and len(words) == 2:
            self.active = words[1]
            return None
        if verb == "config":
            return Lines(self.config_text())
        if verb in ("find", "store", "gallery"):
            return self._catalog(verb, line.split(None, 1)[1] if len(words) > 1 else "")
        if verb == "sync":
            return self._sync(words[1:])
        if verb == "models":  # nb2's model table, against the Gemini API's list when keyed
            from .. import models

            return models.check()
        raise UsageError(
            "%nb2: use history [NAME], sessions, use NAME, config, then OWNER/MODEL [K=V ...], "
            "find WORDS [--OPTIONS], store, gallery, models or sync [push | pull]"
        )

    def _live(self, fn: Any) -> Any:
        return run_live(self.progress, fn)

    def _sync(self, words: list[str]) -> None:
        """%nb2 sync [push | pull]: the team's store (``%config Nb2Magics.store``) both ways or
        one, its counts on the status line; the report is the cell's output."""
        import nb2

        way = words[0] if len(words) == 1 else "both" if not words else ""
        if way not in ("both", "push", "pull"):
            raise UsageError(f"%nb2 sync: {' '.join(words)!r}; use push, pull or nothing (both)")

        def work(cancel: Any, say: Any) -> Any:
            def moved(doing: str, done: int, total: int) -> None:
                say(f"{doing} {done}/{total}")

            return nb2.sync(self.store or None, push=way != "pull", pull=way != "push",
                            progress=moved)  # fmt: skip

        self._live(work)

    def _catalog(self, verb: str, rest: str) -> Any:
        """%nb2 find / store / gallery: the whole store, not one session."""
        import nb2

        store = self.store or None
        if verb == "find":
            text, filters = linemagic.parse(rest)
            return nb2.find(text, store=store, **filters)
        if verb == "store":
            return nb2.store_stats(store)
        return nb2.Gallery(store=store, session=self.session())

    def sessions_text(self) -> str:
        """This kernel's sessions and those saved in the store (``--session NAME`` resumes)."""
        return linemagic.sessions_text(self)

    def config_text(self) -> str:
        return linemagic.config_text(self)


def notebook_session() -> str:
    """The notebook's own session, so two notebooks on one store keep two trees: its file name
    (Jupyter tells a kernel in JPY_SESSION_NAME), else ``default``."""
    return Path(os.environ.get("JPY_SESSION_NAME", "")).stem or "default"


Nb2Magics.nb2.parser.prog = "%nb2"  # after the formatter's "%": %%nb2
Nb2Magics.nb2.parser.formatter_class = cellargs.CellHelp
Nb2Magics.nb2.__doc__ = Nb2Magics.nb2.parser.format_help().replace(
    "[--panel]", "[--panel]\n             PROMPT (the cell's lines)", 1
)


def load_ipython_extension(ipython: Any) -> None:
    magics = Nb2Magics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)  # so %config Nb2Magics.x = ... reaches it
