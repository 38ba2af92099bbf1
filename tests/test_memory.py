"""A long session's memory: the images a run decodes are freed when it ends, and the offline
renderer hands the freed pixels back (benchmarks figure 7 measures the resident size)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from PIL import Image

import nb2
from nb2.backends.offline import backend as offline
from nb2.request.params import Params


def _live_images() -> set[int]:
    return {id(o) for o in gc.get_objects() if isinstance(o, Image.Image)}


def test_an_edit_leaves_no_image_alive_nor_in_a_cycle(tmp_path: Path) -> None:
    # The issue suspected decoded images held in reference cycles until a full collection:
    # every image a generate and an edit make must be freed by reference counting alone.
    s = nb2.Session(backend=nb2.OfflineBackend(), store=tmp_path / "runs")
    gc.collect()
    before = _live_images()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection would free is kept in gc.garbage
    try:
        s.generate("a lighthouse", resolution="1K")
        s.edit("make it warmer")
        gc.collect()
        in_cycles = [o for o in gc.garbage if isinstance(o, Image.Image)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert in_cycles == []
    assert _live_images() - before == set()


def test_the_offline_render_gives_its_freed_pixels_back(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel's growth was glibc keeping the freed pixels of the worker thread's arena, not
    # a reference: so memory is released after each render, when none of its images is alive.
    before = _live_images()
    alive_at_release: list[set[int]] = []

    def release() -> bool:
        alive_at_release.append(_live_images() - before)
        return True

    monkeypatch.setattr(offline, "release_freed_memory", release)
    backend = nb2.OfflineBackend()
    backend.run(Params("a lighthouse", resolution="1K"))
    backend.run(Params("a lighthouse", resolution="1K", output_format="png"))
    assert alive_at_release == [set(), set()]


def test_the_trim_is_found_where_glibc_is() -> None:
    import platform
    import sys

    from nb2.imaging import _malloc_trim, release_freed_memory

    # where glibc is, the fix must reach it (a failed lookup would silently do nothing)
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert (_malloc_trim() is not None) is glibc
    assert isinstance(release_freed_memory(), bool)
