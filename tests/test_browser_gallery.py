"""The gallery in real JupyterLab, in Debian's Chromium, driven by Playwright.

Each step asserts what the page shows and the kernel's Python state (read through a second
client, as the panel's browser test does). A second gallery opens on a 10,000-run store made
by writing records, and the time from running its cell to a first page of loaded thumbnails
is recorded (test-artifacts/browser/gallery-figures.json), not asserted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .lab import ARTIFACTS, Kernel, chromium, jupyterlab, open_notebook
from .storefill import fill

pytestmark = pytest.mark.browser
BIG = int(os.environ.get("NB2_GALLERY_RUNS", "10000"))
FIGURES: dict[str, Any] = {}

CELLS = [
    "import nb2\n"
    "s = nb2.Session(nb2.OfflineBackend(), store='store', name='lab')\n"
    "a = s.generate('a lighthouse on a cliff <b>bold</b>')\n"
    "b = s.edit('add a storm')\n"
    "c = s.generate('a red kite over the sea', aspect_ratio='16:9')\n"
    "d = s.generate('a lighthouse in fog', google_search=True)\n"
    "work = nb2.Session(nb2.OfflineBackend(), store='store', name='work')\n"
    "g = nb2.Gallery(session=work, page_size=3)\n"
    "g",
    "big = nb2.Gallery(store='big')\nbig",
]


SHOTS = "gallery-"  # a failed test's screenshot: test-artifacts/browser/gallery-failed-*.png


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("gallery-lab")
    t0 = time.monotonic()
    big = fill(root / "work" / "big", BIG)
    from nb2.store.index import Index

    Index.of(big).refresh()  # the index made before the lab starts: the figure is the page's
    Index.of(big).close()
    FIGURES["big_store_made_s"] = round(time.monotonic() - t0, 1)
    with jupyterlab(root, "gallery.ipynb", CELLS) as lab:
        yield lab


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1400, "height": 1100},
            permissions=["clipboard-read", "clipboard-write"],
        )
        pg = context.new_page()
        open_notebook(pg, lab, lambda p: p.locator(".nb2g").count() >= 2, "the two galleries")
        yield pg
    (ARTIFACTS / "gallery-figures.json").write_text(json.dumps(FIGURES, indent=1))


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def first(page: Any) -> Any:
    return page.locator(".nb2g").nth(0)


def cards(page: Any) -> Any:
    return first(page).locator(".nb2g-card")


def test_the_first_page_shows_thumbnails(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    g = first(page)
    expect(cards(page)).to_have_count(3)
    expect(g.locator(".nb2g-count")).to_have_text("4 runs · page 1 of 2")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nb2g')[0].querySelectorAll('.nb2g-thumb img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert py("[i['id'] for i in g.items] == [d.id, c.id, b.id] and g.total") == 4
    shot(page, "gallery-01-first-page")


def test_search_and_pages(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    g = first(page)
    g.locator(".nb2g-search").fill("lighthouse")
    expect(g.locator(".nb2g-count")).to_have_text("2 runs · page 1 of 1")
    assert py("(g.text, [i['id'] for i in g.items] == [d.id, a.id])") == ["lighthouse", True]
    g.locator(".nb2g-search").fill("")
    expect(g.locator(".nb2g-count")).to_have_text("4 runs · page 1 of 2")
    g.locator(".nb2g-next").click()
    expect(g.locator(".nb2g-count")).to_have_text("4 runs · page 2 of 2")
    assert py("(g.page, [i['id'] for i in g.items] == [a.id])") == [1, True]
    g.locator(".nb2g-prev").click()
    expect(g.locator(".nb2g-count")).to_have_text("4 runs · page 1 of 2")
    g.locator(".nb2g-google_search").select_option("true")
    expect(g.locator(".nb2g-count")).to_have_text("1 run · page 1 of 1")
    state = py("(g.filters, g.items[0]['id'] == d.id)")
    assert state == [{"google_search": True, "sort": "time"}, True]
    g.locator(".nb2g-google_search").select_option("")
    expect(g.locator(".nb2g-count")).to_have_text("4 runs · page 1 of 2")
    shot(page, "gallery-02-searched")


def test_the_detail_view_with_lineage_and_the_cell(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    g = first(page)
    g.locator(f".nb2g-card[data-id='{py('b.id')}'] .nb2g-thumb").click()
    detail = g.locator(".nb2g-detail")
    expect(detail.locator(".nb2g-prompt")).to_have_text("add a storm")
    assert py("g.selected == b.id") is True
    page.wait_for_function(
        "() => { const i = document.querySelector('.nb2g .nb2g-large');"
        " return i && i.complete && i.naturalWidth > 0 }"
    )
    expect(detail.locator(".nb2g-ancestor")).to_have_count(1)
    cell = py("g.detail['cell']")
    assert cell.startswith("%%nb2 ") and detail.locator(".nb2g-cell").inner_text() == cell
    detail.locator(".nb2g-copy").click()
    expect(detail.locator(".nb2g-copy")).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == cell
    # the ancestor opens the run it was made from; its prompt shows as text, not markup
    detail.locator(".nb2g-ancestor").click()
    expect(detail.locator(".nb2g-prompt")).to_have_text("a lighthouse on a cliff <b>bold</b>")
    assert detail.locator(".nb2g-prompt b").count() == 0
    assert py("g.selected == a.id") is True
    shot(page, "gallery-03-detail")


def test_continue_editing_from_here(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    g = first(page)
    g.locator(f".nb2g-card[data-id='{py('b.id')}'] .nb2g-thumb").click()
    expect(g.locator(".nb2g-detail .nb2g-prompt")).to_have_text("add a storm")
    g.locator(".nb2g-continue").click()
    expect(g.locator(".nb2g-notice")).to_contain_text("%%nb2 --edit builds on it")
    assert py("work.current.id == b.id") is True
    assert py("work.edit('warmer light').parent.id == b.id") is True
    shot(page, "gallery-04-continued")


def test_reuse_these_parameters_opens_a_panel(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    g = first(page)
    g.locator(f".nb2g-card[data-id='{py('c.id')}'] .nb2g-thumb").click()
    expect(g.locator(".nb2g-detail .nb2g-prompt")).to_have_text("a red kite over the sea")
    g.locator(".nb2g-reuse").click()
    panel = page.locator(".nb2-panel")
    expect(panel).to_have_count(1)
    expect(panel.locator(".nb2-prompt")).to_have_value("a red kite over the sea")
    state = py("(g.panel.prompt, g.panel.aspect_ratio, g.panel.session is work)")
    assert state == ["a red kite over the sea", "16:9", True]
    shot(page, "gallery-05-reused")


def test_compare_two_runs(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    g = first(page)
    ids = py("[c.id, d.id]")
    for run in ids:
        g.locator(f".nb2g-card[data-id='{run}'] .nb2g-pick input").check()
    pane = g.locator(".nb2g-compare")
    expect(pane.locator("figure img")).to_have_count(2)
    assert py("[x['id'] for x in g.compare]") == ids
    assert pane.locator("tr.nb2g-differs").count() >= 2  # prompt and search differ
    shot(page, "gallery-06-compared")


def test_the_first_page_of_a_big_store(page: Any, py: Kernel) -> None:
    """Re-run the big gallery's cell with no thumbnails kept; record the time to a first page
    of loaded thumbnails (a figure for the benchmark table, not an assertion)."""
    assert py("big.total") == BIG
    # cold: the thumbnails the first showing made are thrown away, so they are made again
    assert py("__import__('shutil').rmtree(big.store.root / 'thumbs') is None") is True
    page.evaluate(
        "() => { const nb = window.jupyterapp.shell.currentWidget.content;"
        " nb.activeCellIndex = 1; }"
    )
    t0 = time.monotonic()
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-cell'); }")
    page.wait_for_function(
        "() => { const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');"
        " const imgs = [...cells[1].querySelectorAll('.nb2g-thumb img')];"
        " return imgs.length === 48 && imgs.every(i => i.complete && i.naturalWidth > 0) }",
        polling=20,
    )
    FIGURES["big_gallery_first_page_s"] = round(time.monotonic() - t0, 3)
    FIGURES["big_gallery_runs"] = BIG
    t0 = time.monotonic()
    big = page.locator(".nb2g").nth(1)
    big.locator(".nb2g-search").fill("lighthouse dusk")
    big.locator(".nb2g-search").press("Enter")
    page.wait_for_function(
        "() => !document.querySelectorAll('.nb2g')[1].querySelector('.nb2g-count')"
        f".textContent.startsWith('{BIG} runs')",
        polling=20,
    )
    FIGURES["big_gallery_search_s"] = round(time.monotonic() - t0, 3)
    assert py("big.text") == "lighthouse dusk" and 0 < py("big.total") < BIG
    shot(page, "gallery-07-big-store")
