"""Ketamine rescue: which pain effects ketamine reverses, gene by gene and pathway by pathway.

Two contrasts are compared: the *pain effect* (e.g. pain vs sham) and the *ketamine
effect* in pain animals (e.g. pain + ketamine vs pain). A pain-induced change is
rescued when the ketamine effect points the other way and undoes enough of it.

Gene rule (:func:`classify_genes`), with ``r = -LFC_ketamine / LFC_pain``, the fraction of
the pain effect that ketamine removes (1 = back to sham level, 0 = no change, < 0 =
pushed further):

- **pain gene**: ``padj_pain < padj`` and ``|LFC_pain| >= lfc_threshold``;
- ``rescued``: pain gene, ``padj_ketamine < padj`` and ``r >= rescued_fraction``;
- ``partially_rescued``: pain gene, ``padj_ketamine < padj`` and
  ``partial_fraction <= r < rescued_fraction``;
- ``not_rescued``: every other pain gene (ketamine effect not significant, too small,
  or in the same direction as pain);
- ``ketamine_only``: not a pain gene, ``padj_ketamine < padj`` and
  ``|LFC_ketamine| >= lfc_threshold``;
- ``unchanged``: the rest (including genes without an adjusted p-value in a contrast).

Fold changes are the unshrunk maximum-likelihood estimates (``log2FoldChange``), which
exist for every contrast; shrunk ones exist only where a contrast is one coefficient.

Pathway rule (:func:`pathway_reversal`): a set is ``reversed`` when it is enriched
(FDR < ``fdr``) in the pain contrast and enriched in the opposite direction in the
ketamine contrast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import InputError

#: Gene classes, in reporting order.
CLASSES = ["rescued", "partially_rescued", "not_rescued", "ketamine_only", "unchanged"]
#: Pathway statuses, in reporting order.
STATUSES = ["reversed", "not_reversed", "aggravated", "ketamine_only", "not_significant",
            "not_tested"]


def classify_genes(
    pain: pd.DataFrame,
    ketamine: pd.DataFrame,
    padj: float = 0.05,
    lfc_threshold: float = 0.0,
    rescued_fraction: float = 0.75,
    partial_fraction: float = 0.25,
) -> pd.DataFrame:
    """Classify every gene by how ketamine changes its pain effect (rule in module doc).

    Parameters
    ----------
    pain, ketamine
        DE tables of the pain and the ketamine contrast (columns ``gene_id``, ``gene``,
        ``baseMean``, ``log2FoldChange``, ``padj``).
    padj
        Adjusted p-value threshold in both contrasts.
    lfc_threshold
        Smallest absolute log2 fold change of a pain (or ketamine-only) gene.
    rescued_fraction
        Smallest reversal fraction ``r`` of a rescued gene.
    partial_fraction
        Smallest ``r`` of a partially rescued gene.

    Returns
    -------
    pandas.DataFrame
        ``gene_id, gene, baseMean, pain_log2FC, pain_padj, ketamine_log2FC,
        ketamine_padj, reversal_fraction, class``, pain genes first (by class, then by
        pain p-value).
    """
    if not 0 <= partial_fraction < rescued_fraction:
        raise InputError(
            f"rescue.partial_fraction ({partial_fraction}) must be at least 0 and below "
            f"rescue.rescued_fraction ({rescued_fraction}).",
            "rescue",
        )
    cols = ["gene_id", "gene", "baseMean", "log2FoldChange", "padj"]
    for name, t in (("pain", pain), ("ketamine", ketamine)):
        missing = set(cols) - set(t.columns)
        if missing:
            raise InputError(f"{name} DE table lacks column(s) {', '.join(sorted(missing))}.")
    p = pain[cols].rename(columns={"log2FoldChange": "pain_log2FC", "padj": "pain_padj"})
    k = ketamine[["gene_id", "log2FoldChange", "padj"]].rename(
        columns={"log2FoldChange": "ketamine_log2FC", "padj": "ketamine_padj"})
    t = p.merge(k, on="gene_id", how="outer")
    t["gene"] = t["gene"].fillna(t["gene_id"])
    with np.errstate(divide="ignore", invalid="ignore"):
        t["reversal_fraction"] = -t["ketamine_log2FC"] / t["pain_log2FC"]
    pain_gene = (t["pain_padj"] < padj) & (t["pain_log2FC"].abs() >= lfc_threshold)
    ket_sig = t["ketamine_padj"] < padj
    r = t["reversal_fraction"]
    cls = np.full(len(t), "unchanged", dtype=object)
    cls[(pain_gene).to_numpy()] = "not_rescued"
    cls[(pain_gene & ket_sig & (r >= partial_fraction)).to_numpy()] = "partially_rescued"
    cls[(pain_gene & ket_sig & (r >= rescued_fraction)).to_numpy()] = "rescued"
    ket_only = ~pain_gene & ket_sig & (t["ketamine_log2FC"].abs() >= lfc_threshold)
    cls[ket_only.to_numpy()] = "ketamine_only"
    t["class"] = pd.Categorical(cls, categories=CLASSES)
    t = t.sort_values(["class", "pain_padj", "ketamine_padj", "gene_id"],
                      na_position="last", kind="mergesort")
    t["class"] = t["class"].astype(str)
    return t.reset_index(drop=True)[
        ["gene_id", "gene", "baseMean", "pain_log2FC", "pain_padj", "ketamine_log2FC",
         "ketamine_padj", "reversal_fraction", "class"]
    ]


def class_counts(
    classified: pd.DataFrame, genesets: Mapping[str, Sequence[str]] = ()
) -> pd.DataFrame:
    """Number of genes per class, overall and within named gene sets.

    Parameters
    ----------
    classified
        Output of :func:`classify_genes`.
    genesets
        ``{label: genes}``; one extra column per set.
    """
    out = pd.DataFrame({"class": CLASSES})
    counts = classified["class"].value_counts()
    out["all_genes"] = [int(counts.get(c, 0)) for c in CLASSES]
    for label, genes in dict(genesets).items():
        sub = classified[classified["gene"].isin(set(genes))]["class"].value_counts()
        out[label] = [int(sub.get(c, 0)) for c in CLASSES]
    return out


def pathway_reversal(pain: pd.DataFrame, ketamine: pd.DataFrame, fdr: float = 0.05) -> pd.DataFrame:
    """NES of every gene set in the pain and the ketamine contrast, and its status.

    Status: ``reversed`` (FDR < ``fdr`` in both, opposite NES signs), ``not_reversed``
    (enriched in pain, ketamine not significant), ``aggravated`` (both significant, same
    direction), ``ketamine_only`` (significant only for ketamine), ``not_significant``,
    ``not_tested`` (too few genes in either table).

    Parameters
    ----------
    pain, ketamine
        GSEA tables (:data:`acc_tiam1.enrichment.GSEA_COLUMNS`) of the two contrasts.
    fdr
        FDR threshold.
    """
    keep = ["source", "term", "NES", "FDR", "genes_found", "tested"]
    t = pain[keep].merge(ketamine[keep], on=["source", "term"], how="outer",
                         suffixes=("_pain", "_ketamine"))
    for side in ("pain", "ketamine"):
        t[f"tested_{side}"] = t[f"tested_{side}"].fillna(False).astype(bool)
    sig_p = t["tested_pain"] & (t["FDR_pain"] < fdr)
    sig_k = t["tested_ketamine"] & (t["FDR_ketamine"] < fdr)
    opposite = np.sign(t["NES_pain"]) == -np.sign(t["NES_ketamine"])
    status = np.full(len(t), "not_significant", dtype=object)
    status[(sig_k & ~sig_p).to_numpy()] = "ketamine_only"
    status[(sig_p & ~sig_k).to_numpy()] = "not_reversed"
    status[(sig_p & sig_k & ~opposite).to_numpy()] = "aggravated"
    status[(sig_p & sig_k & opposite).to_numpy()] = "reversed"
    status[(~t["tested_pain"] | ~t["tested_ketamine"]).to_numpy()] = "not_tested"
    t["status"] = status
    t["reversed"] = t["status"] == "reversed"
    t["direction_pain"] = np.where(sig_p, np.where(t["NES_pain"] > 0, "up", "down"), "ns")
    t["_order"] = pd.Categorical(t["status"], categories=STATUSES)
    t = t.sort_values(["_order", "FDR_pain", "source", "term"], kind="mergesort",
                      na_position="last")
    return t.drop(columns="_order").reset_index(drop=True)[
        ["source", "term", "NES_pain", "FDR_pain", "direction_pain", "NES_ketamine",
         "FDR_ketamine", "status", "reversed", "genes_found_pain", "genes_found_ketamine",
         "tested_pain", "tested_ketamine"]
    ]


def key_findings(
    reversal: Mapping[str, pd.DataFrame],
    focus: Sequence[str],
    fdr: float,
    interaction: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per dataset and focus gene set: direction in pain, reversed by ketamine?

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
                rows.append({"dataset": label, "gene_set": name,
                             "note": "gene set not in the results of this dataset"})
                continue
            for _, r in hits.iterrows():
                row = {
                    "dataset": label,
                    "gene_set": name,
                    "source": r["source"],
                    "pain": _direction(r["NES_pain"], r["FDR_pain"], r["tested_pain"], fdr),
                    "NES_pain": r["NES_pain"],
                    "FDR_pain": r["FDR_pain"],
                    "ketamine": _direction(r["NES_ketamine"], r["FDR_ketamine"],
                                           r["tested_ketamine"], fdr),
                    "NES_ketamine": r["NES_ketamine"],
                    "FDR_ketamine": r["FDR_ketamine"],
                    "reversed_by_ketamine": _reversed_text(r["status"]),
                    "note": "",
                }
                if not (r["tested_pain"] and r["tested_ketamine"]):
                    row["note"] = (f"not tested: {_int(r['genes_found_pain'])} genes found "
                                   "(below enrichment.min_size?)")
                inter = interaction.get(label)
                if inter is not None:
                    m = inter[(inter["term"] == name) & (inter["source"] == r["source"])]
                    if len(m):
                        row["interaction"] = _direction(m["NES"].iloc[0], m["FDR"].iloc[0],
                                                        bool(m["tested"].iloc[0]), fdr)
                        row["NES_interaction"] = m["NES"].iloc[0]
                        row["FDR_interaction"] = m["FDR"].iloc[0]
                rows.append(row)
    cols = ["dataset", "gene_set", "source", "pain", "NES_pain", "FDR_pain", "ketamine",
            "NES_ketamine", "FDR_ketamine", "reversed_by_ketamine"]
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
        notrev = sub.loc[sub["reversed_by_ketamine"].astype(str).str.startswith("no"),
                         "dataset"].tolist()
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


def interaction_references(
    sheet: pd.DataFrame, reference: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """Target and reference level of each variable of an interaction design.

    Parameters
    ----------
    sheet
        Sample sheet.
    reference
        ``{variable: reference level}`` from ``rescue.interaction.reference``.

    Returns
    -------
    ``{variable: (target, reference)}``; the target is the first other level.
    """
    out = {}
    for var, ref in reference.items():
        if var not in sheet.columns:
            raise InputError(f"rescue.interaction.reference names '{var}', which is not a "
                             f"column of the sample sheet ({', '.join(sheet.columns)}).",
                             "rescue.interaction.reference")
        levels = sorted(sheet[var].astype(str).unique())
        if ref not in levels:
            raise InputError(f"rescue.interaction.reference: '{ref}' is not a level of "
                             f"'{var}' (levels: {', '.join(levels)}).",
                             "rescue.interaction.reference")
        others = [lvl for lvl in levels if lvl != ref]
        if not others:
            raise InputError(f"'{var}' has a single level; it cannot be part of an interaction.",
                             "rescue.interaction.reference")
        out[var] = (others[0], ref)
    return out


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
    datasets = [c for c in coverage.columns
                if c not in ("source", "term", "set_size", "tested_in")]
    notes = []
    for source, sub in coverage.groupby("source", sort=False):
        untested = sub[sub["tested_in"] < len(datasets)]
        if untested.empty:
            continue
        if len(sub) <= max_listed_source:
            for _, r in untested.iterrows():
                found = ", ".join(f"{d}: {int(r[d])}" for d in datasets)
                notes.append(f"{r['term']} ({source}, {int(r['set_size'])} genes) was not "
                             f"tested in every dataset; genes found: {found}.")
        else:
            zero = int((sub[datasets].max(axis=1) == 0).sum())
            notes.append(f"{len(untested)} of {len(sub)} sets of {source} were not tested in "
                         f"at least one dataset (too few or too many genes found); {zero} have "
                         "no gene in any dataset. See the gene-set coverage table.")
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
        body = "".join("<tr>" + "".join(cell(v, str(c)) for v, c in zip(row, df.columns,
                                                                     strict=True)) + "</tr>"
                       for row in df.itertuples(index=False))
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
    parts += ["<h3>Settings</h3><ul>",
              *[f"<li>{_escape(k)}: {_escape(str(v))}</li>" for k, v in settings.items()],
              "</ul></body></html>"]
    return "\n".join(parts)


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _drop_empty_notes(df: pd.DataFrame) -> pd.DataFrame:
    if "note" in df and df["note"].fillna("").eq("").all():
        return df.drop(columns="note")
    return df
