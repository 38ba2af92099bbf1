"""``%%nb2``: parse the options, then hand the work to a Session. No generation logic here.

Defaults are configurable: ``%config Nb2Magics.resolution = "2K"``.
"""

from __future__ import annotations

import glob
import math
import os
import re
import threading
import time
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Float, Int, Unicode, default

_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_AXIS_NAMES = {
    "prompt": "prompt", "model": "model", "resolution": "resolution", "res": "resolution",
    "aspect": "aspect_ratio", "aspect_ratio": "aspect_ratio", "format": "output_format",
    "output_format": "output_format", "search": "google_search", "google_search": "google_search",
    "image_search": "image_search", "image-search": "image_search",
}  # fmt: skip
_BOOL = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False,
         "1": True, "0": False}  # fmt: skip


def interpolate(text: str, namespace: dict[str, Any]) -> str:
    """``{name}`` from the namespace; unknown names stay as written; ``{{`` is a brace."""

    def sub(m: re.Match[str]) -> str:
        token = m.group(0)
        if token in ("{{", "}}"):
            return token[0]
        head, *attrs = m.group(1).split(".")
        if head not in namespace:
            return token
        value = namespace[head]
        for attr in attrs:
            if not hasattr(value, attr):
                return token
            value = getattr(value, attr)
        return str(value)

    return _VAR.sub(sub, text)


def split_variants(cell: str) -> list[str]:
    """Prompt variants: the cell split on lines that are exactly ``---``."""
    parts = re.split(r"^\s*---\s*$", cell, flags=re.M)
    return [p.strip() for p in parts if p.strip()]


@magics_class
class Nb2Magics(Magics):
    """The %%nb2 cell magic and the %nb2 line magic."""

    model = Unicode("nano-banana-2", help="model for new generations").tag(config=True)
    resolution = Unicode("1K", help="1K, 2K or 4K").tag(config=True)
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
        self.active = "default"

    # -- sessions ---------------------------------------------------------------------------
    def session(self, name: str | None = None) -> Any:
        import nb2

        name = name or self.active
        if name not in self.sessions:
            self.sessions[name] = nb2.Session(
                store=self.store or None, cache=self.cache or None, name=name
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
    @argument("-e", "--edit", action="store_true", help="edit the session's current image")
    @argument("--parent", help="with --edit: the turn number or a Result variable to edit")
    @argument("-o", "--out", metavar="VAR", help="store the Result (or Grid) in this variable")
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
    @argument("--panel", action="store_true", help="show the panel for this session")
    @cell_magic
    def nb2(self, line: str, cell: str) -> Any:
        """Generate with Nano Banana 2: the cell is the prompt.

        Lines that are exactly ``---`` split the cell into prompt variants (a comparison axis);
        ``{name}`` takes a notebook variable. See the options below.
        """
        args = self._parse(line)
        ns = self.shell.user_ns if self.shell else {}
        prompts = split_variants(interpolate(cell, ns))
        if not prompts and not args.panel:
            raise UsageError("%%nb2: the cell is the prompt, and it is empty")
        session = self.session(args.session)
        if args.panel:
            return self._store(args.out, self._panel(args, session, prompts, ns))
        options = self._options(args)
        refs = self._refs(args.ref, ns)
        if args.edit:
            if len(prompts) > 1 or args.vary:
                raise UsageError("%%nb2 --edit: one instruction, no --vary")
            parent = self._parent(args.parent, session, ns)
            result = self._live(
                lambda cancel, say: session.edit(
                    prompts[0],
                    parent=parent,
                    references=refs if args.ref else None,
                    cancel=cancel,
                    on_status=say,
                    fresh=args.fresh,
                    **options,
                )
            )
            return self._store(args.out, result)
        axes = self._axes(args.vary)
        if len(prompts) > 1 or axes or args.repeat > 1:
            return self._grid(args, session, prompts, axes, options, refs)
        result = self._live(
            lambda cancel, say: session.generate(
                prompts[0],
                references=refs,
                cancel=cancel,
                on_status=say,
                fresh=args.fresh,
                **{
                    **{
                        "model": self.model,
                        "resolution": self.resolution,
                        "aspect_ratio": self.aspect,
                        "output_format": self.format,
                        "google_search": self.search,
                    },
                    **options,
                },
            )
        )
        return self._store(args.out, result)

    def _panel(self, args: Any, session: Any, prompts: list[str], ns: dict[str, Any]) -> Any:
        """The panel for the session; the cell and the options fill in its form."""
        from .widget import Panel

        if len(prompts) > 1 or args.vary or args.edit or args.plan:
            raise UsageError("%%nb2 --panel: one prompt (or none); no --vary, --edit or --plan")
        refs = self._refs(args.ref, ns)
        defaults = {"model": self.model, "resolution": self.resolution,
                    "aspect_ratio": self.aspect, "output_format": self.format,
                    "google_search": self.search}  # fmt: skip
        form = {k: v for k, v in {**defaults, **self._options(args)}.items() if v is not None}
        session.params(prompts[0] if prompts else "…", references=refs, **form)  # named errors
        panel = Panel(session, prompt=prompts[0] if prompts else "")
        traits = {"model": "image_model"}
        for key, value in form.items():
            setattr(panel, traits.get(key, key), value)
        for ref in refs:
            panel.add_reference(ref)
        return panel

    def _parse(self, line: str) -> Any:
        """The options, checked; every bad line is a UsageError (found by fuzzing)."""
        try:
            args = parse_argstring(self.nb2, line)
        except ValueError as exc:  # shlex: an unclosed quote or a trailing backslash
            raise UsageError(f"%%nb2 {line}: {exc}") from None
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"-o {args.out}: not a Python variable name")
        if args.repeat < 1:
            raise UsageError(f"-n {args.repeat}: the number of samples is at least 1")
        if args.concurrency is not None and args.concurrency < 1:
            raise UsageError(f"--concurrency {args.concurrency}: at least 1 cell at once")
        if args.budget is not None and not (math.isfinite(args.budget) and args.budget >= 0):
            raise UsageError(f"--budget {args.budget}: a cap in USD, 0 or more")
        return args

    def _options(self, args: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, key in (
            ("model", "model"),
            ("resolution", "resolution"),
            ("aspect", "aspect_ratio"),
            ("format", "output_format"),
            ("search", "google_search"),
            ("image_search", "image_search"),
        ):
            value = getattr(args, name)
            if value is not None:
                out[key] = value
        return out

    def _refs(self, specs: list[str], ns: dict[str, Any]) -> list[Any]:
        import nb2

        refs: list[Any] = []
        for spec in specs:
            if len(spec) > 1 and spec[0] == spec[-1] and spec[0] in "'\"":
                spec = spec[1:-1]  # IPython splits without removing quotes: 'my file.png'
            source, role = spec, None
            head, sep, tail = spec.rpartition(":")
            if sep and head and not tail.startswith(("/", "\\")) and "//" not in tail:
                source, role = head, tail or None
            if source.isidentifier() and source in ns:
                value = ns[source]
                items = value if isinstance(value, (list, tuple)) else [value]
                refs += [nb2.Reference(v, role=role) for v in items]
                continue
            if source.startswith(("http://", "https://")):
                refs.append(nb2.Reference(source, role=role))
                continue
            matches = sorted(glob.glob(os.path.expanduser(source)))
            if not matches:
                raise UsageError(f"--ref {spec}: no file or notebook variable named {source!r}")
            refs += [nb2.Reference(m, role=role) for m in matches]
        return refs

    def _parent(self, spec: str | None, session: Any, ns: dict[str, Any]) -> Any:
        if spec is None:
            return None
        if spec.lstrip("#").isdigit():
            try:
                return session.history[int(spec.lstrip("#"))]
            except IndexError as exc:
                raise UsageError(f"--parent {spec}: {exc}") from None
        if spec in ns:
            return ns[spec]
        raise UsageError(
            f"--parent {spec}: give a turn number (see %nb2 history) or a Result variable"
        )

    def _axes(self, specs: list[str]) -> dict[str, list[Any]]:
        axes: dict[str, list[Any]] = {}
        for spec in specs:
            name, sep, values = spec.partition("=")
            key = _AXIS_NAMES.get(name.strip())
            if not sep or key is None or key == "prompt":
                allowed = ", ".join(sorted(k for k in _AXIS_NAMES if k != "prompt"))
                raise UsageError(
                    f"--vary {spec}: use AXIS=V1,V2 with AXIS one of: {allowed} "
                    "(prompt variants are --- lines in the cell)"
                )
            items = [v.strip() for v in values.split(",") if v.strip()]
            if key in ("google_search", "image_search"):
                bad = [v for v in items if v.lower() not in _BOOL]
                if bad:
                    raise UsageError(f"--vary {spec}: {bad[0]!r} is not on/off")
                items = [_BOOL[v.lower()] for v in items]
            axes[key] = items
        return axes

    def _grid(
        self,
        args: Any,
        session: Any,
        prompts: list[str],
        axes: dict[str, list[Any]],
        options: dict[str, Any],
        refs: list[Any],
    ) -> Any:

        fixed = {
            "model": self.model,
            "resolution": self.resolution,
            "aspect_ratio": self.aspect,
            "output_format": self.format,
            "google_search": self.search,
            **options,
        }
        for key in axes:
            fixed.pop(key, None)
        grid = session.compare(
            prompt=prompts if len(prompts) > 1 else prompts[0],
            references=refs,
            repeat=args.repeat,
            confirm_cells=self.confirm_cells,
            **fixed,
            **axes,
        )
        concurrency = args.concurrency or self.concurrency
        if args.plan:
            plan = grid.plan(concurrency)
            self._store(args.out, grid)
            return plan
        budget = args.budget if args.budget is not None else (self.budget or None)
        handle = _Handle(self.progress, f"grid: 0 of {len(grid.cells)} cells")
        started = time.monotonic()

        def progress(g: Any) -> None:
            done = sum(1 for c in g.cells if c.status not in ("pending", "running"))
            handle.say(f"grid: {done} of {len(g.cells)} cells, {time.monotonic() - started:.0f} s")

        try:
            grid.run(concurrency, budget, confirm=args.yes, on_progress=progress)
        finally:  # finished cells are shown even after an interrupt
            handle.show(grid)
            self._store(args.out, grid)
        return None

    def _live(self, work: Any) -> Any:
        """Run ``work(cancel, on_status)`` with one status line updated in place."""
        handle = _Handle(self.progress, "nb2: queued")
        started = time.monotonic()
        last = [0.0]
        lock = threading.Lock()

        def say(status: str) -> None:
            now = time.monotonic()
            with lock:
                if now - last[0] < 0.25:
                    return
                last[0] = now
            handle.say(f"nb2: {status}, {now - started:.0f} s")

        try:
            result = work(None, say)
        except BaseException as exc:
            handle.say(f"nb2: not done ({type(exc).__name__})")
            raise
        handle.show(result)
        return result

    def _store(self, name: str | None, value: Any) -> None:
        if name:
            self.shell.user_ns[name] = value

    # -- %nb2 -------------------------------------------------------------------------------
    @line_magic("nb2")
    def nb2_line(self, line: str) -> Any:
        """%nb2 history | sessions | use NAME | config"""
        words = line.split()
        verb = words[0] if words else "config"
        if verb == "history":
            return self.session(words[1] if len(words) > 1 else None).history
        if verb == "sessions":
            names = sorted(set(self.sessions) | {self.active})
            return _Lines(
                "\n".join(
                    f"{'*' if n == self.active else ' '} {n}: "
                    f"{len(self.sessions[n].history) if n in self.sessions else 0} turns"
                    for n in names
                )
            )
        if verb == "use" and len(words) == 2:
            self.active = words[1]
            return None
        if verb == "config":
            return _Lines(self.config_text())
        raise UsageError("%nb2: use history [NAME], sessions, use NAME, or config")

    def config_text(self) -> str:
        s = self.sessions.get(self.active)
        token = "yes" if os.environ.get("REPLICATE_API_TOKEN") else "no"
        backend = s.backend.name if s else ("replicate" if token == "yes" else "offline")
        lines = [
            f"session: {self.active}",
            f"backend: {backend}",
            f"token present: {token}",
            f"store: {self.store or os.environ.get('NB2_STORE') or 'nb2-runs'}",
            f"cache: {self.cache or os.environ.get('NB2_CACHE') or 'auto'}",
        ]
        lines += [
            f"{name}: {getattr(self, name)}"
            for name in (
                "model",
                "resolution",
                "aspect",
                "format",
                "search",
                "concurrency",
                "confirm_cells",
                "budget",
            )
        ]
        return "\n".join(lines)


class _Lines(str):
    """Text a line magic returns: shown as lines in the notebook, not as a quoted string."""

    def __repr__(self) -> str:
        return str(self)


class _Handle:
    """One output updated in place: status lines, then the result. With progress off, only
    the result is displayed (and a failure's status line, since there is no result)."""

    def __init__(self, live: bool, first: str) -> None:
        from IPython.display import display

        self.live = live
        self.handle = display(_Text(first), display_id=True) if live else None

    def say(self, text: str) -> None:
        if self.handle is not None:
            self.handle.update(_Text(text))

    def show(self, value: Any) -> None:
        from IPython.display import display

        if self.handle is not None:
            self.handle.update(value)
        else:
            display(value)


class _Text:
    """Something that shows as one line in both text and HTML."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from .display import status_html

        return status_html(self.text)


def load_ipython_extension(ipython: Any) -> None:
    magics = Nb2Magics(shell=ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)  # so %config Nb2Magics.x = ... reaches it
