"""The panel's judging in real JupyterLab and Chromium (Playwright): stars and keys rate the
selected image (read back from the kernel and from the store), and the compare pane's
"difference" mode shows nb2.diff's map and figures, in the light and the dark theme.

Setup and helpers follow test_browser_panel.py. Screenshots go to test-artifacts/browser/.
Under CI=true a missing browser is a failure, not a skip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from .lab import ARTIFACTS, Kernel, chromium, jupyterlab, open_notebook, set_theme

pytestmark = pytest.mark.browser

CELLS = [
    "import nb2\n"
    "s = nb2.Session(nb2.OfflineBackend(), store='store')\n"
    "one = s.generate('a lighthouse on a cliff at dusk')\n"
    "two = s.edit('add a small red boat in the bay')\n"
    "panel = nb2.Panel(s)\n"
    "panel",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with jupyterlab(tmp_path_factory.mktemp("lab-panel-judging"), "rate.ipynb", CELLS) as lab:
        yield lab


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        nodes = ".nb2-panel .nb2-node"
        open_notebook(pg, lab, lambda p: p.locator(nodes).count() >= 2, "the panel")
        yield pg


def shot(target: Any, name: str) -> None:
    target.screenshot(path=str(ARTIFACTS / f"panel-judging-{name}.png"))


def _stored(run: str) -> str:
    """The rating as a new Store object on the same folder reads it: what a restart sees."""
    return f"nb2.Result(nb2.Store('store').get({run!r}), nb2.Store('store')).rating"


def test_stars_and_keys_rate_the_selected_image(page: Any, py: Kernel) -> None:
    panel = page.locator(".nb2-panel")
    # the panel opens on the session's current turn: the edit, #2
    panel.locator('.nb2-node.nb2-selected[data-number="2"]').wait_for()
    run = py("two.id")
    assert py("panel.selected") == run
    rating = panel.locator(".nb2-viewer .nb2-rating")
    assert rating.get_attribute("data-rating") == "0"
    assert py("two.rating") is None
    # a click on the fourth star: four stars lit, the kernel's Result and the store agree
    panel.locator('.nb2-star[data-score="4"]').click()
    panel.locator('.nb2-rating[data-rating="4"]').wait_for()
    assert py("two.rating") == 4
    assert py(_stored(run)) == 4
    lit = panel.locator('.nb2-star[aria-pressed="true"]')
    assert lit.count() == 4
    # the history row shows it
    row = panel.locator(f'.nb2-node[data-id="{run}"] .nb2-node-rating')
    row.wait_for()
    assert row.get_attribute("data-rating") == "4" and row.inner_text().strip() == "★★★★"
    shot(panel, "01-rated-by-star")
    # the same star again clears it
    panel.locator('.nb2-star[data-score="4"]').click()
    panel.locator('.nb2-rating[data-rating="0"]').wait_for()
    assert py("two.rating") is None and py(_stored(run)) is None
    panel.locator(f'.nb2-node[data-id="{run}"] .nb2-node-rating').wait_for(state="detached")
    # keys while the viewer has focus (the star just clicked is inside it)
    page.keyboard.press("2")
    panel.locator('.nb2-rating[data-rating="2"]').wait_for()
    assert py("two.rating") == 2 and py(_stored(run)) == 2
    page.keyboard.press("0")
    panel.locator('.nb2-rating[data-rating="0"]').wait_for()
    assert py("two.rating") is None
    # a click on the image gives the viewer focus too; the key does not reach the notebook
    panel.locator(".nb2-view-img").click()
    page.keyboard.press("5")
    panel.locator('.nb2-rating[data-rating="5"]').wait_for()
    assert py("two.rating") == 5 and py(_stored(run)) == 5
    assert page.locator(".jp-MarkdownCell").count() == 0  # "5" did not make a heading cell
    assert py("[r.rating for r in s.history]") == [None, 5]
    # another node selected: its own (empty) rating; the rated one keeps its stars in the tree
    panel.locator('.nb2-node[data-number="1"]').click()
    panel.locator('.nb2-node.nb2-selected[data-number="1"]').wait_for()
    panel.locator('.nb2-rating[data-rating="0"]').wait_for()
    page.keyboard.press("3")  # focus stayed on the tree's button, outside the viewer: no rating
    time.sleep(0.5)
    assert py("one.rating") is None
    assert page.locator(".jp-MarkdownCell").count() == 0  # nor did "3" reach the notebook
    assert panel.locator(f'.nb2-node[data-id="{run}"] .nb2-node-rating').inner_text().strip() == (
        "★★★★★"
    )
    shot(panel, "02-rated-by-key")


def _figures(changed: float, ssim: float) -> str:
    p = changed * 100
    share = "0%" if p == 0 else f"{p:.1f}%" if p < 1 else f"{round(p)}%"
    return f"{share} changed, SSIM {ssim:.2f}"


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_compare_in_difference_mode_shows_the_map_and_its_figures(
    page: Any, py: Kernel, theme: str
) -> None:
    set_theme(page, theme)
    tag = "dark" if theme.endswith("Dark") else "light"
    panel = page.locator(".nb2-panel")
    compare = panel.locator(".nb2-compare")
    if compare.is_hidden():
        panel.locator('.nb2-node[data-number="1"]').click()
        panel.locator('.nb2-node.nb2-selected[data-number="1"]').wait_for()
        panel.locator(".nb2-compare-start").click()
        panel.locator('.nb2-node[data-number="2"]').click()
        compare.wait_for()
    assert py("panel.compare") == py("[one.id, two.id]")
    compare.locator('.nb2-cmp-mode[data-mode="diff"]').click()
    assert compare.locator(".nb2-side").is_hidden() and compare.locator(".nb2-wipe").is_hidden()
    page.wait_for_function(
        "() => { const c = document.querySelector('.nb2-compare');"
        " const i = c.querySelector('.nb2-diff-img');"
        " return c.dataset.changed !== undefined && i.src.startsWith('blob:') && i.complete"
        " && i.naturalWidth > 0 }"
    )
    # the figures shown are nb2.diff's, for A = #1 and B = #2
    want = py("(lambda d: [round(d.changed, 4), round(d.ssim, 4)])(nb2.diff(one, two))")
    assert 0 < want[0] <= 1 and want[1] < 1  # the edit changed something
    shown = compare.locator(".nb2-diff-figures").inner_text()
    assert shown == _figures(*want)
    assert [float(compare.get_attribute(f"data-{k}") or "nan") for k in ("changed", "ssim")] == want
    # the map is an image of its own, not one of the two compared
    size = compare.locator(".nb2-diff-img").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    side = "nb2.notebook.panel_judging.MAP_SIDE"
    expr = f"(lambda m: (m.thumbnail(({side}, {side})), list(m.size))[1])(nb2.diff(one, two).image)"
    assert size == py(expr)
    # the figures read on the theme's background
    rgb = compare.locator(".nb2-diff-figures").evaluate("e => getComputedStyle(e).color")
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    lum = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
    assert lum > 0.6 if tag == "dark" else lum < 0.4
    compare.scroll_into_view_if_needed()
    shot(compare, f"03-difference-{tag}")
    shot(panel, f"04-panel-{tag}")
    # back to the wipe and side by side: the other modes still work
    compare.locator('.nb2-cmp-mode[data-mode="wipe"]').click()
    compare.locator(".nb2-wipe-slider").fill("30")
    assert compare.locator(".nb2-wipe-line").get_attribute("style") == "left: 30%;"
    compare.locator('.nb2-cmp-mode[data-mode="side"]').click()
    compare.locator(".nb2-cmp-b").wait_for()
    if tag == "dark":
        set_theme(page, "JupyterLab Light")
