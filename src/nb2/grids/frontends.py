"""Widgets the engine's objects can open (``Grid.explore()``), without importing them.

The widgets live in ``nb2.notebook``, a layer above the engine; the engine must not import it.
The package root (``nb2/__init__.py``, outside the layers) registers a factory for each name,
so ``g.explore()`` works after a plain ``import nb2``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_FACTORIES: dict[str, Callable[..., Any]] = {}


def register(name: str, factory: Callable[..., Any]) -> None:
    _FACTORIES[name] = factory


def make(name: str, *args: Any, **kwargs: Any) -> Any:
    factory = _FACTORIES.get(name)
    if factory is None:
        raise RuntimeError(f"no {name!r} widget is registered (import nb2 first)")
    return factory(*args, **kwargs)


def show(name: str, *args: Any, **kwargs: Any) -> bool:
    """Open ``name``'s view if one is registered (it knows whether a notebook is there to show
    it in); False when none is (plain Python): the caller then has only its repr."""
    factory = _FACTORIES.get(name)
    return bool(factory is not None and factory(*args, **kwargs))
