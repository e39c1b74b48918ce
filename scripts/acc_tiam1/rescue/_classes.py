"""Ketamine rescue per gene: classes from three tests of one fit; interaction references."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ._equivalence import RESCUE_CLASSES, classify_rescue

#: Columns of a gene class table (:func:`classify_genes`), in order.
GENE_COLUMNS = [
    "gene_id",
    "gene",
    "baseMean",
    "pain_log2FC",
    "pain_padj",
    "ketamine_log2FC",
    "ketamine_padj",
    "reversal_fraction",
    "equivalence_log2FC",
    "equivalence_margin",
    "equivalence_padj",
    "class",
    "test",
]


def gene_test_text(padj: float, margin: float | None, reference: str = "sham") -> str:
    """Which tests and thresholds make a gene's rescue class, in words (a table column).

    Parameters
    ----------
    padj
        Adjusted p-value threshold of every test.
    margin
        Equivalence margin (log2), or None when equivalence was not tested.
    reference
        Level pain + ketamine is compared with in the equivalence test.
    """
    calls = f"DESeq2 Wald padj < {padj:g} (pain effect, ketamine reversal)"
    if margin is None:
        return f"{calls}; equivalence to {reference} not tested"
    return (
        f"{calls}; DESeq2 lessAbs |log2FC| < {margin:g} vs {reference}, padj < {padj:g} "
        "(equivalence)"
    )


def classify_genes(
    pain: pd.DataFrame,
    ketamine: pd.DataFrame,
    equivalence: pd.DataFrame | None = None,
    padj: float = 0.05,
    reference: str = "sham",
) -> pd.DataFrame:
    """Rescue class of every gene (:func:`acc_tiam1.rescue.classify_rescue`).

    Pain effect: DESeq2 padj < ``padj`` in the pain contrast; reversal: padj < ``padj``
    in the ketamine contrast with the opposite sign; equivalence to the pain contrast's
    reference: DESeq2's ``lessAbs`` test of ``|log2FC| < margin`` (pain + ketamine vs
    reference) with padj < ``padj``. ``reversal_fraction`` ``-LFC_ketamine / LFC_pain``
    (the share of the pain effect ketamine undoes) is descriptive; it makes no call.

    Parameters
    ----------
    pain, ketamine
        DE tables of the pain and the ketamine contrast (columns ``gene_id``, ``gene``,
        ``baseMean``, ``log2FoldChange``, ``padj``).
    equivalence
        Equivalence table of the same fit (:func:`acc_tiam1.de.equivalence_table`:
        ``gene_id``, ``log2FoldChange``, ``margin``, ``padj``), or None / empty when
        it was not tested (then no gene is fully rescued).
    padj
        Adjusted p-value threshold of the three tests.
    reference
        The reference level, for the ``test`` column.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GENE_COLUMNS`, by class (order of :data:`RESCUE_CLASSES`) then
        pain p-value.
    """
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
    margin = None
    if equivalence is not None and len(equivalence):
        missing = {"gene_id", "log2FoldChange", "margin", "padj"} - set(equivalence.columns)
        if missing:
            raise InputError(f"equivalence table lacks column(s) {', '.join(sorted(missing))}.")
        margin = float(equivalence["margin"].iloc[0])
        e = equivalence[["gene_id", "log2FoldChange", "padj"]].rename(
            columns={"log2FoldChange": "equivalence_log2FC", "padj": "equivalence_padj"}
        )
        t = t.merge(e, on="gene_id", how="left")
    else:
        t["equivalence_log2FC"] = np.nan
        t["equivalence_padj"] = np.nan
    t["equivalence_margin"] = np.nan if margin is None else margin
    cls = classify_rescue(
        t["pain_padj"],
        t["pain_log2FC"],
        t["ketamine_padj"],
        t["ketamine_log2FC"],
        t["equivalence_padj"],
        alpha=padj,
    )
    t["class"] = pd.Categorical(cls, categories=RESCUE_CLASSES)
    t = t.sort_values(
        ["class", "pain_padj", "ketamine_padj", "gene_id"], na_position="last", kind="mergesort"
    )
    t["class"] = t["class"].astype(str)
    t["test"] = gene_test_text(padj, margin, reference)
    return t.reset_index(drop=True)[GENE_COLUMNS]


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
    out = pd.DataFrame({"class": RESCUE_CLASSES})
    counts = classified["class"].value_counts()
    out["all_genes"] = [int(counts.get(c, 0)) for c in RESCUE_CLASSES]
    for label, genes in dict(genesets).items():
        sub = classified[classified["gene"].isin(set(genes))]["class"].value_counts()
        out[label] = [int(sub.get(c, 0)) for c in RESCUE_CLASSES]
    return out


def genes_page(genes: pd.DataFrame, max_rows: int, highlight: Sequence[str] = ()) -> str:
    """The report's page of the gene classes: classified genes first, not every gene.

    Parameters
    ----------
    genes
        :func:`classify_genes` tables stacked with a ``dataset`` column.
    max_rows
        Rows shown; the highlighted genes are shown beyond them.
    highlight
        Gene symbols always shown (e.g. Tiam1), whatever their class.

    Returns
    -------
    str
        A standalone HTML page (:func:`acc_tiam1.html_table.interactive_table`).
    """
    from ..html_table import interactive_table

    quiet = genes["class"].astype(str).isin(["unchanged", "not_tested"])
    keep = genes["gene"].isin(list(highlight))
    shown = genes[~quiet | keep]
    # Classified genes in class order, then the highlighted genes that are not.
    shown = pd.concat([shown[~quiet[shown.index]], shown[quiet[shown.index]]])
    tests = shown["test"].dropna().unique() if "test" in shown else []
    note = (
        f"{int((~quiet).sum())} classified gene(s) of {len(genes)} rows (every gene, every "
        "dataset: genes.tsv next to this page)."
    )
    if len(tests) == 1:
        shown = shown.drop(columns="test")
        note += f" Calls: {tests[0]}."
    return interactive_table(
        shown, "Ketamine rescue per gene", note, max_rows, keep=shown["gene"].isin(list(highlight))
    )


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
