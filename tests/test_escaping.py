"""Prompts and file names carrying HTML or script are shown as text in every HTML output."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from PIL import Image

import nb2
from nb2.backends.offline import OfflineBackend
from nb2.views.html import grid_html, history_html, plan_html, result_html, status_html

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "\"'><svg onload=alert(1)>",
    "</td></table><iframe src=javascript:alert(1)>",
]
NAME = "<img src=x onerror=alert(2)>.png"  # a reference file name (no slash allowed)
URL_ATTRS = {"src", "href", "action", "formaction", "srcset", "data", "xlink:href"}
BAD_TAGS = {"script", "svg", "iframe", "object", "embed", "math", "link", "base", "form"}


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert(html: str, shown: list[str]) -> None:
    """No injected element or attribute; the payloads are there as plain text."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    for tag, attrs in scan.tags:
        assert tag not in BAD_TAGS, (tag, attrs)
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/"), attrs
        for name in URL_ATTRS & set(attrs):  # text attributes (title, alt) may hold anything
            assert not (attrs[name] or "").lower().startswith("javascript:"), (tag, attrs)
    text = "".join(scan.text)
    assert scan.tags and text.strip(), "an empty page proves nothing"
    for payload in shown:
        assert payload in text, payload


def _session(tmp_path: Path) -> tuple[nb2.Session, Path]:
    ref = tmp_path / NAME
    Image.new("RGB", (40, 30), (10, 200, 10)).save(ref, "PNG")
    return nb2.Session(backend=OfflineBackend(), store=tmp_path / "runs"), ref


def test_result_card_and_history(tmp_path: Path) -> None:
    s, ref = _session(tmp_path)
    results = []
    for i, payload in enumerate(PAYLOADS):
        role = PAYLOADS[(i + 1) % len(PAYLOADS)]  # free-text roles are shown too
        results.append(s.generate(payload, references=[nb2.Reference(ref, role=role)]))
    edited = s.edit(PAYLOADS[0] + " darker")
    for r in [*results, edited]:
        bundle: dict[str, Any] = r._repr_mimebundle_()
        assert bundle["text/html"] == result_html(r)
        assert_inert(bundle["text/html"], [r.params.prompt])
    assert_inert(result_html(results[0]), [NAME[:18]])  # the card shows the name, cut at 18
    assert_inert(history_html(s.history), PAYLOADS)
    assert_inert(s.history._repr_html_(), PAYLOADS)


def test_grid_plan_and_status(tmp_path: Path) -> None:
    s, ref = _session(tmp_path)
    g = s.compare(prompt=PAYLOADS, aspect_ratio=["1:1", "3:2"], references=[ref])
    assert_inert(plan_html(g.plan()), ["8"])  # the cells it would make
    assert_inert(g.plan()._repr_html_(), ["8"])
    g.run()
    g.cells[0].error = PAYLOADS[1]  # an error text that echoes the request
    g.cells[0].status, g.cells[0].result = "failed", None
    html = grid_html(g)
    assert_inert(html, PAYLOADS[1:])
    assert_inert(g._repr_html_(), PAYLOADS[1:])
    for payload in PAYLOADS:
        assert_inert(status_html(f"nb2: {payload}"), [payload])


def test_grid_report_file(tmp_path: Path) -> None:
    s, ref = _session(tmp_path)
    g = s.compare(prompt=PAYLOADS[:2], references={PAYLOADS[2]: [ref], "none": []})
    g.run()
    out = tmp_path / "report.html"
    g.to_html(out)
    assert_inert(out.read_text(), PAYLOADS[:3])


def test_magic_outputs(tmp_path: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from nb2.notebook.magic import Nb2Magics

    s, ref = _session(tmp_path)
    shell = InteractiveShell.instance()
    magics = Nb2Magics(shell=shell)
    magics.session = lambda name=None, backend=None: s  # type: ignore[method-assign]
    shell.register_magics(magics)
    fmt = shell.display_formatter
    shell.run_cell_magic("nb2", f"--ref '{ref}:style'", PAYLOADS[0])  # shown via a handle
    assert s.current is not None and s.current.params.prompt == PAYLOADS[0]
    assert_inert(fmt.format(s.current)[0]["text/html"], [PAYLOADS[0]])
    plan = shell.run_cell_magic("nb2", "--plan --vary aspect=1:1,3:2", "\n---\n".join(PAYLOADS))
    assert_inert(fmt.format(plan)[0]["text/html"], [])
    hist = shell.run_line_magic("nb2", "history")
    assert_inert(fmt.format(hist)[0]["text/html"], [PAYLOADS[0]])
