"""What a researcher reads: the card's words, the magic's help and errors, the plan's wording,
the same answer said the same way. (How it lays out in JupyterLab: test_browser_look.py.)"""

from __future__ import annotations

import re

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.grids.cells import Plan
from nb2.notebook.magic import Nb2Magics
from nb2.views.html import result_html


@pytest.fixture
def ip(tmp_path):
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.store = str(tmp_path / "runs")
    magics.progress = False
    shell.register_magics(magics)
    yield shell, magics
    shell.user_ns.pop("r", None)


def _text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def test_the_card_is_no_table_and_says_what_came_out(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    r = s.generate("a lighthouse", resolution="2K", aspect_ratio="16:9")
    html = result_html(r)
    # JupyterLab right-aligns, stripes and highlights every <td>: the card has none
    assert "<table" not in html and "<td" not in html
    text = _text(html)
    assert "2752 × 1536 px, 16:9, 2K, PNG" in text
    assert "match_input_image" not in text
    # the thumbnail's box is sized by the image alone, never by the prompt's length
    assert re.search(r"\.nb2-thumb img\{[^}]*max-width:320px", html)
    assert re.search(r"\.nb2-thumb\{flex:0 0 auto\}", html)


def test_an_edit_names_its_parent_by_number_and_its_size_in_words(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    first = s.generate("a lighthouse", aspect_ratio="16:9")
    edit = s.edit("make it night")
    text = _text(result_html(edit))
    assert text.startswith("#2 edit of #1")
    assert "make it night" in text
    assert "1376 × 768 px, 16:9 as the input, 1K, PNG" in text
    assert "match_input_image" not in text
    # the image edited is shown as its turn; its hash (the store's file name) is only a title
    sha = edit.record["params"]["references"][0]["sha256"]
    assert sha[:18] not in text and "#1, edited" in text
    assert first.record["run_id"] not in text


def test_rerunning_an_identical_cell_says_cached_every_time(ip):
    shell, _ = ip
    first = shell.run_cell_magic("nb2", "-o r", "a kite over dunes")
    first = shell.user_ns["r"]
    shell.run_cell_magic("nb2", "-o r", "a kite over dunes")
    again = shell.user_ns["r"]
    assert first.cached is False and again.cached is True
    assert again.number == first.number and again == first  # the same turn, said as a hit
    assert ">cached<" in result_html(again) and ">cached<" not in result_html(first)
    assert len(again.session.history) == 1


def test_a_mistyped_flag_names_the_one_meant(ip):
    shell, _ = ip
    with pytest.raises(UsageError, match=r"--resoluton: did you mean --resolution\?"):
        shell.run_cell_magic("nb2", "--resoluton 2K", "x")
    with pytest.raises(UsageError, match=r"see %%nb2\? for the options"):
        shell.run_cell_magic("nb2", "--zzzzzz", "x")


def test_cell_help_is_the_cell_magics_usage():
    doc = Nb2Magics.nb2.__doc__
    assert doc.startswith("Usage: %%nb2 [-m MODEL]")
    assert "::" not in doc.splitlines()[0] and "PROMPT" in doc


def test_a_validation_error_prints_one_clear_line(ip, capsys):
    shell, magics = ip
    magics.progress = True
    outputs = []
    shell.display_pub.publish = lambda data, **kw: outputs.append(data)  # type: ignore[method-assign]
    try:
        with pytest.raises(nb2.errors.ValidationError, match="8K"):
            shell.run_cell_magic("nb2", "-r 8K", "a kite")
    finally:
        del shell.display_pub.publish
    shown = " ".join(str(d.get("text/plain", "")) for d in outputs)
    assert "not done" not in shown  # the status line is cleared, the error says it all
    assert outputs and outputs[-1] == {"text/plain": ""}


def test_config_and_plan_say_no_cap_and_a_time_in_words(ip, tmp_path):
    _, magics = ip
    assert "budget: none (no cap)" in magics.config_text()
    magics.budget = 2.0
    assert "budget: 2.0" in magics.config_text()
    plan = Plan(8, 0, 8, 0.0, 0.0, 8, offline=True)
    assert "est. time:     seconds (the offline stand-in renders locally)" in repr(plan)
    assert "0 s at 8" not in repr(plan)
    assert "none (every cell is in the store)" in repr(Plan(8, 8, 0, 0.0, 0.0, 8, offline=False))
    assert "~40 s, 3 calls at once" in repr(Plan(3, 0, 3, 0.2, 40.0, 8, offline=False))


def test_the_report_reads_as_of_its_run(tmp_path):
    from nb2.views.html import grid_html

    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt=["a lighthouse at golden hour,", "a lighthouse at blue hour"])
    g.run()
    # the word diff ignores punctuation: "hour," and "hour" are one word
    legend = grid_html(g).split('class="nb2-legend"')[1]
    assert "<mark>hour,</mark>" not in legend and "<mark>golden</mark>" in legend
    (tmp_path / "out").mkdir()
    page = g.to_html(tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    plan = page.split("as the run began</h2><pre>")[1].split("</pre>")[0]
    assert "cached:        0" in plan and "new calls:     2" in plan  # not recomputed after
    cells = page.split("<h2>Cells</h2>")[1]
    assert re.search(r"<td>\d+\.\d s</td>", cells)  # each cell's time, as the grid shows it
    assert str(tmp_path) not in cells and "<td>../runs/images/" in cells  # relative files
    # run again: the cells now come from the store, and the report says so
    again = s.compare(prompt=["a lighthouse at golden hour,", "a lighthouse at blue hour"]).run()
    page = again.to_html(tmp_path / "again.html").read_text(encoding="utf-8")
    assert "cached:        2" in page and "(then; from the store now)" in page


def test_the_contact_sheet_fits_its_images_and_labels_beside_them(tmp_path):
    s = nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs")
    g = s.compare(prompt=["a kite", "a boat"], resolution=["1K", "2K"], aspect_ratio="16:9").run()
    sheet = g.contact_sheet(thumb=256)
    boxes = [box for _, box in sheet.info["nb2_cells"]]
    for left, top, right, bottom in boxes:
        assert right - left == 256 and abs(bottom - top - 256 * 768 / 1376) < 1  # 16:9 slots
        assert sheet.crop((left, top, right, bottom)).convert("L").getextrema()[0] < 250
    # each row's label sits beside its images, centred on them, not above
    grey = sheet.convert("L")
    for left, top, _, bottom in boxes[::2]:  # the first cell of each row
        label = grey.crop((0, top, left, bottom))
        ink = [
            y
            for y in range(label.height)
            if min(label.crop((0, y, left, y + 1)).get_flattened_data()) < 128
        ]
        assert ink, "no row label beside the row"
        middle = (ink[0] + ink[-1]) / 2
        assert abs(middle - label.height / 2) < 12
    # the column headers sit above the first row, clear of it
    header = grey.crop((boxes[0][0], boxes[0][1] - 44, boxes[1][2], boxes[0][1] - 4))
    assert header.getextrema()[0] < 128
    assert grey.crop((boxes[0][0], boxes[0][1] - 3, boxes[1][2], boxes[0][1])).getextrema()[0] > 200


def test_the_cards_searches_say_each_query_once():
    from nb2.views.html import _sources_html

    grounding = {"queries": ["fox", "fox reference photos", "a red fox"],
                 "image_queries": ["fox", "fox reference photos"], "sources": []}  # fmt: skip
    said = re.search(r'searched</div><div class="nb2-v">([^<]*)<', _sources_html(grounding))
    assert said is not None and said.group(1) == "fox; fox reference photos; a red fox"
