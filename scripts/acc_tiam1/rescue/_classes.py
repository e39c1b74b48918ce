"""Ketamine rescue of pain effects: gene classes, gene-set reversal, interaction references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

#: Gene classes, in reporting order.
CLASSES = ["rescued", "partially_rescued", "not_rescued", "ketamine_only", "unchanged"]


#: Pathway statuses, in reporting order.
STATUSES = [
    "reversed",
    "not_reversed",
    "aggravated",
    "ketamine_only",
    "not_significant",
    "not_tested",
]


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
        columns={"log2FoldChange": "ketamine_log2FC", "padj": "ketamine_padj"}
    )
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
    t = t.sort_values(
        ["class", "pain_padj", "ketamine_padj", "gene_id"], na_position="last", kind="mergesort"
    )
    t["class"] = t["class"].astype(str)
    return t.reset_index(drop=True)[
        [
            "gene_id",
            "gene",
            "baseMean",
            "pain_log2FC",
            "pain_padj",
            "ketamine_log2FC",
            "ketamine_padj",
            "reversal_fraction",
            "class",
        ]
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
    t = pain[keep].merge(
        ketamine[keep], on=["source", "term"], how="outer", suffixes=("_pain", "_ketamine")
    )
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
    t = t.sort_values(
        ["_order", "FDR_pain", "source", "term"], kind="mergesort", na_position="last"
    )
    return t.drop(columns="_order").reset_index(drop=True)[
        [
            "source",
            "term",
            "NES_pain",
            "FDR_pain",
            "direction_pain",
            "NES_ketamine",
            "FDR_ketamine",
            "status",
            "reversed",
            "genes_found_pain",
            "genes_found_ketamine",
            "tested_pain",
            "tested_ketamine",
        ]
    ]


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
            raise InputError(
                f"rescue.interaction.reference names '{var}', which is not a "
                f"column of the sample sheet ({', '.join(sheet.columns)}).",
                "rescue.interaction.reference",
            )
        levels = sorted(sheet[var].astype(str).unique())
        if ref not in levels:
            raise InputError(
                f"rescue.interaction.reference: '{ref}' is not a level of "
                f"'{var}' (levels: {', '.join(levels)}).",
                "rescue.interaction.reference",
            )
        others = [lvl for lvl in levels if lvl != ref]
        if not others:
            raise InputError(
                f"'{var}' has a single level; it cannot be part of an interaction.",
                "rescue.interaction.reference",
            )
        out[var] = (others[0], ref)
    return out
