"""The Duel and the grid explorer in real JupyterLab and Chromium (Playwright).

Keys are pressed in the page; the choices and ratings are then read from the store through a
second client on the notebook's kernel. Screenshots go to test-artifacts/browser/. Under
CI=true a missing browser is a failure, not a skip (see test_browser_panel.py, whose helpers
this module shares).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .test_browser_panel import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Kernel, _free_port, _need

pytestmark = pytest.mark.browser

CELLS = [
    "import nb2\n"
    "s = nb2.Session(nb2.OfflineBackend(), store='store')\n"
    "g = s.compare(prompt=['a red fox', 'a blue fox', 'a green fox'], resolution=['1K', '2K'],\n"
    "              repeat=2).run()\n"
    "duel = nb2.Duel(g, by='prompt', rater='browser', seed=7)\n"
    "duel",
    "ex = g.explore()\nex",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _need(CHROMIUM)
    root = tmp_path_factory.mktemp("lab-judging")
    dirs = {name: root / name for name in ("work", "settings", "workspaces", "runtime", "config")}
    for d in dirs.values():
        d.mkdir()
    settings = {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                        "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }  # fmt: skip
    for name, value in settings.items():
        f = dirs["settings"] / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    cells = [{"cell_type": "code", "metadata": {}, "source": src, "outputs": [],
              "execution_count": None} for src in CELLS]  # fmt: skip
    (dirs["work"] / "judging.ipynb").write_text(json.dumps({
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }))  # fmt: skip
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
           "JUPYTER_CONFIG_DIR": str(dirs["config"])}  # fmt: skip
    for name in ("NB2_CACHE", "NB2_STORE", "REPLICATE_API_TOKEN"):
        env.pop(name, None)
    log = (root / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ip=127.0.0.1", f"--port={port}", f"--ServerApp.token={token}",
         f"--ServerApp.root_dir={dirs['work']}",
         f"--LabApp.user_settings_dir={dirs['settings']}",
         f"--LabApp.workspaces_dir={dirs['workspaces']}",
         "--LabApp.expose_app_in_browser=True"],
        cwd=dirs["work"], env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start: {(root / 'lab.log').read_text()}")
            time.sleep(0.3)
        yield {"url": url, "token": token, "runtime": dirs["runtime"], "work": dirs["work"]}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.set_default_timeout(60_000)
        httpx.post(
            f"{lab['url']}/api/sessions", params={"token": lab["token"]},
            json={"path": "judging.ipynb", "type": "notebook", "name": "judging.ipynb",
                  "kernel": {"name": "python3"}},
        ).raise_for_status()  # fmt: skip
        pg.goto(f"{lab['url']}/lab/tree/judging.ipynb?token={lab['token']}")
        pg.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')")
        pg.wait_for_selector(".jp-Notebook .jp-Cell")
        pg.wait_for_function(
            "() => { const k = window.jupyterapp.shell.currentWidget?.sessionContext?.session"
            "?.kernel; return k && k.connectionStatus === 'connected' && k.status === 'idle' }"
        )
        pg.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        deadline = time.monotonic() + 120
        while pg.locator(".nb2-duel").count() < 1 or pg.locator(".nb2-explore").count() < 1:
            accept = pg.locator(".jp-Dialog .jp-mod-accept")
            if accept.count():
                accept.click()
                pg.evaluate(
                    "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"
                )
            if time.monotonic() > deadline:
                pg.screenshot(path=str(ARTIFACTS / "judging-00-no-widgets.png"), full_page=True)
                raise AssertionError("the duel and the explorer did not appear")
            time.sleep(0.25)
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def py(lab: dict[str, Any], page: Any) -> Iterator[Kernel]:
    kernel = Kernel(lab)
    yield kernel
    kernel.client.stop_channels()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"judging-{name}.png"), full_page=True)


def _pair_loaded(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nb2-duel-img')].every(i => i.src.startsWith("
        "'blob:') && i.complete && i.naturalWidth > 0)"
    )


def test_duel_keys_store_left_right_tie_and_skip(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    duel = page.locator(".nb2-duel")
    _pair_loaded(page)
    assert "fox" not in duel.inner_text()  # blind: nothing said about the two images
    shot(page, "01-duel")
    expected = []
    for key, choice in (("ArrowLeft", "left"), ("ArrowRight", "right"), ("t", "tie"),
                        ("s", "skip")):  # fmt: skip
        shown = py("[r.id for r in duel.shown]")
        token = duel.get_attribute("data-pair")
        duel.locator(".nb2-duel-head").click()  # the widget has the keyboard, not the notebook
        page.keyboard.press(key)
        page.wait_for_function(
            f"() => document.querySelector('.nb2-duel').dataset.pair !== {json.dumps(token)}"
        )
        expected.append([shown[0], shown[1], choice, "browser"])
        got = py("[[c['left'], c['right'], c['choice'], c['rater']] for c in duel.choices()]")
        assert got == expected
        _pair_loaded(page)
    # the last pair is unmasked after its choice; the notebook's cells did not move
    assert "skipped" in duel.locator(".nb2-duel-reveal").inner_text()
    assert "prompt=P" in duel.locator(".nb2-duel-reveal").inner_text()
    assert py("len(nb2.Duel(g, by='prompt').choices())") == 4  # in the store, for a new duel
    # a click on a side chooses it too
    shown = py("[r.id for r in duel.shown]")
    duel.locator(".nb2-duel-right").click()
    py.eventually("len(duel.choices())", lambda n: n == 5)
    assert py("[duel.choices()[-1][k] for k in ('left', 'right', 'choice')]") == [
        *shown, "right",
    ]  # fmt: skip
    expect(duel.locator(".nb2-duel-count")).to_have_text("5 choices")  # the page catches up
    duel.locator(".nb2-duel-ranking-box summary").click()
    assert duel.locator(".nb2-duel-ranking tr").count() == 4  # a header and three prompts
    shot(page, "02-duel-judged")


def test_explorer_opens_an_image_and_rates_it_by_key_and_by_star(page: Any, py: Kernel) -> None:
    ex = page.locator(".nb2-explore")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nb2-explore-thumb img')].length === 12 && "
        "[...document.querySelectorAll('.nb2-explore-thumb img')].every(i => i.complete && "
        "i.naturalWidth > 0)"
    )
    # rows x columns: prompt x resolution, each cell a strip of its two samples
    strips = ex.locator(".nb2-explore-strip")
    assert strips.count() == 6
    assert {strips.nth(i).get_attribute("data-samples") for i in range(6)} == {"2"}
    shot(page, "03-explorer")
    run = ex.locator(".nb2-explore-thumb").nth(3).get_attribute("data-run")
    ex.locator(".nb2-explore-thumb").nth(3).click()
    page.wait_for_function(
        "() => { const i = document.querySelector('.nb2-explore-large-img');"
        " return i && i.complete && i.naturalWidth > 0 }"
    )
    assert py("ex.opened['id']") == run
    page.keyboard.press("4")
    py.eventually(f"[c.result.rating for c in g.cells if c.result.id == {run!r}][0]",
                  lambda v: v == 4)  # fmt: skip
    ex.locator('.nb2-explore-rating[data-rating="4"]').wait_for()
    ex.locator('.nb2-explore-star[data-score="2"]').click()
    # read through a new Store object on the same folder: what a restarted kernel would see
    py.eventually(f"nb2.Result(nb2.Store('store').get({run!r}), nb2.Store('store')).rating",
                  lambda v: v == 2)  # fmt: skip
    ex.locator(
        f'.nb2-explore-thumb[data-run="{run}"] .nb2-explore-stars[data-rating="2"]'
    ).wait_for()
    page.wait_for_function(  # the large image stays shown while the grid redraws its stars
        "() => { const i = document.querySelector('.nb2-explore-large-img');"
        " return i && i.complete && i.naturalWidth > 0 }"
    )
    shot(page, "04-explorer-rated")
    page.keyboard.press("Escape")
    ex.locator(".nb2-explore-large").wait_for(state="hidden")
    # another axis as the rows: prompt becomes a selector
    ex.locator("select.nb2-explore-rows").select_option("resolution")
    ex.locator("select.nb2-explore-cols").select_option("")
    ex.locator("select.nb2-explore-prompt").wait_for()
    py.eventually("(ex.rows, ex.cols)", lambda v: v == ["resolution", ""])
    assert ex.locator(".nb2-explore-strip").count() == 2
    ex.locator("select.nb2-explore-prompt").select_option("P3")
    ids = {ex.locator(".nb2-explore-thumb").nth(i).get_attribute("data-run") for i in range(4)}
    assert ids == set(py("[c.result.id for c in g.cells if c.labels['prompt'] == 'P3']"))
    shot(page, "05-explorer-axes")
