"""Runs on disk: content-addressed images, one JSON record per run, cache pointers (runs.py);
parameters and lineage written into the image files (codec.py) and read back (opened.py).
Knows no backend, session or notebook."""

from .files import StoreWarning
from .runs import CACHE_MODES, DEFAULT_ROOT, Store

__all__ = ["CACHE_MODES", "DEFAULT_ROOT", "Store", "StoreWarning"]
