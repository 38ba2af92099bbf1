"""nb2: Nano Banana 2 (Gemini 3.1 Flash Image, on Replicate) in Jupyter.

``import nb2`` is cheap: the heavy parts (Pillow, the replicate client, widgets) load on first
use, so ``%load_ext nb2`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Session": ".session",
    "History": ".history",
    "Result": ".result",
    "Params": ".params",
    "Reference": ".references",
    "Store": ".store",
    "OfflineBackend": ".backends.offline",
    "ReplicateBackend": ".backends.replicate",
    "Emulator": ".emulator",
    "Panel": ".widget",
    "errors": ".errors",
    "models": ".models",
    "open": ".metadata",
    "leave_one_out": ".grid",
}

__all__ = [
    "Emulator",
    "History",
    "OfflineBackend",
    "Panel",
    "Params",
    "Reference",
    "ReplicateBackend",
    "Result",
    "Session",
    "Store",
    "__version__",
    "errors",
    "leave_one_out",
    "models",
    "open",
]

if TYPE_CHECKING:
    from . import errors, models
    from .backends.offline import OfflineBackend
    from .backends.replicate import ReplicateBackend
    from .emulator import Emulator
    from .grid import leave_one_out
    from .history import History
    from .metadata import open
    from .params import Params
    from .references import Reference
    from .result import Result
    from .session import Session
    from .store import Store
    from .widget import Panel


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
    from .magic import load_ipython_extension as load

    load(ipython)
