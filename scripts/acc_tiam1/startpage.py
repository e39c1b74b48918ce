"""The report's start page: the answer first (key findings, NES heatmap), then warnings.

Snakemake renders the workflow description (the ``report:`` file, reStructuredText) as the
report's start page when it writes the report. The workflow writes that file itself
(rule ``report_start_page``) from the run's results, so the first thing a reader sees is
the key findings in sentences, the NES heatmap of the pain contrast and what to be wary
of; the workflow graph and every result are one click away.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd


def sex_warnings(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Samples whose sex-check call disagrees with the sample sheet.

    Parameters
    ----------
    tables
        ``{branch: sex-check table}`` (``status``, ``sheet_sex``, ``inferred_sex``).

    Returns
    -------
    list of str
        One sentence per branch with a mismatch.
    """
    out = []
    for branch, table in tables.items():
        bad = table[table["status"].astype(str) == "mismatch"]
        if len(bad):
            names = ", ".join(
                f"{s} (sheet: {r['sheet_sex']}, data: {r['inferred_sex']})"
                for s, r in bad.iterrows()
            )
            out.append(
                f"Sex check, {branch}: {names} disagree with the sample sheet (a swapped or "
                "mislabelled sample?)."
            )
    return out


def ambient_warnings(summary: pd.DataFrame) -> list[str]:
    """Cell types whose significant genes the ambient RNA mostly explains.

    Parameters
    ----------
    summary
        ``results/snrna/de/summary.tsv`` with a ``mostly_ambient`` column.

    Returns
    -------
    list of str
        One sentence per cell type and contrast with flagged genes.
    """
    if "mostly_ambient" not in summary.columns:
        return []
    flagged = summary[pd.to_numeric(summary["mostly_ambient"], errors="coerce").fillna(0) > 0]
    return [
        f"Ambient RNA: {int(r.mostly_ambient)} significant gene(s) of {r.cell_type} in "
        f"{r.contrast} are mostly explained by the soup in that cell type (flagged "
        "mostly_ambient in its DE table)."
        for r in flagged.itertuples()
    ]


def annotation_warnings(plan: pd.DataFrame, warnings: pd.DataFrame | None = None) -> list[str]:
    """The annotation step's warnings, then the cell types no contrast could test.

    Parameters
    ----------
    plan
        ``results/snrna/pseudobulk/plan.tsv``.
    warnings
        ``results/snrna/annotation/warnings.tsv``
        (:func:`acc_tiam1.snrna.read_annotation_warnings`), or None.

    Returns
    -------
    list of str
        The sentences; a type the annotation warnings already name as absent or
        unscorable is not listed again as untested.
    """
    from .snrna import warning_sentences

    out, explained = [], set()
    if warnings is not None and len(warnings):
        out = warning_sentences(warnings)
        named = warnings["kind"].isin(["absent", "not_scored"])
        explained = set(warnings.loc[named, "cell_type"].astype(str))
    per_type = plan.groupby("cell_type", sort=False)["status"].apply(
        lambda s: (s.astype(str) == "tested").any()
    )
    untested = [str(t) for t, tested in per_type.items() if not tested and t not in explained]
    if untested:
        out.append(
            f"Not tested in any contrast: {', '.join(untested)} (no nuclei annotated or too "
            "few animals; see the pseudobulk plan)."
        )
    return out


def integration_warnings(info: Mapping) -> list[str]:
    """Genes dropped because the samples were quantified against different genes."""
    dropped = int(info.get("genes_dropped", 0) or 0)
    if not dropped:
        return []
    return [
        f"{dropped:,} genes were dropped because not every sample has them "
        "(snrna.allow_gene_intersection: true): were all samples quantified against one "
        "reference?"
    ]


def read_integration_info(path: str | Path) -> dict:
    """The small JSON record of the integration step."""
    return json.loads(Path(path).read_text())


def _image(path: str | Path, alt: str, width: int = 900) -> str:
    # docutils refuses lines over 10,000 characters; an image URI may continue on
    # indented lines, which it joins.
    uri = "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
    body = "\n".join("   " + uri[i : i + 76] for i in range(0, len(uri), 76))
    return f".. image::\n{body}\n   :width: {width}px\n   :alt: {alt}\n"


def start_page(
    findings: Sequence[str],
    warnings: Sequence[str],
    heatmaps: Mapping[str, str | Path] | None = None,
    title: str = "ACC Tiam1: chronic pain and ketamine",
) -> str:
    """The start page in reStructuredText.

    Parameters
    ----------
    findings
        Key-findings sentences (which sets, which direction, where, reversed or not, by
        which test).
    warnings
        What to be wary of (sex mismatches, ambient-flagged genes, untested cell types).
    heatmaps
        ``{contrast: NES heatmap PNG}`` shown on the page.
    title
        Page title.

    Returns
    -------
    str
        The page; it links to the workflow graph (``Workflow``), which Snakemake defines.
        Snakemake passes the page through Jinja before docutils, so it is wrapped in a raw
        block: braces in a gene-set or sample name stay text.
    """
    lines = ["{% raw %}", title, "=" * len(title), "", "Key findings", "------------", ""]
    lines += [f"- {s}" for s in findings] or ["- No focus gene set was called in any dataset."]
    lines += ["", "Warnings", "--------", ""]
    lines += [f"- {w}" for w in warnings] or [
        "- None: sex, ambient RNA and annotation checks passed."
    ]
    for contrast, path in (heatmaps or {}).items():
        heading = f"Gene-set enrichment: {contrast}"
        lines += ["", heading, "-" * len(heading), "", _image(path, f"NES heatmap, {contrast}")]
    lines += [
        "",
        "Every figure and table, with the settings behind it, is under the categories on the "
        "left; the Methods paragraphs are in category 9; the workflow graph is at `Workflow`_.",
        "{% endraw %}",
        "",
    ]
    return "\n".join(lines)
