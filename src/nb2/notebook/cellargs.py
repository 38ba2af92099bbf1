"""A ``%%nb2`` cell parsed once into one frozen, typed :class:`CellArgs`; the magic then
dispatches on it. Every bad line is a ``UsageError`` naming the option."""

from __future__ import annotations

import builtins
import difflib
import glob
import keyword
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import MagicHelpFormatter

from ..request.references import ROLES, Reference
from . import after

_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_AXIS_NAMES = {
    "prompt": "prompt", "model": "model", "resolution": "resolution", "res": "resolution",
    "aspect": "aspect_ratio", "aspect_ratio": "aspect_ratio", "format": "output_format",
    "output_format": "output_format", "search": "google_search", "google_search": "google_search",
    "image_search": "image_search", "image-search": "image_search",
}  # fmt: skip
MAX_REPEAT = 100  # samples of one request; a grid's size is checked before it is built too
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
        try:
            for attr in attrs:
                if not hasattr(value, attr):
                    return token
                value = getattr(value, attr)
            return str(value)
        except Exception as exc:  # a value whose str() (or attribute) raises
            raise UsageError(
                f"{{{m.group(1)}}}: the notebook variable could not be turned into text "
                f"({type(exc).__name__}: {exc})"
            ) from None

    return _VAR.sub(sub, text)


def split_variants(cell: str) -> list[str]:
    """Prompt variants: the cell split on lines that are exactly ``---``."""
    parts = re.split(r"^\s*---\s*$", cell, flags=re.M)
    return [p.strip() for p in parts if p.strip()]


@dataclass(frozen=True)
class CellArgs:
    """What a ``%%nb2`` cell asks for. ``options`` holds only what the line gave."""

    prompts: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    refs: tuple[Reference, ...] = ()
    refs_given: bool = False
    session: str | None = None
    backend: str | None = None
    edit: bool = False
    parent: str | None = None
    out: str | None = None
    axes: dict[str, list[Any]] = field(default_factory=dict)
    repeat: int = 1
    fresh: bool = False
    plan: bool = False
    budget: float | None = None
    concurrency: int | None = None
    yes: bool = False
    batch: bool = False  # a grid as one Batch API job
    background: bool = False  # a grid that leaves the kernel free
    panel: bool = False
    then: tuple[tuple[str, dict[str, Any]], ...] = ()  # chain steps (--then)
    judge: str | None = None  # --judge: None not asked, "" the configured judge, else a model

    @property
    def is_grid(self) -> bool:
        return len(self.prompts) > 1 or bool(self.axes) or self.repeat > 1


def suggest(message: str, parser: Any) -> str:
    """argparse's "unrecognized arguments: --resoluton 2K", with the flag that was meant."""
    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    hints = []
    for word in message.split():
        if word.startswith("--") and word not in known:
            close = difflib.get_close_matches(word.split("=")[0], known, n=1, cutoff=0.6)
            if close:
                hints.append(f"{word}: did you mean {close[0]}?")
    text = f"%%nb2: {message}"
    return f"{text} ({'; '.join(hints)})" if hints else f"{text} (see %%nb2? for the options)"


def parse(args: Any, cell: str, ns: dict[str, Any]) -> CellArgs:
    """The argparse namespace of the line and the cell's text, checked and resolved."""
    if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
        raise UsageError(f"-o {args.out}: not a Python variable name")
    if args.out is not None and args.out in vars(builtins):
        warnings.warn(
            f"-o {args.out}: this hides Python's built-in {args.out!r} in the notebook",
            UserWarning,
            stacklevel=2,
        )
    if args.repeat > MAX_REPEAT:
        raise UsageError(f"-n {args.repeat}: at most {MAX_REPEAT} samples of a request")
    if args.repeat < 1:
        raise UsageError(f"-n {args.repeat}: the number of samples is at least 1")
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError(f"--concurrency {args.concurrency}: at least 1 cell at once")
    if args.budget is not None and not (math.isfinite(args.budget) and args.budget >= 0):
        raise UsageError(f"--budget {args.budget}: a cap in USD, 0 or more")
    prompts = tuple(split_variants(interpolate(cell, ns)))
    then = after.steps(getattr(args, "then", None))
    if then and (len(prompts) > 1 or args.vary or args.edit or args.panel or args.plan):
        raise UsageError("%%nb2 --then: one prompt (or none, to start from the current image)")
    if not prompts and not args.panel and not then:
        raise UsageError("%%nb2: the cell is the prompt, and it is empty")
    if args.panel and (len(prompts) > 1 or args.vary or args.edit or args.plan):
        raise UsageError("%%nb2 --panel: one prompt (or none); no --vary, --edit or --plan")
    if args.edit and (len(prompts) > 1 or args.vary):
        raise UsageError("%%nb2 --edit: one instruction, no --vary")
    out = CellArgs(
        prompts=prompts,
        options=options(args),
        refs=tuple(refs(args.ref, ns)),
        refs_given=bool(args.ref),
        session=args.session,
        backend=args.backend,
        edit=bool(args.edit),
        parent=args.parent,
        out=args.out,
        axes=axes(args.vary),
        repeat=args.repeat,
        fresh=bool(args.fresh),
        plan=bool(args.plan),
        budget=args.budget,
        concurrency=args.concurrency,
        yes=bool(args.yes),
        batch=bool(args.batch),
        background=bool(args.background),
        panel=bool(args.panel),
        then=then,
        judge=getattr(args, "judge", None),
    )
    if out.background and (not out.is_grid or out.plan or out.panel):
        raise UsageError(
            "%%nb2 --background: a grid (--vary, -n, or prompts split by ---) that runs while "
            "the kernel stays free; not with --plan or --panel"
        )
    if out.judge is not None and (out.background or out.panel):
        raise UsageError(
            "%%nb2 --judge: judges what the cell made; with --background judge when it has "
            "finished (h.wait(); h.grid.judge()), and the panel has no judge yet"
        )
    return out


def options(args: Any) -> dict[str, Any]:
    """The request options the line gave, under the engine's names."""
    out: dict[str, Any] = {}
    for name, key in _OPTION_NAMES:
        value = getattr(args, name)
        if value is not None:
            out[key] = value
    return out


_OPTION_NAMES = (
    ("model", "model"),
    ("resolution", "resolution"),
    ("aspect", "aspect_ratio"),
    ("format", "output_format"),
    ("search", "google_search"),
    ("image_search", "image_search"),
)


def refs(specs: list[str], ns: dict[str, Any]) -> list[Any]:
    """``--ref SOURCE[:ROLE]``: a role is one of the known roles or quoted free text
    (``x.png:'soft rim light'``), never carved out of a URL or of a path that exists."""
    out: list[Any] = []
    for spec in specs:
        spec = _unquote(spec)  # IPython splits without removing quotes: 'my file.png'
        source, role = _split_role(spec, ns)
        if source.isidentifier() and source in ns:
            value = ns[source]
            items = value if isinstance(value, (list, tuple)) else [value]
            out += [Reference(v, role=role) for v in items]
            continue
        if source.startswith(("http://", "https://")):
            out.append(Reference(source, role=role))
            continue
        matches = sorted(glob.glob(glob.escape(os.path.expanduser(source))))
        matches = matches or sorted(glob.glob(os.path.expanduser(source)))
        if not matches:
            hint = ""
            if ":" in source and not source.startswith(("http://", "https://")):
                hint = (
                    f"; a role after ':' is one of {', '.join(ROLES)}, or free text in quotes "
                    "(photo.png:'soft rim light')"
                )
            raise UsageError(f"--ref {spec}: no file or notebook variable named {source!r}{hint}")
        out += [Reference(m, role=role) for m in matches]
    return out


def _unquote(text: str) -> str:
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _split_role(spec: str, ns: dict[str, Any]) -> tuple[str, str | None]:
    head, sep, tail = spec.rpartition(":")
    if not sep or not head:
        return spec, None
    quoted = len(tail) > 1 and tail[0] == tail[-1] and tail[0] in "'\""
    if quoted:
        return head, _unquote(tail).strip() or None
    if tail.strip().lower() not in ROLES:
        return spec, None  # a URL's port, a query, a file named a:b.png: all source
    exists = os.path.exists(os.path.expanduser(spec)) or (spec.isidentifier() and spec in ns)
    return (spec, None) if exists else (head, tail.strip().lower())


def parent(spec: str | None, session: Any, ns: dict[str, Any]) -> Any:
    if spec is None:
        return None
    number = spec.lstrip("#")
    if number.isascii() and number.isdigit():
        try:
            return session.history[int(number)]
        except IndexError as exc:
            raise UsageError(f"--parent {spec}: {exc}") from None
    if spec in ns:
        return ns[spec]
    raise UsageError(f"--parent {spec}: give a turn number (see %nb2 history) or a Result variable")


def axes(specs: list[str]) -> dict[str, list[Any]]:
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


class CellHelp(MagicHelpFormatter):
    """``%%nb2?`` as a cell magic's help: "Usage: %%nb2 ...", not rst's ``::``."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: Any = "Usage: %") -> None:
        super().add_usage(usage, actions, groups, prefix)
