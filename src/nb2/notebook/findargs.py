"""``%nb2 find WORDS --model M --since 7d ...``: the line parsed into nb2.find's arguments."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError

_FLAGS = ("search", "image_search", "grid", "offline")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="%nb2 find", add_help=False, exit_on_error=False)
    ap.add_argument("words", nargs="*")
    for name in ("model", "resolution", "aspect", "format", "status", "session", "kind",
                 "since", "until", "sort"):  # fmt: skip
        ap.add_argument(f"--{name}")
    for name in _FLAGS:
        flag = name.replace("_", "-")
        ap.add_argument(f"--{flag}", dest=name, action="store_true", default=None)
        ap.add_argument(f"--no-{flag}", dest=name, action="store_false")
    ap.add_argument("--min-cost", type=float)
    ap.add_argument("--max-cost", type=float)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--min-rating", type=int)
    ap.add_argument("--any-status", action="store_true")
    return ap


def parse(line: str) -> tuple[str | None, dict[str, Any]]:
    """(text, filters) for ``nb2.find``; a bad line is a UsageError naming the option."""
    try:
        ns = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise UsageError(f"%nb2 find {line}: {exc}") from None
    except SystemExit:  # argparse still exits on an unknown option
        raise UsageError(f"%nb2 find {line}: unknown option; see %nb2?") from None
    filters = {k: v for k, v in vars(ns).items() if v is not None and k not in ("words",)}
    if filters.pop("any_status", False):
        filters["status"] = None
    return (" ".join(ns.words) or None), filters
