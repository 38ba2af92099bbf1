"""The panel on Google's Gemini API (the project's Gemini emulator, in the notebook's kernel),
in real JupyterLab and Debian's Chromium: the panel offers the Gemini models only, a grounded
image shows its sources as links and every title as text, an edit from the panel remembers its
conversation, in the light and the dark theme; the key never reaches the page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .lab import (
    ARTIFACTS,
    Kernel,
    chromium,
    jupyterlab,
    open_notebook,
    set_theme,
)

pytestmark = pytest.mark.browser
KEY = "AIza-browser-key-never-on-the-page"

NOTEBOOK_CELLS = [
    "import nb2\n"
    "from nb2.emulator import GeminiEmulator\n"
    "emu = GeminiEmulator().start()  # the key comes from the environment\n"
    "s = nb2.Session(nb2.GeminiBackend(base_url=emu.base_url), store='store')\n"
    "r = s.generate('a <b>rooftop</b> cafe in Lisbon', resolution='1K', aspect_ratio='16:9',\n"
    "               google_search=True, image_search=True)\n"
    "panel = nb2.Panel(s)\n"
    "panel",
]


SHOTS = "gemini-"  # a failed test's screenshot: test-artifacts/browser/gemini-failed-*.png


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    env = {"GEMINI_API_KEY": KEY}
    with jupyterlab(tmp_path_factory.mktemp("lab"), "gemini.ipynb", NOTEBOOK_CELLS, env) as lab:
        yield lab


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_notebook(pg, lab, lambda p: p.locator(".nb2-view-sources a").count() > 0,
                      "the panel with a grounded image")  # fmt: skip
        yield pg


def test_the_panel_offers_the_gemini_models_only(page: Any, py: Kernel) -> None:
    panel = page.locator(".nb2-panel")
    options = panel.locator(".nb2-image_model option").all_inner_texts()
    assert options == ["gemini-nano-banana-2.1", "gemini-3.1-flash-image", "gemini-3-pro-image",
                       "gemini-2.5-flash-image"]  # fmt: skip
    assert panel.locator(".nb2-resolution option").all_inner_texts() == ["1K", "2K", "4K"]
    assert panel.locator(".nb2-output_format").is_disabled()  # the API answers in its own
    assert py("panel.image_model") == "gemini-nano-banana-2.1"  # the backend's default


def test_a_grounded_image_shows_its_sources_as_links(page: Any, py: Kernel) -> None:
    panel = page.locator(".nb2-panel")
    links = panel.locator(".nb2-view-sources a")
    sources = py("[x['uri'] for x in r.record['grounding']['sources'][:8]]")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == sources
    assert all(href.startswith("https://") for href in sources)
    assert "<b>rooftop</b>" in panel.locator(".nb2-view-prompt").inner_text()  # as text
    assert panel.locator(".nb2-viewer b").count() == 0
    meta = panel.locator(".nb2-view-meta").inner_text()
    assert f"${py('round(r.cost, 4)'):.4f}" in meta  # the exact cost, not "est."
    for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
        set_theme(page, theme)
        panel.screenshot(path=str(ARTIFACTS / f"gemini-sources-{name}.png"))
        link, text = (panel.locator(sel).first.evaluate("e => getComputedStyle(e).color")
                      for sel in (".nb2-view-sources a", ".nb2-view-meta"))  # fmt: skip
        assert link != text  # a link looks like one, in JupyterLab's own link colour
    set_theme(page, "JupyterLab Light")


def test_an_edit_from_the_panel_remembers(page: Any, py: Kernel) -> None:
    panel = page.locator(".nb2-panel")
    panel.locator(".nb2-mode-edit").click()
    panel.locator(".nb2-prompt").fill("make it dusk")
    panel.locator(".nb2-run").click()
    panel.locator('.nb2-node[data-number="2"]').wait_for(timeout=60_000)
    roles = py("[c['role'] for c in emu.bodies[-1]['contents']]")
    assert roles == ["user", "model", "user"]
    assert py("len(s.history[2].params.history)") == 1


def test_the_key_never_reaches_the_page(page: Any, py: Kernel) -> None:
    assert py(f"{KEY!r} in emu.keys_seen") is True
    for text in (page.content(), py("repr(panel.get_state())")):
        assert KEY not in text and "thoughtSignature" not in text
