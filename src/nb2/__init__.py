"""nb2: Nano Banana 2 (on Replicate, and Nano Banana 2.1 on Google's Gemini API) in Jupyter.

``import nb2`` is cheap: the heavy parts (Pillow, the replicate client, widgets) load on first
use, so ``%load_ext nb2`` stays fast.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import models as _models
from ._version import __version__
from .grids import frontends as _frontends

_LAZY = {
    "Session": ".session.session",
    "History": ".session.history",
    "Result": ".session.result",
    "Params": ".request.params",
    "Reference": ".request.references",
    "Store": ".store",
    "OfflineBackend": ".backends.offline",
    "ReplicateBackend": ".backends.replicate",
    "GeminiBackend": ".backends.gemini",
    "Emulator": ".emulator",
    "Panel": ".notebook.panel",
    "errors": ".errors",
    "models": ".models",
    "open": ".store.opened",
    "leave_one_out": ".grids.cells",
    "diff_manifests": ".grids.manifests",
    "recover": ".session.recover",
    "diff": ".judging.diff",
    "Judge": ".judging.judge",
    "agreement": ".judging.agreement",
    "Duel": ".notebook.duel",
    "Explorer": ".notebook.explore",
    "find": ".archive.find",
    "sync": ".archive.sync",
    "store_stats": ".archive.find",
    "export": ".archive.bundle",
    "import_bundle": ".archive.bundle",
    "Gallery": ".notebook.gallery",
}

__all__ = [
    "Duel",
    "Emulator",
    "Explorer",
    "Gallery",
    "GeminiBackend",
    "History",
    "Judge",
    "OfflineBackend",
    "Panel",
    "Params",
    "Reference",
    "ReplicateBackend",
    "Result",
    "Session",
    "Store",
    "__version__",
    "agreement",
    "diff",
    "diff_manifests",
    "errors",
    "export",
    "find",
    "import_bundle",
    "leave_one_out",
    "models",
    "open",
    "recover",
    "store_stats",
    "sync",
]

if TYPE_CHECKING:
    from . import errors, models
    from .archive.bundle import export, import_bundle
    from .archive.find import find, store_stats
    from .archive.sync import sync
    from .backends.gemini import GeminiBackend
    from .backends.offline import OfflineBackend
    from .backends.replicate import ReplicateBackend
    from .emulator import Emulator
    from .grids.cells import leave_one_out
    from .grids.manifests import diff_manifests
    from .judging.agreement import agreement
    from .judging.diff import diff
    from .judging.judge import Judge
    from .notebook.duel import Duel
    from .notebook.explore import Explorer
    from .notebook.gallery import Gallery
    from .notebook.panel import Panel
    from .request.params import Params
    from .request.references import Reference
    from .session.history import History
    from .session.recover import recover
    from .session.result import Result
    from .session.session import Session
    from .store import Store
    from .store.opened import open


def _explore(grid: Any, **options: Any) -> Any:
    """``Grid.explore()``: the widget lives above the engine, so the root hands it over."""
    from .notebook.explore import Explorer

    return Explorer(grid, **options)


def _progress(handle: Any, again: bool = False) -> bool:
    """A background grid's live progress (``g.run(background=True)``), where a notebook is."""
    if not again and "ipykernel" not in sys.modules:  # no kernel: no widgets to import
        return False
    from .notebook.live import show_progress

    return show_progress(handle, again)


def _gemini_lister() -> Any:
    """``nb2.models.check()`` with no backend: the Gemini API when a key is set, else None."""
    import os

    from .backends.gemini.backend import KEY_VARS, GeminiBackend

    return GeminiBackend() if any(os.environ.get(v) for v in KEY_VARS) else None


_models.LIVE_LISTER = _gemini_lister
_frontends.register("explore", _explore)
_frontends.register("progress", _progress)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name], __name__)
        value = module if name in ("errors", "models") else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nb2' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nb2``: the %%nb2 cell magic and the %nb2 line magic."""
    from .notebook.magic import load_ipython_extension as load

    load(ipython)
