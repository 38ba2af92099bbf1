"""The CSS of nb2's notebook outputs (cards, histories, grids, plans, status lines).

JupyterLab styles every output through ``.jp-RenderedHTMLCommon``: tables take its zebra rows,
its hover colour, ``table-layout: fixed`` and ``:not(.jp-RenderedMarkdown) td {text-align:
right}``. So the card is no table at all (a flex box and a two-column CSS grid), and the
contact grid's table rules are written with a doubled class to outrank Lab's. Colours are
``--jp-*`` variables with light fallbacks, so the same HTML reads in Lab's light and dark
themes, in nbconvert's HTML and on GitHub.
"""

from __future__ import annotations

_FG = "var(--jp-ui-font-color1,#1f1f1f)"
_FG2 = "var(--jp-ui-font-color2,#5f6368)"
_BG2 = "var(--jp-layout-color2,#eeeeee)"
_LINE = "var(--jp-border-color2,#e0e0e0)"

CSS = (
    "<style>"
    f".nb2{{font-family:var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif);"
    f"font-size:var(--jp-ui-font-size1,13px);line-height:1.45;color:{_FG};text-align:left;"
    "max-width:100%;overflow-x:auto}"
    ".nb2 img{border-radius:4px;display:block}"
    f".nb2 .meta,.nb2 .nb2-k{{color:{_FG2}}}"
    # the result card: thumbnail | heading, prompt, label-value pairs
    ".nb2 .nb2-card{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}"
    ".nb2 .nb2-thumb{flex:0 0 auto}"
    ".nb2 .nb2-thumb img{width:auto;height:auto;max-width:320px;max-height:320px}"
    ".nb2 .nb2-body{flex:1 1 300px;min-width:0;max-width:720px}"
    ".nb2 .nb2-title{font-weight:600;margin:0 0 4px}"
    ".nb2 .nb2-text{margin:0 0 10px;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".nb2 .nb2-kv{display:grid;grid-template-columns:max-content minmax(0,1fr);"
    "column-gap:14px;row-gap:3px;margin:0}"
    ".nb2 .nb2-v{overflow-wrap:anywhere;min-width:0}"
    f".nb2 .nb2-v code{{font-family:var(--jp-code-font-family,monospace);font-size:11px;"
    f"background:none;padding:0;color:{_FG2}}}"
    ".nb2 .nb2-card-refs{display:flex;flex-wrap:wrap;gap:10px;margin-top:10px}"
    ".nb2 .nb2-card-ref{width:72px;font-size:11px;overflow-wrap:anywhere}"
    ".nb2 .nb2-card-ref img{width:56px;height:56px;object-fit:cover}"
    # badges
    f".nb2 .badge{{display:inline-block;padding:0 6px;border-radius:3px;font-size:11px;"
    f"font-weight:500;line-height:18px;margin-right:4px;background:{_BG2};color:{_FG}}}"
    ".nb2 .badge.off{background:#ffd600;color:#000}"
    ".nb2 .badge.bad{background:var(--jp-error-color1,#c62828);color:#fff}"
    ".nb2 .badge.ok{background:var(--jp-success-color1,#2e7d32);color:#fff}"
    # a judge's score: Lab's success, warning and error colours, as the explorer's cells
    ".nb2 .nb2-score[data-band=high]{background:var(--jp-success-color1,#2e7d32);color:#fff}"
    ".nb2 .nb2-score[data-band=mid]{background:var(--jp-warn-color1,#ef6c00);color:#fff}"
    ".nb2 .nb2-score[data-band=low]{background:var(--jp-error-color1,#c62828);color:#fff}"
    # the grid: a real table, with Lab's zebra, hover, fixed layout and right-alignment undone
    ".nb2.nb2 table.nb2-grid{border-collapse:collapse;table-layout:auto;margin:0 0 12px;"
    f"color:{_FG}}}"
    ".nb2.nb2 .nb2-grid td,.nb2.nb2 .nb2-grid th,.nb2.nb2 .nb2-grid tr{text-align:left;"
    "vertical-align:top;padding:4px 6px;background:transparent}"
    ".nb2.nb2 .nb2-grid tr:nth-child(odd),.nb2.nb2 .nb2-grid tr:nth-child(even),"
    ".nb2.nb2 .nb2-grid tr:hover{background:transparent}"
    f".nb2.nb2 .nb2-grid th{{font-weight:600;color:{_FG2};white-space:nowrap}}"
    ".nb2.nb2 .nb2-grid th.nb2-rowhead{vertical-align:middle;text-align:right}"
    f".nb2.nb2 .nb2-grid caption{{text-align:left;font-weight:600;padding:4px 0;color:{_FG}}}"
    ".nb2 .nb2-cellmeta{font-size:11px;margin-top:2px}"
    ".nb2 .nb2-legend{margin:4px 0 0;padding-left:18px}"
    # a highlight that reads on light and dark backgrounds alike
    ".nb2 mark{background:rgba(255,193,7,.35);color:inherit;padding:0 1px;border-radius:2px}"
    f".nb2 pre{{margin:0;font-family:var(--jp-code-font-family,monospace);color:{_FG}}}"
    # the history tree
    ".nb2 .nb2-turn{display:flex;gap:10px;margin-bottom:8px;align-items:flex-start}"
    ".nb2 .nb2-turn img{width:auto;height:auto;max-width:96px;max-height:96px}"
    ".nb2 .nb2-current img{outline:2px solid var(--jp-brand-color1,#1976d2);outline-offset:1px}"
    f".nb2 .nb2-turn-body{{min-width:0;overflow-wrap:anywhere;border-color:{_LINE}}}"
    "</style>"
)
