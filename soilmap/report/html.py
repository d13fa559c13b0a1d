"""HTML pieces of the report: escaped text, tables, figures as data URIs, print styles."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable, Sequence

__all__ = ["CSS", "figure", "page", "table"]

#: Screen and print styles; no web font, no script, nothing fetched.
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 60rem; padding: 1rem 1.5rem; color: #1d1d1d; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 1px solid #ccc; } .meta { color: #555; font-size: 0.85rem; }
p.answer { font-size: 1.05rem; background: #f2f7f0; padding: 0.8rem 1rem; border-left: 4px solid
           #3a8d3f; } .num { font-weight: 600; white-space: nowrap; }
figure { margin: 1rem 0; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #444; }
table { border-collapse: collapse; font-size: 0.8rem; margin: 0.5rem 0; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2rem 0.4rem; text-align: left;
         vertical-align: top; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, .hash { font-family: ui-monospace, monospace; font-size: 0.75rem; word-break: break-all; }
@media print { body { max-width: none; padding: 0; } h2 { page-break-after: avoid; }
               table, tr { page-break-inside: avoid; } }
"""


def e(text: object) -> str:
    """Escaped text."""
    return html.escape(str(text), quote=True)


def figure(png: bytes, caption: str, name: str) -> str:
    """A ``<figure>`` with the PNG embedded as a data URI."""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="fig-{e(name)}"><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{e(caption)} (also <code>figures/{e(name)}.png</code>)</figcaption></figure>"
    )


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]], numeric: frozenset[int] = frozenset()
) -> str:
    """A plain HTML table; columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{e(v)}</td>' if i in numeric else f"<td>{e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, body: str) -> str:
    """The whole document."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )
