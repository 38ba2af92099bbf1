"""A background grid's live progress in real JupyterLab, in Debian's Chromium, driven by
Playwright: ``h = g.run(background=True)`` ends its cell at once and the widget under it moves
on by itself (nothing is run again) to "12 of 12 done" with the grid's images, while other
cells run; ``h`` in the same cell shows no second widget, in a later cell another live one;
``%%nb2 --background`` does the same; a Stop click cancels at the server (the project's
Replicate emulator, in the notebook's kernel, so predictions take real time); a prompt's
markup shows as text; the widget takes JupyterLab's colours in the light and the dark theme.
Python's state after each browser event is read back (a cell's output, a second client)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .lab import (
    ARTIFACTS,
    KERNEL_IDLE,
    Kernel,
    chromium,
    jupyterlab,
    open_notebook,
    set_theme,
)

pytestmark = pytest.mark.browser
CELLS = 12  # 6 prompts x 2 resolutions, 3 at a time, 1.5 s each: about 6 s in all
LONG = 120_000  # ms: a 2-core machine runs Lab, Chromium, the kernel and two emulators

SETUP = (
    "import nb2\n"
    "from nb2.emulator import Emulator\n"
    "emu = Emulator(latency=1.5).start()\n"
    "TOKEN = 'r8_' + '0' * 37\n"
    "def backend(emu):\n"
    "    return nb2.ReplicateBackend(api_token=TOKEN, base_url=emu.base_url, wait=2,\n"
    "                                poll_interval=0.05)\n"
    "s = nb2.Session(backend=backend(emu), store='runs')\n"
    "g = s.compare(prompt=[f'a lighthouse <b>bold</b>, take {i}' for i in range(1, 7)],\n"
    "              resolution=['1K', '2K'])\n"
    "print('ready', len(g.cells))"
)


SHOTS = "background-"  # a failed test's screenshot: test-artifacts/browser/background-failed-*.png


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with jupyterlab(tmp_path_factory.mktemp("lab"), "background.ipynb", [SETUP]) as lab:
        yield lab


@pytest.fixture(scope="module")
def page(lab: dict[str, Any]) -> Iterator[Any]:
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        ready = f"ready {CELLS}"
        open_notebook(pg, lab, lambda p: ready in output(p, 0), "the setup cell's output")
        yield pg


# -- the notebook, as a user drives it ----------------------------------------------------------
def add_cell(page: Any, source: str) -> int:
    """Append a code cell with ``source`` at the notebook's end and run it, as Shift-Enter
    does (not awaited: the page is read while it runs); its index."""
    return int(
        page.evaluate(
            """async (src) => {
              const nb = window.jupyterapp.shell.currentWidget.content;
              const n = nb.model.sharedModel.cells.length;
              nb.model.sharedModel.insertCell(n, {cell_type: 'code', source: src});
              while (nb.widgets.length <= n) await new Promise(r => setTimeout(r, 20));
              nb.activeCellIndex = n;
              nb.deselectAll();
              window.jupyterapp.commands.execute('notebook:run-cell');
              return n;
            }""",
            source,
        )
    )


def cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def output(page: Any, index: int) -> str:
    return str(
        page.evaluate(
            "(i) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
            "?.querySelector('.jp-OutputArea')?.innerText ?? ''",
            index,
        )
    )


def wait_output(page: Any, index: int, text: str) -> str:
    page.wait_for_function(
        "([i, t]) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        "?.querySelector('.jp-OutputArea')?.innerText.includes(t)",
        arg=[index, text],
        timeout=LONG,
    )
    return output(page, index)


def progress(page: Any, index: int) -> Any:
    return cell(page, index).locator(".nb2-progress")


# The cell has run (its prompt shows a number, the kernel is idle) and its widget is drawn:
# where the widget is at that moment.
FINISHED_CELL = (
    "(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];"
    " const prompt = c?.querySelector('.jp-InputPrompt')?.textContent ?? '';"
    " const w = c?.querySelector('.nb2-progress');"
    f" const idle = ({KERNEL_IDLE})();"
    " if (!/\\[\\d+\\]/.test(prompt) || !idle || !w || !w.dataset.state) return false;"
    " return {prompt, state: w.dataset.state,"
    " text: w.querySelector('.nb2-progress-text').textContent} }"
)


def finished_cell(page: Any, index: int) -> dict[str, str]:
    return page.wait_for_function(FINISHED_CELL, arg=index, timeout=LONG).json_value()


def watch(page: Any, index: int) -> None:
    """Keep every text the cell's progress line shows from now on (window.__seen[index])."""
    page.evaluate(
        """(i) => {
          const line = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]
            .querySelector('.nb2-progress-text');
          window.__seen = window.__seen || {};
          const seen = window.__seen[i] = [line.textContent];
          line.closest('.nb2-progress').__watched = true;  // the same node at the end: not redrawn
          new MutationObserver(() => {
            if (seen[seen.length - 1] !== line.textContent) seen.push(line.textContent);
          }).observe(line, {childList: true, characterData: true, subtree: true});
        }""",
        index,
    )


def wait_state(page: Any, index: int, state: str) -> None:
    page.wait_for_function(
        "([i, s]) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        "?.querySelector('.nb2-progress')?.dataset.state === s",
        arg=[index, state],
        timeout=LONG,
    )


def done_counts(texts: list[str]) -> list[int]:
    return [int(m.group(1)) for t in texts if (m := re.search(r"(\d+) of \d+ done", t))]


def bar_settled(page: Any, index: int) -> None:
    """The bar's parts drawn at the widths they were given (their CSS transition has run)."""
    page.wait_for_function(
        "(i) => { const w = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        ".querySelector('.nb2-progress');"
        " const bar = w.querySelector('.nb2-progress-bar').getBoundingClientRect().width;"
        " return bar > 0 && ['done', 'failed'].every(k => {"
        " const part = w.querySelector(`.nb2-progress-${k}`);"
        " const want = bar * parseFloat(part.style.width || '0') / 100;"
        " return Math.abs(part.getBoundingClientRect().width - want) < 1 }) }",
        arg=index,
    )


def shot(page: Any, locator: Any, name: str) -> str:
    """A screenshot of ``locator``, the viewport made tall enough for all of it."""
    size = page.viewport_size
    height = int(locator.bounding_box()["height"]) + 200
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    try:
        locator.scroll_into_view_if_needed()
        path = ARTIFACTS / f"background-{name}.png"
        locator.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    return str(path)


# -- the tests ----------------------------------------------------------------------------------
GRID_CELL: dict[str, int] = {}  # the index of the notebook cell that started the grid


def test_the_cell_ends_at_once_and_the_progress_moves_by_itself(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    t0 = time.monotonic()
    i = GRID_CELL["i"] = add_cell(page, "h = g.run(max_concurrency=3, background=True)\nh")
    first = finished_cell(page, i)
    returned = time.monotonic() - t0
    assert first["state"] == "running", first  # the cell is done, the grid is not
    assert f"{CELLS} of {CELLS} done" not in first["text"]
    assert py("(h.done, h.state)") == [False, "running"]  # a second client: the kernel is free
    watch(page, i)
    shot(page, cell(page, i), "01-running")
    # `h` as the same cell's last line shows no second widget
    expect(cell(page, i).locator(".nb2-progress")).to_have_count(1)

    # the kernel runs another cell while the grid runs: its output comes before the grid ends
    j = add_cell(page, "print(1 + 1)")
    state_then = page.wait_for_function(
        "([i, j]) => { const cs = document.querySelectorAll('.jp-Notebook .jp-Cell');"
        " if ((cs[j]?.querySelector('.jp-OutputArea')?.innerText ?? '').trim() !== '2')"
        " return false; return cs[i].querySelector('.nb2-progress').dataset.state }",
        arg=[i, j],
        timeout=LONG,
    ).json_value()
    assert state_then == "running"

    # `h` in a later cell: another live view of the same grid
    k = add_cell(page, "h")
    assert finished_cell(page, k)["state"] == "running"
    expect(progress(page, k)).to_have_count(1)

    # no cell is run again: the widget moves on by itself to the end
    wait_state(page, i, "done")
    wait_state(page, k, "done")
    total = time.monotonic() - t0
    seen = page.evaluate("(i) => window.__seen[i]", i)
    counts = done_counts(seen)
    assert counts == sorted(counts) and len(set(counts)) >= 2, seen  # it moved
    assert len(seen) >= 4, seen  # and its clock with it, between cells
    assert counts[0] < CELLS and counts[-1] == CELLS, seen
    assert any(0 < n < CELLS for n in counts), seen  # seen part done, not only start and end
    view = progress(page, i)
    text = view.locator(".nb2-progress-text").inner_text()
    assert text.startswith(f"grid done: {CELLS} of {CELLS} done, 0 running, 0 failed, $")
    assert "left" not in text
    assert progress(page, k).locator(".nb2-progress-text").inner_text() == text
    assert cell(page, i).locator(".jp-InputPrompt").inner_text() == first["prompt"]  # not re-run
    assert view.evaluate("w => w.__watched === true")  # the node watched from the start
    assert returned < total  # the cell was back before the grid was done
    # the bar: all done, none failed; drawn at full width once its transition has run
    assert view.locator(".nb2-progress-done").evaluate("e => e.style.width") == "100%"
    assert view.locator(".nb2-progress-failed").evaluate("e => e.style.width") == "0%"
    bar_settled(page, i)
    assert view.locator(".nb2-progress-bar").get_attribute("aria-valuenow") == str(CELLS)
    expect(view.locator(".nb2-progress-stop")).to_be_hidden()
    # the grid's table, every cell's image loaded
    expect(view.locator(".nb2-progress-cells table.nb2-grid img")).to_have_count(CELLS)
    page.wait_for_function(
        "(i) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        ".querySelectorAll('.nb2-progress-cells img')]"
        ".every(img => img.complete && img.naturalWidth > 0)",
        arg=i,
    )
    shot(page, cell(page, i), "02-done")


def test_python_holds_the_finished_grid(page: Any, py: Kernel) -> None:
    j = add_cell(page, "print(g.counts(), h.state, h.progress().done)")
    out = wait_output(page, j, "succeeded")
    assert out.strip() == f"{{'succeeded': {CELLS}}} done {CELLS}"
    assert py("[len(emu.created), emu.in_flight_max <= 3, g.running is h, h.error is None]") == [
        CELLS,
        True,
        True,
        True,
    ]
    assert py("all(c.result.path.exists() for c in g.cells)") is True
    assert py("round(h.progress().spent, 6) == round(g.spent, 6) > 0") is True


def test_a_prompts_markup_shows_as_text(page: Any, py: Kernel) -> None:
    cells = progress(page, GRID_CELL["i"]).locator(".nb2-progress-cells")
    # the only <b> are the legend's own labels; the prompt's <b>bold</b> is not an element
    assert cells.locator("b").all_inner_texts() == [f"P{n}" for n in range(1, 7)]
    legend = cells.locator(".nb2-legend li").all_inner_texts()
    assert len(legend) == 6 and all("a lighthouse <b>bold</b>, take" in t for t in legend)
    titles = cells.locator("img").evaluate_all("imgs => imgs.map(i => i.title)")
    assert len(titles) == CELLS and all("<b>bold</b>" in t for t in titles)
    assert "<b>bold" not in cells.inner_html()  # escaped in the markup itself
    assert py("g.cells[0].params.prompt") == "a lighthouse <b>bold</b>, take 1"


COLOURS = """(w) => {
  const probe = document.createElement('span');
  w.appendChild(probe);
  const resolved = (v) => {
    probe.style.color = `var(${v})`;
    return getComputedStyle(probe).color;
  };
  const out = {
    brand: resolved('--jp-brand-color1'),
    font1: resolved('--jp-ui-font-color1'),
    done: getComputedStyle(w.querySelector('.nb2-progress-done')).backgroundColor,
    bar: getComputedStyle(w.querySelector('.nb2-progress-bar')).backgroundColor,
    track: resolved('--jp-layout-color3'),
    text: getComputedStyle(w.querySelector('.nb2-progress-text')).color,
    height: w.querySelector('.nb2-progress-bar').getBoundingClientRect().height,
  };
  probe.remove();
  return out;
}"""


def test_it_takes_jupyterlabs_colours_in_light_and_dark(page: Any) -> None:
    view = progress(page, GRID_CELL["i"])
    seen = {}
    try:
        for theme, name in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            set_theme(page, theme)
            shot(page, view, f"03-{name}")
            colours = seen[name] = view.evaluate(COLOURS)
            assert colours["done"] == colours["brand"], colours  # the bar, in the brand colour
            assert colours["bar"] == colours["track"], colours
            assert colours["text"] == colours["font1"], colours  # a finished line: font-color1
            assert colours["height"] == 8  # the widget's own CSS is there
    finally:
        set_theme(page, "JupyterLab Light")
    assert seen["light"]["text"] != seen["dark"]["text"]  # the line follows the theme
    assert seen["light"]["track"] != seen["dark"]["track"]


def test_the_cell_magic_runs_in_the_background(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    j = add_cell(
        page,
        "import os\n"
        "emu3 = Emulator(latency=4).start()\n"
        "os.environ['REPLICATE_API_TOKEN'], os.environ['REPLICATE_BASE_URL'] = TOKEN, "
        "emu3.base_url\n"
        "%load_ext nb2\n"
        "%config Nb2Magics.store = 'runs'\n"
        "print('magic ready')",
    )
    wait_output(page, j, "magic ready")
    i = add_cell(page, "%%nb2 --vary resolution=1K,2K --background -o h3\na harbour at dawn")
    first = finished_cell(page, i)
    assert first["state"] == "running" and "0 of 2 done" in first["text"], first
    assert py("(h3.done, h3.state)") == [False, "running"]
    wait_state(page, i, "done")
    view = progress(page, i)
    assert view.locator(".nb2-progress-text").inner_text().startswith("grid done: 2 of 2 done")
    expect(view.locator(".nb2-progress-cells img")).to_have_count(2)
    assert cell(page, i).locator(".jp-InputPrompt").inner_text() == first["prompt"]
    assert py("(h3.state, h3.grid.counts(), len(emu3.created))") == ["done", {"succeeded": 2}, 2]


def test_stop_cancels_the_grid_at_the_server(page: Any, py: Kernel) -> None:
    from playwright.sync_api import expect

    i = add_cell(
        page,
        "emu2 = Emulator(latency=30).start()\n"
        "s2 = nb2.Session(backend=backend(emu2), store='runs2')\n"
        "g2 = s2.compare(prompt=[f'a slow harbour, take {n}' for n in range(1, 5)])\n"
        "h2 = g2.run(max_concurrency=2, background=True)",
    )
    assert finished_cell(page, i)["state"] == "running"
    py.eventually("len(emu2.created)", lambda n: n == 2)  # two in flight at the server
    view = progress(page, i)
    expect(view.locator(".nb2-progress-text")).to_contain_text("2 running", timeout=LONG)
    # the table says which cells are running, as the line does
    expect(view.locator(".nb2-progress-cells .badge", has_text="running")).to_have_count(2)
    shot(page, cell(page, i), "04-before-stop")
    view.locator(".nb2-progress-stop").click()
    wait_state(page, i, "canceled")
    expect(view.locator(".nb2-progress-stop")).to_be_hidden()
    assert view.locator(".nb2-progress-text").inner_text().startswith("grid canceled: 0 of 4")
    assert view.locator(".nb2-progress-error").is_hidden()
    # a Stop is not a failure: the bar's canceled part is grey, the line counts them apart
    assert "0 failed, 4 canceled" in view.locator(".nb2-progress-text").inner_text()
    widths = view.evaluate(
        "v => ['failed', 'canceled'].map(k => v.querySelector(`.nb2-progress-${k}`).style.width)"
    )
    assert widths == ["0%", "100%"], widths
    bar_settled(page, i)
    shot(page, cell(page, i), "05-stopped")
    j = add_cell(page, "print(h2.state, g2.counts())")
    out = wait_output(page, j, "canceled").strip()
    state, counts = out.split(" ", 1)
    assert state == "canceled" and "succeeded" not in counts, out
    # every prediction the grid created was canceled at the server, none left running
    created = py.eventually(
        "(sorted(emu2.created), sorted(emu2.canceled))", lambda v: v[0] == v[1], timeout=60
    )[0]
    assert len(created) == 2
    assert py("(h2.done, h2.state, sum(c.result is not None for c in g2.cells))") == [
        True,
        "canceled",
        0,
    ]
