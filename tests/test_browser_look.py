"""How nb2's outputs look in real JupyterLab (Debian's Chromium via Playwright), in the light
and the dark theme, and in nbconvert's HTML: a card, an edit's card, a grid, a contact sheet
and the panel that ``%%nb2 --panel`` shows.

The assertions are on what a person would notice: values left-aligned next to their labels,
nothing wider than the output area, no zebra or hover colour on the card, a thumbnail whose
width does not follow the prompt's length, text that reads on the theme's background, the
panel on screen. Screenshots go to test-artifacts/browser/look-*.png.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .lab import ARTIFACTS, Kernel, chromium, jupyterlab, open_notebook, set_theme

pytestmark = pytest.mark.browser

LONG = (
    "A weathered lighthouse on a basalt headland at blue hour, long exposure, the beam cutting "
    "through sea fog, wet rocks in the foreground catching the last light, a fishing boat far "
    "out, film grain, muted teal and amber palette, 35 mm, wide"
)
CELLS = [
    "%load_ext nb2\n%config Nb2Magics.store = 'store'\n%config Nb2Magics.progress = False",
    "%%nb2 -a 16:9 -o short\na lighthouse",
    f"%%nb2 -a 16:9 -o long\n{LONG}",
    "%%nb2 --edit -o night\nmake it night, café lights on",
    "%%nb2 --vary resolution=1K,2K -o g\na lighthouse at golden hour, fog\n---\n"
    "a lighthouse at blue hour",
    "g.contact_sheet()",
    "%%nb2 --panel -o lp\na poster of the lighthouse",
]
CARDS = ".jp-OutputArea-output .nb2-card"
PANEL = ".jp-OutputArea-output .nb2-panel"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with jupyterlab(tmp_path_factory.mktemp("look"), "look.ipynb", CELLS) as lab:
        yield lab


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def page(lab: dict[str, Any], browser: Any) -> Iterator[Any]:
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    open_notebook(pg, lab, lambda p: p.locator(PANEL).count() >= 1, "the panel of %%nb2 --panel")
    pg.wait_for_function(
        "() => [...document.querySelectorAll('.jp-OutputArea-output .nb2 img, "
        ".jp-RenderedImage img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    pg.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    yield pg
    pg.close()


def _card_geometry(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        """(sel) => [...document.querySelectorAll(sel)].map(card => {
            const r = e => e.getBoundingClientRect();
            const cs = e => getComputedStyle(e);
            const keys = [...card.querySelectorAll('.nb2-k')];
            const vals = [...card.querySelectorAll('.nb2-v')];
            return {
              thumb: r(card.querySelector('.nb2-thumb img')).width,
              title: r(card.querySelector('.nb2-title')).left,
              text: r(card.querySelector('.nb2-text')).left,
              keyLeft: keys.map(k => r(k).left), keyRight: keys.map(k => r(k).right),
              valLeft: vals.map(v => r(v).left),
              align: [...card.querySelectorAll('*')].map(e => cs(e).textAlign),
              backgrounds: vals.concat(keys).map(e => cs(e).backgroundColor),
              tables: card.querySelectorAll('table, tr, td').length,
              color: cs(vals[0]).color,
            };
        })""",
        CARDS,
    )


def _overflow(page: Any) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
            .filter(o => o.scrollWidth > o.clientWidth + 1)
            .map(o => o.textContent.slice(0, 60))"""
    )


def _luminance(css: str) -> float:
    nums = [float(x) for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3]]
    return (0.2126 * nums[0] + 0.7152 * nums[1] + 0.0722 * nums[2]) / 255


def _shoot(page: Any, theme: str) -> None:
    outputs = page.locator(".jp-Cell-outputArea")
    names = ["card", "card-long", "edit", "grid", "sheet", "panel"]
    for i, name in enumerate(names):
        outputs.nth(i + 1).screenshot(path=str(ARTIFACTS / f"look-{theme}-{name}.png"))
    page.screenshot(path=str(ARTIFACTS / f"look-{theme}-notebook.png"), full_page=True)


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_cards_read_as_cards(page: Any, theme: str) -> None:
    set_theme(page, theme)
    tag = "light" if theme.endswith("Light") else "dark"
    _shoot(page, tag)
    cards = _card_geometry(page)
    assert len(cards) == 3  # short, long, the edit
    for card in cards:
        assert card["tables"] == 0
        assert set(card["align"]) <= {"left", "start"}, card["align"]
        # the heading and the prompt start where the values do (one column, left-aligned)
        assert abs(card["title"] - card["text"]) < 1
        assert max(card["valLeft"]) - min(card["valLeft"]) < 1  # one column of values
        assert max(card["keyLeft"]) - min(card["keyLeft"]) < 1
        gap = min(card["valLeft"]) - max(card["keyRight"])
        assert 0 <= gap < 40, f"values sit {gap}px from their labels"
        assert set(card["backgrounds"]) == {"rgba(0, 0, 0, 0)"}  # no zebra rows
    # the thumbnail's width is the image's, whatever the prompt's length
    assert cards[0]["thumb"] == cards[1]["thumb"] == pytest.approx(320, abs=0.5)
    # text reads on the theme: light text on dark, dark text on light
    lum = _luminance(cards[0]["color"])
    assert lum > 0.6 if tag == "dark" else lum < 0.4
    assert _overflow(page) == []


def test_hovering_a_card_or_grid_changes_no_colour(page: Any) -> None:
    set_theme(page, "JupyterLab Light")
    value = page.locator(CARDS).first.locator(".nb2-v").first
    before = value.evaluate("e => getComputedStyle(e.parentElement).backgroundColor")
    value.hover()
    assert value.evaluate("e => getComputedStyle(e.parentElement).backgroundColor") == before
    row = page.locator(".nb2-grid tbody tr").first
    row.hover()
    assert row.evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"
    heads = page.locator(".nb2-grid th, .nb2-grid td")
    aligns = {heads.nth(i).evaluate("e => getComputedStyle(e).textAlign") for i in range(2)}
    assert aligns <= {"left", "right"}  # the row labels sit right, against their images
    assert page.locator(".nb2-grid td").first.evaluate("e => getComputedStyle(e).textAlign") == (
        "left"
    )


def test_the_panel_shows_after_the_panel_flag(page: Any) -> None:
    panel = page.locator(".jp-OutputArea-output .nb2-panel")
    assert panel.count() == 1
    box = panel.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 300
    assert panel.locator(".nb2-prompt").input_value() == "a poster of the lighthouse"


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_the_panel_is_compact_and_native(page: Any, theme: str) -> None:
    set_theme(page, theme)
    panel = page.locator(PANEL)
    # the aspect chips on one row, the toggles each on one line
    tops = {round(b["y"]) for b in _boxes(panel.locator(".nb2-ratio"))}
    assert len(tops) == 1, tops
    for toggle in _boxes(panel.locator(".nb2-toggle")):
        assert toggle["height"] < 30
    # selects and checkboxes drawn as Lab draws them, not the browser's defaults
    styles = panel.locator("select").first.evaluate(
        "e => [getComputedStyle(e).appearance, getComputedStyle(e).borderRadius]"
    )
    assert styles == ["none", "4px"]
    wrap = panel.locator(".nb2-composed").evaluate(
        "e => [getComputedStyle(e).wordBreak, getComputedStyle(e).overflowWrap]"
    )
    assert wrap == ["normal", "break-word"]  # "prompt as sent" wraps between words
    # the image is the large thing: wider than the whole column of controls
    image = panel.locator(".nb2-view-img").bounding_box()
    controls = panel.locator(".nb2-left").bounding_box()
    assert image is not None and controls is not None and image["width"] > controls["width"]
    # text on the selected node reads on the theme's background
    label = panel.locator(".nb2-selected .nb2-node-label")
    lum = _luminance(label.evaluate("e => getComputedStyle(e).color"))
    assert lum > 0.6 if theme.endswith("Dark") else lum < 0.4
    panel.screenshot(
        path=str(ARTIFACTS / f"look-{'dark' if 'Dark' in theme else 'light'}-panel-only.png")
    )


def _boxes(locator: Any) -> list[dict[str, float]]:
    return [locator.nth(i).bounding_box() for i in range(locator.count())]


def test_a_later_success_clears_the_error(page: Any, py: Kernel) -> None:
    set_theme(page, "JupyterLab Light")
    panel = page.locator(PANEL)
    panel.locator(".nb2-mode-generate").click()
    panel.locator(".nb2-prompt").fill("   ")
    panel.locator(".nb2-run").click()
    panel.locator(".nb2-error").first.wait_for()
    shot = str(ARTIFACTS / "look-light-panel-error.png")
    panel.screenshot(path=shot)
    before = py("len(lp.session.history)")
    panel.locator(".nb2-prompt").fill("a poster of the lighthouse, night")
    panel.locator(".nb2-run").click()
    py.eventually("len(lp.session.history)", lambda n: n == before + 1)
    page.wait_for_function(
        f"() => document.querySelector('{PANEL} .nb2-status').dataset.state === 'done'"
    )
    assert panel.locator(".nb2-error").count() == 0


def test_the_tree_reads_at_thirty_nodes_and_the_wipe_names_a_and_b(page: Any, py: Kernel) -> None:
    set_theme(page, "JupyterLab Light")
    panel = page.locator(PANEL)
    py(
        "(lambda s: [s.edit(w, parent=s.history[max(1, i // 3)]) for i, w in enumerate("
        "['warmer', 'cooler', 'add fog', 'darker', 'brighter', 'more contrast', 'sepia', "
        "'add a vignette', 'black and white', 'mirror it', 'sharper', 'muted colours', "
        "'soft bokeh', 'less contrast', 'vivid colours', 'add mist', 'night', 'golden', "
        "'flip horizontally', 'hazy', 'crisp', 'pastel', 'monochrome', 'vintage', "
        "'add smoke', 'dim the lights', 'punchier'])]"
        " and len(s.history))(lp.session)"
    )
    count = py("len(lp.session.history)")
    assert count >= 30
    page.wait_for_function(
        f"() => document.querySelectorAll('{PANEL} .nb2-node').length === {count}"
    )
    tree = panel.locator(".nb2-tree").bounding_box()
    assert tree is not None and tree["height"] <= 425  # it scrolls, the panel does not grow
    prompts = panel.locator(".nb2-node-prompt")
    texts = [prompts.nth(i).inner_text() for i in range(prompts.count())]
    assert "add fog" in texts and all(texts)  # each node shows its instruction
    widths = [b["width"] for b in _boxes(prompts) if b]
    assert min(widths) > 60  # even deep in the tree there is room to read it
    panel.screenshot(path=str(ARTIFACTS / "look-light-panel-30-nodes.png"))
    # compare two nodes: the wipe names A and B and draws a divider at the slider
    panel.locator('.nb2-node[data-number="2"]').click()
    panel.locator('.nb2-node.nb2-selected[data-number="2"]').wait_for()
    panel.locator(".nb2-compare-start").click()
    panel.locator('.nb2-node[data-number="3"]').click()
    panel.locator('.nb2-cmp-mode[data-mode="wipe"]').click()  # side by side is the default
    panel.locator(".nb2-wipe-tag-b").wait_for()
    panel.locator(".nb2-wipe-slider").fill("30")
    assert panel.locator(".nb2-wipe-tag-a").inner_text() == "A · #2"
    assert panel.locator(".nb2-wipe-tag-b").inner_text() == "B · #3"
    assert panel.locator(".nb2-wipe-line").get_attribute("style") == "left: 30%;"
    panel.locator(".nb2-wipe").scroll_into_view_if_needed()
    panel.screenshot(path=str(ARTIFACTS / "look-light-panel-compare.png"))
    panel.locator(".nb2-compare-close").click()


def test_nbconvert_html_looks_the_same(lab: dict[str, Any], browser: Any) -> None:
    work = lab["work"]
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "look.ipynb"],
        cwd=work, env=lab["env"], check=True, capture_output=True,
    )  # fmt: skip
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    pg.goto((work / "look.html").as_uri())
    pg.locator(CARDS).first.wait_for()
    cards = _card_geometry(pg)
    assert len(cards) == 4  # the three, and the panel's static stand-in (no widget manager)
    for card in cards:
        assert set(card["align"]) <= {"left", "start"}
        assert max(card["valLeft"]) - min(card["valLeft"]) < 1
        assert 0 <= min(card["valLeft"]) - max(card["keyRight"]) < 40
    assert cards[0]["thumb"] == cards[1]["thumb"] == pytest.approx(320, abs=0.5)
    pg.screenshot(path=str(ARTIFACTS / "look-nbconvert.png"), full_page=True)
    pg.close()
