from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import nb2
from nb2.emulator import Emulator

# Looks like a real token (r8_ + 37 characters), so the leak scans mean something.
TOKEN = "r8_" + secrets.token_hex(19)[:37]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "NB2_CACHE", "NB2_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    nb2.models.reset_prices()


@pytest.fixture(autouse=True)
def _no_config_left_behind() -> Iterator[None]:
    """``%config Nb2Magics.x = ...`` lives on the one shared InteractiveShell: a test that sets
    it must not change the defaults of the tests after it (in any order, as under xdist)."""
    yield
    from IPython.core.interactiveshell import InteractiveShell

    if InteractiveShell.initialized():
        InteractiveShell.instance().config.pop("Nb2Magics", None)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """A few reference images on disk, as a researcher would have them."""
    out = {
        "palette": tmp_path / "palette.jpg",
        "bottle": tmp_path / "bottle.png",
        "face": tmp_path / "face.png",
    }
    Image.new("RGB", (300, 200), (200, 120, 40)).save(out["palette"], quality=92)
    Image.new("RGBA", (400, 600), (20, 120, 200, 255)).save(out["bottle"])
    Image.linear_gradient("L").convert("RGB").resize((320, 320)).save(out["face"])
    return out


@pytest.fixture
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture
def backend(emulator: Emulator) -> nb2.ReplicateBackend:
    # a short sync hold: a test never waits out the default 10 s for a prediction it stopped
    return nb2.ReplicateBackend(
        api_token=TOKEN, base_url=emulator.base_url, wait=2, poll_interval=0.05
    )


@pytest.fixture
def store(tmp_path: Path) -> nb2.Store:
    return nb2.Store(tmp_path / "runs")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep each phase's report on the item, so fixtures can react to a failure (screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# -- the browser tests (each module has its own ``lab`` and ``page``) ------------------------------
@pytest.fixture(scope="module")
def py(lab: dict, page: object) -> Iterator[object]:
    """A second client on the notebook's kernel: Python's state, read after a click."""
    from .lab import Kernel

    with Kernel.on(lab) as kernel:
        yield kernel


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed browser test's page, saved, in a module that names its ``SHOTS`` prefix."""
    yield
    prefix = getattr(request.module, "SHOTS", None)
    if prefix is not None:
        from .lab import screenshot_on_failure

        screenshot_on_failure(request, prefix)


@pytest.fixture
def small_disk(tmp_path):
    """A real filesystem of its own (tmpfs), so it can be filled or made read-only."""
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(where)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot mount a tmpfs for the disk tests: {done.stderr!r}")
        pytest.skip("mounting a tmpfs needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)
