"""The pages' HTML and CSS: tables of text cells, sections, standalone pages, and the fragment
the report's start page includes."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from workflow_scripts.report_pages.cells import MISSING

VERDICTS = ("supported", "contradicted", "inconclusive")

# CSS rules of the tables (selector, declarations): inline in each page, and scoped to the
# fragment on the report's start page, which sits inside Snakemake's own page.
_RULES = (
    ("h2", "font-size: 1.15em; margin-top: 1.4em;"),
    ("p.note", "color: #57606a; max-width: 70em;"),
    (
        "table.report",
        "border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 13px;"
        " font-variant-numeric: tabular-nums;",
    ),
    (
        "table.report th",
        "background: #f0f3f6; text-align: left; padding: 4px 8px;"
        " border-bottom: 2px solid #d0d7de;",
    ),
    ("table.report td", "padding: 3px 8px; border-bottom: 1px solid #e6e9ec; vertical-align: top;"),
    ("table.nowrap td", "white-space: nowrap;"),
    (
        "span.verdict",
        "font-weight: 600; padding: 1px 6px; border-radius: 4px; white-space: nowrap;",
    ),
    ("span.supported", "background: #dafbe1; color: #116329;"),
    ("span.contradicted", "background: #ffebe9; color: #a40e26;"),
    ("span.inconclusive", "background: #fff8c5; color: #7d4e00;"),
    (
        "pre.config",
        "background: #f6f8fa; padding: 0.8em; font-size: 12px; max-width: 70em; overflow-x: auto;",
    ),
)
# Snakemake's start page centres a narrow description column (Tailwind's max-w-lg,
# items-center) whose top is cut off once it is taller than the window: widen it and align it
# to the top where it holds this fragment (CSS :has(); browsers without it keep the layout).
_START_LAYOUT = """
div.items-center:has(.tcp-start) { align-items: flex-start; }
div.max-w-lg:has(.tcp-start) { max-width: 48rem; }
"""
_PAGE_CSS = (
    "body { font-family: system-ui, sans-serif; font-size: 14px; color: #1f2328; margin: 1.2em; }\n"
    "h1 { font-size: 1.4em; }\n" + "\n".join(f"{s} {{ {d} }}" for s, d in _RULES)
)
_START_CSS = "\n".join(f".tcp-start {s} {{ {d} }}" for s, d in _RULES) + _START_LAYOUT


def to_html(table: pd.DataFrame, wrap: bool = True) -> str:
    """A table of text cells as HTML (escaped; each ``*verdict`` column coloured by its value);
    ``wrap=False`` keeps each cell on one line (tables of numbers)."""
    escaped = table.map(lambda cell: html.escape(str(cell)))
    for column in [c for c in escaped if str(c).endswith("verdict")]:
        escaped[column] = [
            f'<span class="verdict {v}">{v}</span>' if v in VERDICTS else v for v in escaped[column]
        ]
    classes = "report" if wrap else "report nowrap"
    return escaped.to_html(index=False, escape=False, border=0, classes=classes, na_rep=MISSING)


def note(text: str) -> str:
    """A paragraph of explanation below a heading (escaped)."""
    return f'<p class="note">{html.escape(text)}</p>'


def section(heading: str, body: str, explanation: str = "") -> str:
    note_html = note(explanation) if explanation else ""
    return f"<h2>{html.escape(heading)}</h2>\n{note_html}\n{body}\n"


def page(title: str, sections: Sequence[str], intro: str = "") -> str:
    """A standalone HTML document (the report frames it), its CSS inline."""
    intro_html = note(intro) if intro else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{intro_html}\n{''.join(sections)}</body>\n</html>\n"
    )


def start_fragment(body: str) -> str:
    """``body`` as the fragment report/workflow.rst includes, its CSS scoped to it (it sits
    inside the report's own page)."""
    return f'<div class="tcp-start">\n<style>{_START_CSS}</style>\n{body}</div>\n'
