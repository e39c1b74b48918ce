"""Key findings: one line per dataset and focus set, in a table, sentences and an HTML page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ._classes import CLASSES


def key_findings(
    reversal: Mapping[str, pd.DataFrame],
    focus: Sequence[str],
    fdr: float,
    interaction: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per dataset and focus gene set: direction in pain, reversal by ketamine.

    Parameters
    ----------
    reversal
        ``{dataset label: pathway_reversal table}``, bulk first, then cell types.
    focus
        Gene-set names (terms) to report, in order.
    fdr
        FDR threshold (as used for the reversal tables).
    interaction
        ``{dataset label: GSEA table of the surgery x drug interaction}``, if fitted.

    Returns
    -------
    pandas.DataFrame
        ``dataset, gene_set, source, pain (direction), NES_pain, FDR_pain, ketamine
        (direction), NES_ketamine, FDR_ketamine, reversed_by_ketamine, interaction NES and
        FDR, note``. A focus set missing from a dataset's results gets a row with a note.
    """
    rows = []
    interaction = interaction or {}
    for label, table in reversal.items():
        for name in focus:
            hits = table[table["term"] == name]
            if hits.empty:
                rows.append(
                    {
                        "dataset": label,
                        "gene_set": name,
                        "note": "gene set not in the results of this dataset",
                    }
                )
                continue
            for _, r in hits.iterrows():
                row = {
                    "dataset": label,
                    "gene_set": name,
                    "source": r["source"],
                    "pain": _direction(r["NES_pain"], r["FDR_pain"], r["tested_pain"], fdr),
                    "NES_pain": r["NES_pain"],
                    "FDR_pain": r["FDR_pain"],
                    "ketamine": _direction(
                        r["NES_ketamine"], r["FDR_ketamine"], r["tested_ketamine"], fdr
                    ),
                    "NES_ketamine": r["NES_ketamine"],
                    "FDR_ketamine": r["FDR_ketamine"],
                    "reversed_by_ketamine": _reversed_text(r["status"]),
                    "note": "",
                }
                if not (r["tested_pain"] and r["tested_ketamine"]):
                    row["note"] = (
                        f"not tested: {_int(r['genes_found_pain'])} genes found "
                        "(below enrichment.min_size?)"
                    )
                inter = interaction.get(label)
                if inter is not None:
                    m = inter[(inter["term"] == name) & (inter["source"] == r["source"])]
                    if len(m):
                        row["interaction"] = _direction(
                            m["NES"].iloc[0], m["FDR"].iloc[0], bool(m["tested"].iloc[0]), fdr
                        )
                        row["NES_interaction"] = m["NES"].iloc[0]
                        row["FDR_interaction"] = m["FDR"].iloc[0]
                rows.append(row)
    cols = [
        "dataset",
        "gene_set",
        "source",
        "pain",
        "NES_pain",
        "FDR_pain",
        "ketamine",
        "NES_ketamine",
        "FDR_ketamine",
        "reversed_by_ketamine",
    ]
    if interaction:
        cols += ["interaction", "NES_interaction", "FDR_interaction"]
    return pd.DataFrame(rows).reindex(columns=[*cols, "note"])


def _int(x) -> str:
    return "?" if pd.isna(x) else str(int(x))


def _direction(nes, fdr_value, tested, fdr: float) -> str:
    if not tested or pd.isna(nes):
        return "not tested"
    if pd.notna(fdr_value) and fdr_value < fdr:
        return "up" if nes > 0 else "down"
    return "n.s."


def _reversed_text(status: str) -> str:
    return {
        "reversed": "yes",
        "not_reversed": "no",
        "aggravated": "no (ketamine same direction)",
        "ketamine_only": "n/a (no pain effect)",
        "not_significant": "n/a (no pain effect)",
        "not_tested": "n/a (not tested)",
    }[status]


def findings_summary(findings: pd.DataFrame) -> list[str]:
    """Plain sentences summarising a key-findings table, one per focus gene set."""
    lines = []
    for name, sub in findings.groupby("gene_set", sort=False):
        up = sub.loc[sub["pain"] == "up", "dataset"].tolist()
        down = sub.loc[sub["pain"] == "down", "dataset"].tolist()
        rev = sub.loc[sub["reversed_by_ketamine"] == "yes", "dataset"].tolist()
        notrev = sub.loc[
            sub["reversed_by_ketamine"].astype(str).str.startswith("no"), "dataset"
        ].tolist()
        parts = [f"{name}: up in pain in {_names(up)}"]
        if down:
            parts.append(f"down in pain in {_names(down)}")
        parts.append(f"reversed by ketamine in {_names(rev)}")
        if notrev:
            parts.append(f"not reversed in {_names(notrev)}")
        lines.append("; ".join(parts) + ".")
    return lines


def _names(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


def coverage_notes(coverage: pd.DataFrame, max_listed_source: int = 30) -> list[str]:
    """Notes on gene sets that were not tested in some dataset.

    Parameters
    ----------
    coverage
        Output of :func:`acc_tiam1.enrichment.coverage_table` (plus ``min_size`` known to
        the caller: a set counts as untested where its dataset column is below the set's
        tested threshold, which the table records as ``tested_in`` < number of datasets).
    max_listed_source
        Sources with at most this many sets have their untested sets named one by one;
        larger collections (MSigDB) get a count.
    """
    datasets = [c for c in coverage.columns if c not in ("source", "term", "set_size", "tested_in")]
    notes = []
    for source, sub in coverage.groupby("source", sort=False):
        untested = sub[sub["tested_in"] < len(datasets)]
        if untested.empty:
            continue
        if len(sub) <= max_listed_source:
            for _, r in untested.iterrows():
                found = ", ".join(f"{d}: {int(r[d])}" for d in datasets)
                notes.append(
                    f"{r['term']} ({source}, {int(r['set_size'])} genes) was not "
                    f"tested in every dataset; genes found: {found}."
                )
        else:
            zero = int((sub[datasets].max(axis=1) == 0).sum())
            notes.append(
                f"{len(untested)} of {len(sub)} sets of {source} were not tested in "
                f"at least one dataset (too few or too many genes found); {zero} have "
                "no gene in any dataset. See the gene-set coverage table."
            )
    return notes


def key_findings_html(
    findings: pd.DataFrame,
    summary: Sequence[str],
    counts: pd.DataFrame,
    notes: Sequence[str],
    settings: Mapping[str, str],
) -> str:
    """The key-findings page of the report (self-contained HTML).

    Parameters
    ----------
    findings
        Output of :func:`key_findings`.
    summary
        Sentences (:func:`findings_summary`).
    counts
        Genes per rescue class (rows: datasets).
    notes
        Warnings to show (untested sets and the like).
    settings
        ``{name: value}`` of the settings the findings depend on.
    """
    colours = {"up": "#f4cccc", "down": "#cfe2f3", "yes": "#d9ead3"}

    def cell(value, column=""):
        if pd.isna(value):
            text = ""
        elif isinstance(value, float) and column.startswith("FDR") and value < 0.001:
            text = "< 0.001"
        elif isinstance(value, float):
            text = f"{value:.3g}"
        else:
            text = str(value)
        colour = colours.get(text) or ("#fce5cd" if text.startswith("no") else "")
        style = f' style="background:{colour}"' if colour else ""
        return f"<td{style}>{_escape(text)}</td>"

    def table(df):
        head = "".join(f"<th>{_escape(str(c))}</th>" for c in df.columns)
        body = "".join(
            "<tr>"
            + "".join(cell(v, str(c)) for v, c in zip(row, df.columns, strict=True))
            + "</tr>"
            for row in df.itertuples(index=False)
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Key findings</title>",
        "<style>body{font-family:sans-serif;font-size:13px;margin:1em}"
        "table{border-collapse:collapse;margin:0.5em 0}"
        "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}"
        "th{background:#eee}li{margin:0.2em 0}</style></head><body>",
        "<h2>Key findings</h2><ul>",
        *[f"<li>{_escape(s)}</li>" for s in summary],
        "</ul><h3>Focus gene sets per dataset</h3>",
        table(_drop_empty_notes(findings)),
        "<h3>Genes per rescue class</h3>",
        table(counts),
    ]
    if notes:
        parts += ["<h3>Notes</h3><ul>", *[f"<li>{_escape(n)}</li>" for n in notes], "</ul>"]
    parts += [
        "<h3>Settings</h3><ul>",
        *[f"<li>{_escape(k)}: {_escape(str(v))}</li>" for k, v in settings.items()],
        "</ul></body></html>",
    ]
    return "\n".join(parts)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _drop_empty_notes(df: pd.DataFrame) -> pd.DataFrame:
    if "note" in df and df["note"].fillna("").eq("").all():
        return df.drop(columns="note")
    return df


def class_count_matrix(counts: pd.DataFrame) -> pd.DataFrame:
    """Genes per rescue class and dataset, one row per dataset (for the key-findings page).

    Parameters
    ----------
    counts
        Class-count tables of every branch stacked (:func:`acc_tiam1.rescue.class_counts`
        with a ``dataset`` column).

    Returns
    -------
    pandas.DataFrame
        ``dataset`` and one integer column per class of :data:`CLASSES`.
    """
    if not len(counts):
        return counts
    return (
        counts.pivot_table(
            index="dataset", columns="class", values="all_genes", aggfunc="sum", sort=False
        )
        .reindex(columns=CLASSES)
        .fillna(0)
        .astype(int)
        .reset_index()
    )


def findings_settings(
    pain_contrast: str,
    ketamine_contrast: str,
    fdr: float,
    rescue: Mapping,
    interaction_coefficient: str | None = None,
) -> dict[str, str]:
    """The rules behind the key findings, in words, for the key-findings page.

    Parameters
    ----------
    pain_contrast, ketamine_contrast
        Names of the pain and the ketamine contrast.
    fdr
        GSEA FDR threshold.
    rescue
        The config's ``rescue`` section (``padj``, ``lfc_threshold``,
        ``rescued_fraction``, ``partial_fraction``, ``interaction``).
    interaction_coefficient
        The surgery x drug coefficient, when the interaction is fitted.

    Returns
    -------
    dict
        ``{setting: description}``, in display order.
    """
    r = rescue
    settings = {
        "pain effect": pain_contrast,
        "ketamine effect": ketamine_contrast,
        "gene set enriched": f"GSEA FDR < {fdr:g}",
        "reversed": "enriched in both contrasts with opposite NES signs",
        "gene classes": (
            f"pain gene: padj < {r['padj']:g} and |log2FC| >= {r['lfc_threshold']:g} in "
            f"{pain_contrast}; rescued: ketamine padj < {r['padj']:g} and it removes >= "
            f"{r['rescued_fraction']:g} of the pain log2FC; partially rescued: >= "
            f"{r['partial_fraction']:g}; not rescued: other pain genes; ketamine-only: "
            "significant for ketamine only"
        ),
    }
    if interaction_coefficient:
        settings["interaction"] = (
            f"{r['interaction']['design']}, coefficient {interaction_coefficient} "
            "(negative NES: ketamine lowers the set more in pain than in sham animals)"
        )
    return settings
