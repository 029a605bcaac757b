"""One self-contained ``report.html`` per run: a summary table, then a section per map.

Images are inlined as data URIs, so the page opens from anywhere without the folder or a
network. A small script marks on ``<body data-images="loaded/total">`` how many images
the browser decoded, so a headless browser's DOM dump tells whether every picture loaded.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Mapping, Sequence

from ebsdphase.core.text import percent as _percent
from ebsdphase.core.atomic import write_text_atomic

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}section{margin:2em 0;border-top:1px solid #ddd}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}img{max-width:100%;image-rendering:pixelated;border:1px solid #eee;margin:.3em 0}.warn{color:#a60}"""
_SCRIPT = """window.addEventListener('load',function(){var i=Array.prototype.slice.call(document.images);
document.body.setAttribute('data-images',i.filter(function(x){return x.complete&&x.naturalWidth>0}).length+'/'+i.length);});"""


def percent(v: float | None, digits: int = 2) -> str:
    """A fraction as a percentage for the report's tables; empty where there is none."""
    return _percent(v, digits, missing="")


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(path: str | os.PathLike, title: str, header: Sequence[str], rows: Sequence[Sequence[object]],
                 sections: Mapping[str, Sequence[Path]], notes: Sequence[str] = (),
                 figures: Sequence[Path] = (), texts: Mapping[str, str] | None = None) -> Path:
    """Write ``report.html``: ``title``, the summary table (``header``, ``rows``), ``notes``
    (warnings, failures), run-level ``figures``, one section per map with its images, then
    one section per entry of ``texts`` shown as preformatted text (e.g. a model card)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{_STYLE}</style><script>{_SCRIPT}</script></head><body>",
             f"<h1>{html.escape(title)}</h1>", _table(header, rows)]
    parts += [f"<p class='warn'>{html.escape(n)}</p>" for n in notes]
    parts += [_img(f, f.name) for f in figures if Path(f).exists()]
    for name, images in sections.items():
        parts.append(f"<section id='{html.escape(name)}'><h2>{html.escape(name)}</h2>")
        parts += [_img(f, f"{name}: {Path(f).name}") for f in images if Path(f).exists()]
        parts.append("</section>")
    for name, text in (texts or {}).items():
        parts.append(f"<section id='{html.escape(name)}'><h2>{html.escape(name)}</h2>"
                     f"<pre>{html.escape(text)}</pre></section>")
    parts.append("</body></html>")
    p = Path(path)
    write_text_atomic(p, "\n".join(parts))
    return p
