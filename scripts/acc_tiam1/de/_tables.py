"""Wald tests of contrasts and coefficients into DE tables, and their summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..design import Contrast, shrink_coefficient
from ._fit import DE_COLUMNS


def contrast_table(
    dds,
    contrast: Contrast,
    genes: pd.DataFrame,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    shrink: bool = True,
) -> pd.DataFrame:
    """Wald test of one contrast on a fitted data set.

    Parameters
    ----------
    dds
        Output of :func:`fit_deseq`.
    contrast
        Levels to compare.
    genes
        Index ``gene_id``, column ``gene`` (symbol).
    alpha
        FDR target that independent filtering optimises (R's default is 0.1).
    cooks_filter, independent_filter
        As in DESeq2's ``results()``.
    shrink
        Also report apeGLM-shrunk fold changes where the contrast is one coefficient.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DE_COLUMNS`, sorted by p-value (ties by gene id); genes with no
        p-value last. ``log2FoldChange`` is the unshrunk estimate that ``stat`` and
        ``pvalue`` belong to; ``lfc_shrinkage`` says what ``log2FoldChange_shrunk`` is.
    """
    coeff = shrink_coefficient(contrast, dds.obs) if shrink else None
    why = "shrinkage off" if not shrink else "contrast is not a single model coefficient"
    return _wald_table(
        dds, contrast.as_pydeseq2(), coeff, why, genes, alpha, cooks_filter, independent_filter
    )


def _wald_table(
    dds, contrast, shrink_coeff, no_shrink_reason, genes, alpha, cooks_filter, independent_filter
) -> pd.DataFrame:
    """Wald test of ``contrast`` (pydeseq2 list or vector) as a sorted DE table.

    ``shrink_coeff`` names the coefficient to shrink, or is None (then
    ``no_shrink_reason`` goes into the ``lfc_shrinkage`` column).
    """
    from ..deseq2 import RDeseqStats, VectorizedInference, quiet_pydeseq2

    with quiet_pydeseq2():
        stats = RDeseqStats(
            dds,
            contrast=contrast,
            alpha=alpha,
            cooks_filter=cooks_filter,
            independent_filter=independent_filter,
            inference=VectorizedInference(),
            quiet=True,
        )
        stats.summary()
        table = stats.results_df.copy()
        if shrink_coeff is not None:
            stats.lfc_shrink(coeff=shrink_coeff)
            table["log2FoldChange_shrunk"] = stats.results_df["log2FoldChange"]
            table["lfcSE_shrunk"] = stats.results_df["lfcSE"]
            table["lfc_shrinkage"] = f"apeglm ({shrink_coeff})"
        else:
            table["log2FoldChange_shrunk"] = np.nan
            table["lfcSE_shrunk"] = np.nan
            table["lfc_shrinkage"] = f"none ({no_shrink_reason})"
    table.index.name = "gene_id"
    table = table.join(genes["gene"]).reset_index()
    return sort_de_table(table[DE_COLUMNS])


def sort_de_table(table: pd.DataFrame) -> pd.DataFrame:
    """Sort by p-value, ties by gene id, missing p-values last; deterministic."""
    order = np.lexsort((table["gene_id"].to_numpy(), table["pvalue"].fillna(np.inf).to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def untested_table() -> pd.DataFrame:
    """A DE table with the standard columns and no genes, for a contrast not tested.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DE_COLUMNS`, no rows.
    """
    return pd.DataFrame(columns=DE_COLUMNS)


def summarise_tables(tables: dict[str, pd.DataFrame], alpha: float) -> pd.DataFrame:
    """Genes tested and significant (up, down) at ``padj < alpha`` per DE table.

    Tables with a ``mostly_ambient`` column (pseudobulk DE with the ambient step) also
    get the number of significant genes the soup mostly explains.

    Parameters
    ----------
    tables
        ``{name: DE table}``.
    alpha
        Adjusted p-value threshold.
    """
    rows = []
    for name, t in tables.items():
        sig = t["padj"] < alpha
        rows.append(
            {
                "contrast": name,
                "genes_tested": int(t["pvalue"].notna().sum()),
                "genes_with_padj": int(t["padj"].notna().sum()),
                f"up_padj_lt_{alpha:g}": int((sig & (t["log2FoldChange"] > 0)).sum()),
                f"down_padj_lt_{alpha:g}": int((sig & (t["log2FoldChange"] < 0)).sum()),
                "lfc_shrinkage": t["lfc_shrinkage"].iloc[0] if len(t) else "",
            }
        )
        if "mostly_ambient" in t.columns:
            rows[-1]["mostly_ambient"] = int(t["mostly_ambient"].fillna(False).astype(bool).sum())
    return pd.DataFrame(rows)


def coefficient_table(
    dds,
    coefficient: str,
    genes: pd.DataFrame,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    shrink: bool = True,
) -> pd.DataFrame:
    """Wald test of one named model coefficient, e.g. an interaction term.

    Parameters
    ----------
    dds
        Output of :func:`fit_deseq`.
    coefficient
        A column of the design matrix, e.g. ``"surgery[T.SNI]:drug[T.ketamine]"``.
    genes
        Index ``gene_id``, column ``gene`` (symbol).
    alpha, cooks_filter, independent_filter, shrink
        As in :func:`contrast_table`; a single coefficient can always be shrunk.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DE_COLUMNS`, sorted as :func:`contrast_table` sorts.
    """
    columns = list(dds.obsm["design_matrix"].columns)
    if coefficient not in columns:
        raise ValueError(f"'{coefficient}' is not a model coefficient ({', '.join(columns)})")
    vector = np.zeros(len(columns))
    vector[columns.index(coefficient)] = 1.0
    return _wald_table(
        dds,
        vector,
        coefficient if shrink else None,
        "shrinkage off",
        genes,
        alpha,
        cooks_filter,
        independent_filter,
    )
