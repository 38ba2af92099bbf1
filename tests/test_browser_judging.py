"""The Duel and the grid explorer in real JupyterLab and Chromium (Playwright).

Keys are pressed in the page; the choices and ratings are then read from the store through a
second client on the notebook's kernel. Screenshots go to test-artifacts/browser/. Under
CI=true a missing browser is a failure, not a skip (see test_browser_panel.py, whose helpers
this module shares).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .lab import ARTIFACTS, Kernel, chromium, jupyterlab, open_notebook, set_theme

pytestmark = pytest.mark.browser

CELLS = [
    "import nb2\n"
    "s = nb2.Session(nb2.OfflineBackend(), store='store')\n"
    "g = s.compare(prompt=['a red fox', 'a blue fox', 'a green fox'], resolution=['1K', '2K'],\n"
    "              repeat=2).run()\n"
    "duel = nb2.Duel(g, by='prompt', rater='browser', seed=7)\n"
    "duel",
    "ex = g.explore()\nex",
    "j = s.compare(prompt=['a fox beside a blue lake', 'two green foxes in warm light',\n"
    "                      'a red fox on a rock'], aspect_ratio=['1:1', '16:9']).run()\n"
    "j.judge(nb2.Judge('offline'))\n"
    "ej = j.explore(rows='prompt', cols='aspect_ratio')\nej",
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with jupyterlab(tmp_path_factory.mktemp("lab-judging"), "judging.ipynb", CELLS) as lab:
        yield lab


def _both(page: Any) -> bool:
    return page.locator(".nb2-duel").count() >= 1 and page.locator(".nb2-explore").count() >= 2


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        open_notebook(pg, lab, _both, "the duel and the explorer")
        yield pg


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
    ex = page.locator(".nb2-explore").first
    page.wait_for_function(
        "() => { const t = [...document.querySelector('.nb2-explore')"
        ".querySelectorAll('.nb2-explore-thumb img')];"
        " return t.length === 12 && t.every(i => i.complete && i.naturalWidth > 0) }"
    )
    # rows x columns: prompt x resolution, each cell a strip of its two samples
    strips = ex.locator(".nb2-explore-strip")
    assert strips.count() == 6
    assert {strips.nth(i).get_attribute("data-samples") for i in range(6)} == {"2"}
    heads = ex.locator("th").all_inner_texts()  # a row names its prompt, not only its code
    assert "prompt=P1 · a red fox" in heads and "resolution=1K" in heads
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
    assert ex.locator("select.nb2-explore-prompt option[value='P3']").inner_text() == (
        "P3 · a green fox"
    )
    ids = {ex.locator(".nb2-explore-thumb").nth(i).get_attribute("data-run") for i in range(4)}
    assert ids == set(py("[c.result.id for c in g.cells if c.labels['prompt'] == 'P3']"))
    shot(page, "05-explorer-axes")


def test_explorer_sorts_and_colours_by_the_judges_score(page: Any, py: Kernel) -> None:
    ex = page.locator(".nb2-explore").nth(1)
    ex.scroll_into_view_if_needed()
    ex.locator(".nb2-explore-thumb img").nth(5).wait_for()
    heads = lambda: [t for t in ex.locator("tr th:first-child").all_inner_texts() if t]  # noqa: E731
    assert [t.split(" · ")[0] for t in heads()] == ["prompt=P1", "prompt=P2", "prompt=P3"]
    # each image's score, coloured by band, with the failed questions on hover
    chips = ex.locator(".nb2-explore-score")
    assert chips.all_inner_texts() == ["0.50", "0.50", "0.60", "0.60", "1.00", "1.00"]
    want = py("[round(c.result.judgment.score, 2) for c in j.cells]")
    assert [float(x) for x in chips.all_inner_texts()] == want
    title = ex.locator(".nb2-explore-thumb").first.get_attribute("title")
    assert "offline: 0.50" in title and "failed: Is the fox beside the blue lake?" in title
    ex.locator("select.nb2-explore-sort").select_option("score")
    py.eventually("ej.sort", lambda v: v == "score")  # the choice is Python's state
    page.wait_for_function(
        "() => document.querySelectorAll('.nb2-explore')[1].querySelector('tr:nth-child(2) th')"
        ".textContent.startsWith('prompt=P3')"
    )
    assert [t.split(" · ")[0] for t in heads()] == ["prompt=P3", "prompt=P2", "prompt=P1"]
    seen = {}
    try:
        for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            set_theme(page, theme)
            ex.screenshot(path=str(ARTIFACTS / f"judging-06-explorer-scores-{name}.png"))
            seen[name] = ex.evaluate(
                "e => { const s = getComputedStyle(document.body);"
                " const high = e.querySelector('.nb2-explore-score[data-band=high]');"
                " const mid = e.querySelector('.nb2-explore-score[data-band=mid]');"
                " const probe = document.createElement('div'); e.append(probe);"
                " probe.style.background = 'var(--jp-success-color1)';"
                " const ok = getComputedStyle(probe).backgroundColor;"
                " probe.style.background = 'var(--jp-warn-color1)';"
                " const warn = getComputedStyle(probe).backgroundColor; probe.remove();"
                " return {high: getComputedStyle(high).backgroundColor,"
                " mid: getComputedStyle(mid).backgroundColor, ok, warn} }"
            )
            assert seen[name]["high"] == seen[name]["ok"], seen  # Lab's own success colour
            assert seen[name]["mid"] == seen[name]["warn"], seen
    finally:
        set_theme(page, "JupyterLab Light")
    # opened large, the image says its verdict
    ex.locator(".nb2-explore-thumb").first.click()
    verdict = ex.locator(".nb2-explore-verdict")
    verdict.wait_for()
    assert "every question passed" in verdict.inner_text()  # P3 sorts first: 1.00
    page.keyboard.press("Escape")
    ex.locator(".nb2-explore-large").wait_for(state="hidden")
