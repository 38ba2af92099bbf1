"""Real JupyterLab and Debian's Chromium for the browser tests.

``jupyterlab()`` starts Lab on a free loopback port over a fresh folder (its own settings,
workspaces, runtime and config dirs; no news pop-up; every cell kept in the DOM) with one
notebook of the given cells. ``chromium()`` launches the system browser (never Playwright's
own download). ``open_notebook()`` opens the notebook on its kernel and runs every cell.
``Kernel`` is a second client on that kernel that reads Python state as JSON, so a test can
assert what the kernel holds after a click. Under CI=true a missing browser fails, never skips.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
SETTINGS = {
    # no news pop-up, no update check: nothing but the notebook on screen
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # every cell stays in the DOM, so a test finds every output
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
# what a test's own environment may hold that must not leak into the lab's kernel
UNSET = ("NB2_CACHE", "NB2_STORE", "REPLICATE_API_TOKEN")
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
KERNEL_IDLE = (
    "() => { const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel;"
    " return k && k.connectionStatus === 'connected' && k.status === 'idle' }"
)


def need_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_notebook(path: Path, cells: list[str]) -> None:
    code = [
        {"cell_type": "code", "metadata": {}, "source": src, "outputs": [], "execution_count": None}
        for src in cells
    ]
    meta = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nb = {"cells": code, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


@contextlib.contextmanager
def jupyterlab(
    root: Path, notebook: str, cells: list[str], env: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Lab serving ``root/work/notebook``; ``env`` adds to (or puts back) the kernel's
    environment. Yields url, token, work, runtime and env."""
    need_chromium()
    dirs = {name: root / name for name in ("work", "settings", "workspaces", "runtime", "config")}
    for folder in dirs.values():
        folder.mkdir(exist_ok=True)
    for name, value in SETTINGS.items():
        f = dirs["settings"] / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    write_notebook(dirs["work"] / notebook, cells)
    full = {k: v for k, v in os.environ.items() if k not in UNSET}
    full.update(JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTER_CONFIG_DIR=str(dirs["config"]))
    full.update(env or {})
    port, token = free_port(), secrets.token_hex(16)
    log_path = root / "lab.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
             "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.token={token}",
             f"--ServerApp.root_dir={dirs['work']}",
             f"--LabApp.user_settings_dir={dirs['settings']}",
             f"--LabApp.workspaces_dir={dirs['workspaces']}",
             "--LabApp.expose_app_in_browser=True"],
            cwd=dirs["work"], env=full, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while not _answers(url, token):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start: {log_path.read_text()}")
                time.sleep(0.3)
            yield {"url": url, "token": token, "work": dirs["work"], "runtime": dirs["runtime"],
                   "env": full, "notebook": notebook}  # fmt: skip
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _answers(url: str, token: str) -> bool:
    try:
        return httpx.get(f"{url}/api/status", params={"token": token}).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_notebook(
    page: Any, lab: dict[str, Any], ready: Callable[[Any], bool], what: str, timeout: float = 120
) -> None:
    """Open the lab's notebook on a kernel started first (so Lab does not ask which), run every
    cell once that kernel is connected and idle (cells sent earlier are dropped), and wait
    until ``ready(page)``; past ``timeout`` a screenshot is saved and ``what`` is named."""
    page.set_default_timeout(60_000)
    name = lab["notebook"]
    httpx.post(
        f"{lab['url']}/api/sessions", params={"token": lab["token"]},
        json={"path": name, "type": "notebook", "name": name, "kernel": {"name": "python3"}},
    ).raise_for_status()  # fmt: skip
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_function(KERNEL_IDLE)
    page.evaluate(RUN_ALL)  # not awaited: its promise ends only when every cell has run
    deadline = time.monotonic() + timeout
    while not ready(page):
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count():  # Lab may still ask which kernel: the notebook's own, then run
            accept.click()
            page.evaluate(RUN_ALL)
        if time.monotonic() > deadline:
            stem = Path(name).stem
            page.screenshot(path=str(ARTIFACTS / f"{stem}-00-not-shown.png"), full_page=True)
            raise AssertionError(f"{what} did not appear")
        time.sleep(0.25)


def set_theme(page: Any, name: str) -> None:
    """Switch Lab to the theme ``name`` ("JupyterLab Light" or "JupyterLab Dark") and wait."""
    command = (
        f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{name}'}})"
    )
    page.evaluate(command)
    light = "true" if name == "JupyterLab Light" else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    time.sleep(0.5)  # the theme's CSS variables settle


def screenshot_on_failure(request: pytest.FixtureRequest, prefix: str) -> None:
    """For an autouse fixture's teardown: a full-page screenshot of a failed test's page."""
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and "page" in request.fixturenames:
        path = ARTIFACTS / f"{prefix}failed-{request.node.name}.png"
        request.getfixturevalue("page").screenshot(path=str(path), full_page=True)


class Kernel:
    """A second client on the notebook's kernel: reads Python state as JSON."""

    def __init__(self, lab: dict[str, Any]) -> None:
        from jupyter_client import BlockingKernelClient

        deadline = time.monotonic() + 60
        while True:
            sessions = httpx.get(f"{lab['url']}/api/sessions", params={"token": lab["token"]})
            if sessions.json():
                break
            if time.monotonic() > deadline:
                raise RuntimeError("no kernel session appeared")
            time.sleep(0.3)
        kid = sessions.json()[0]["kernel"]["id"]
        self.client = BlockingKernelClient(
            connection_file=str(lab["runtime"] / f"kernel-{kid}.json")
        )
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @classmethod
    @contextlib.contextmanager
    def on(cls, lab: dict[str, Any]) -> Iterator[Kernel]:
        kernel = cls(lab)
        try:
            yield kernel
        finally:
            kernel.client.stop_channels()

    def __call__(self, expr: str) -> Any:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + msg["content"]["evalue"])

        self.client.execute_interactive(
            f"import json as _j\nprint(_j.dumps({expr}))", output_hook=hook, timeout=60
        )
        text = "".join(out)
        if text.startswith("ERROR"):
            raise AssertionError(f"{expr}: {text}")
        return json.loads(text)

    def eventually(self, expr: str, check: Callable[[Any], bool], timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self(expr)
            if check(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr} is still {value!r} after {timeout} s")
            time.sleep(0.2)
