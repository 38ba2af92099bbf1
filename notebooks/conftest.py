"""The tutorials under nbval: each notebook runs offline, against a store of its own.

A fresh store per notebook makes every run start from nothing (no "cached" badges that depend on
what ran before), and no token means the offline backend, so the outputs are the same each time.
Cells tagged ``needs-token`` (07-going-live) run only with ``NB2_LIVE_TUTORIALS=1`` and a
``REPLICATE_API_TOKEN``; otherwise they are reported as skipped, never as passed.
"""

from __future__ import annotations

import os
import tempfile

import pytest

_TOKEN = os.environ.get("REPLICATE_API_TOKEN", "")  # kept here, off the other kernels' env
LIVE = os.environ.get("NB2_LIVE_TUTORIALS") == "1" and bool(_TOKEN)
NEEDS_TOKEN = "needs-token"
_stores: dict[str, str] = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    notebook = str(item.path)
    if not notebook.endswith(".ipynb"):
        return
    # Before the notebook's kernel starts (with the file's first cell), point it at a new
    # store; the kernel inherits this process's environment.
    if notebook not in _stores:
        _stores[notebook] = tempfile.mkdtemp(prefix="nb2-tutorial-")
        os.environ["NB2_STORE"] = _stores[notebook]
        os.environ.pop("NB2_CACHE", None)
        os.environ["NB2_PROGRESS"] = "0"  # nbval does not apply display updates: no status line
        # only a notebook with live cells keeps the token; the others stay offline (and free)
        if LIVE and NEEDS_TOKEN in item.path.read_text():
            os.environ["REPLICATE_API_TOKEN"] = _TOKEN
        else:
            os.environ.pop("REPLICATE_API_TOKEN", None)
    cell = getattr(item, "cell", None)
    if cell is not None and NEEDS_TOKEN in cell.get("metadata", {}).get("tags", []) and not LIVE:
        pytest.skip("needs a Replicate token (NB2_LIVE_TUTORIALS=1 and REPLICATE_API_TOKEN)")
