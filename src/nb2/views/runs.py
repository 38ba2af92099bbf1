"""Tables of stored runs (``nb2.find``) and a store's summary (``%nb2 store``), from plain data.

Every user string (prompts, sessions, ids) goes through ``html.escape``.
"""

from __future__ import annotations

from html import escape
from typing import Any

_CSS = (
    "<style>.nb2-runs{font:13px/1.4 var(--jp-ui-font-family,system-ui,sans-serif);"
    "color:var(--jp-ui-font-color1,#222)}.nb2-runs table{border-collapse:collapse}"
    ".nb2-runs td,.nb2-runs th{padding:3px 6px;vertical-align:middle;text-align:left;"
    "border-bottom:1px solid var(--jp-border-color2,#e0e0e0)}.nb2-runs img{border-radius:3px;"
    "display:block}.nb2-runs .meta{color:var(--jp-ui-font-color2,#555)}"
    ".nb2-runs .off{background:#ffd600;color:#000;padding:0 4px;border-radius:3px;"
    "font-size:11px}.nb2-runs code{font-size:11px}</style>"
)


def runs_table_html(rows: list[dict[str, Any]], total: int | None = None) -> str:
    """One row per run: thumbnail, prompt, parameters, when, cost, run id."""
    total = len(rows) if total is None else total
    if not rows:
        return f'{_CSS}<div class="nb2-runs"><p class="meta">no runs match</p></div>'
    body = []
    for r in rows:
        img = f'<img src="{escape(r["thumb"])}" width="64" alt="">' if r.get("thumb") else ""
        params = " · ".join(
            escape(str(v))
            for v in (r["model"], r["resolution"], r["aspect_ratio"], r["format"], r["size"])
            if v
        )
        flags = (" · search" if r.get("search") else "") + (
            ' <span class="off">OFFLINE</span>' if r.get("offline") else ""
        )
        body.append(
            f"<tr><td>{img}</td><td>{escape(r['prompt'][:160])}"
            f'<div class="meta">{params}{flags}</div></td>'
            f'<td class="meta">{escape(r["when"])}<br>{escape(str(r["session"]))}</td>'
            f'<td class="meta">${r["cost"]:.3f}</td><td><code>{escape(r["id"])}</code></td></tr>'
        )
    more = (
        f'<p class="meta">showing {len(rows)} of {total}; the list holds them all</p>'
        if total > len(rows)
        else ""
    )
    head = "<tr><th></th><th>prompt</th><th>when · session</th><th>cost</th><th>run</th></tr>"
    return (
        f'{_CSS}<div class="nb2-runs"><p class="meta">{total} run(s), newest first</p>'
        f"<table>{head}{''.join(body)}</table>{more}</div>"
    )


def stats_text(d: dict[str, Any]) -> str:
    lines = [
        f"store: {d['root']}",
        f"runs: {d['runs']} ("
        + ", ".join(f"{n} {s}" for s, n in sorted(d["by_status"].items()))
        + ")",
        f"on disk: {_size(sum(d['bytes'].values()))} ("
        + ", ".join(f"{k} {_size(v)}" for k, v in sorted(d["bytes"].items()))
        + ")",
        f"spend (estimated): ${d['spend']:.2f}",
    ]
    lines += [f"  {m or '?'}: {n} image(s), ${c or 0:.2f}" for m, n, c in d["by_model"]]
    lines.append("by month:")
    lines += [f"  {m or '?'}: {n} image(s), ${c or 0:.2f}" for m, n, c in d["by_month"]]
    return "\n".join(lines)


def stats_html(d: dict[str, Any]) -> str:
    def table(title: str, rows: list[tuple[Any, int, float]]) -> str:
        cells = "".join(
            f"<tr><td>{escape(str(k or '?'))}</td><td>{n}</td><td>${c or 0:.2f}</td></tr>"
            for k, n, c in rows
        )
        return f"<table><tr><th>{title}</th><th>images</th><th>spend</th></tr>{cells}</table>"

    status = ", ".join(f"{n} {escape(str(s))}" for s, n in sorted(d["by_status"].items()))
    disk = ", ".join(f"{escape(k)} {_size(v)}" for k, v in sorted(d["bytes"].items()))
    return (
        f'{_CSS}<div class="nb2-runs"><p><b>{d["runs"]} runs</b> ({status}) in '
        f'<code>{escape(d["root"])}</code></p><p class="meta">on disk: '
        f"{_size(sum(d['bytes'].values()))} ({disk}); estimated spend ${d['spend']:.2f}</p>"
        f"{table('model', d['by_model'])}{table('month', d['by_month'])}</div>"
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
