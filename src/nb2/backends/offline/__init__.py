"""The offline stand-in: a deterministic local renderer in place of the model (backend.py,
render.py, render_edit.py for edits), and stand-ins for the other Replicate models the tests and
tutorials use (standins.py). Every image says that it is offline; no network, no token."""

from .backend import OfflineBackend

__all__ = ["OfflineBackend"]
