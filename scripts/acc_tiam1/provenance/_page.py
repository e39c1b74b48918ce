"""The provenance page: Methods, counts, versions and config in one HTML file."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd
import yaml


def provenance_page(
    title: str,
    methods: Mapping[str, str],
    versions: pd.DataFrame,
    config: Mapping,
    counts: pd.DataFrame,
) -> str:
    """HTML page for the report: Methods paragraphs, step counts, versions, config.

    Parameters
    ----------
    title
        Page heading.
    methods
        ``{heading: paragraph}`` of the Methods text, in order.
    versions
        Output of :func:`package_versions`.
    config
        The config used, shown verbatim as YAML.
    counts
        Table of the number of samples, nuclei or gene sets at each step.
    """
    style = (
        "body{font-family:system-ui,sans-serif;margin:16px;max-width:980px;color:#222}"
        "h1{font-size:18px}h2{font-size:15px;margin-top:20px}h3{font-size:13px}"
        "p.methods{line-height:1.5;background:#f7f7f2;padding:10px;border-left:3px solid #999}"
        "table{border-collapse:collapse;font-size:13px}"
        "td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}"
        "pre{background:#f4f4f4;padding:10px;font-size:12px;overflow:auto}"
    )
    paras = "".join(
        f"<h3>{html.escape(heading)}</h3><p class='methods'>{html.escape(text)}</p>"
        for heading, text in methods.items()
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<h2>Methods (to paste into a paper; check it against your own design)</h2>"
        f"{paras}<h2>Samples, nuclei and gene sets at each step</h2>"
        f"{counts.to_html(index=False, border=0, escape=True)}"
        f"<h2>Software versions</h2>{versions.to_html(index=False, border=0, escape=True)}"
        "<h2>Configuration used (analysis settings; plot options not shown)</h2>"
        f"<pre>{html.escape(yaml.safe_dump(dict(config), sort_keys=False))}</pre>"
        "</body></html>"
    )
