"""Differential expression with DESeq2's method, shared by bulk and pseudobulk data.

One fit per design (:func:`fit_deseq`), then one Wald test per contrast on that fit
(:func:`contrast_table`). The defaults follow R's DESeq2 (alpha 0.1, independent
filtering, Cook's distance filtering and outlier replacement from 7 replicates).

The fit is a pydeseq2 ``DeseqDataSet`` whose estimation steps are replaced by
:mod:`acc_tiam1.inference`, which runs them as R's DESeq2 does (so that the called
genes agree with R's) and vectorised over genes (so that it is faster than R).
"""

from __future__ import annotations

import contextlib
import io
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .design import Contrast, shrink_coefficient

#: Columns of every DE table, in order; DESeq2's names.
DE_COLUMNS = [
    "gene_id",
    "gene",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "stat",
    "pvalue",
    "padj",
    "log2FoldChange_shrunk",
    "lfcSE_shrunk",
    "lfc_shrinkage",
]


@contextlib.contextmanager
def _quiet_pydeseq2():
    """pydeseq2 prints progress to stdout; keep it out of our logs' result sections."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        yield sink


def fit_deseq(
    counts: pd.DataFrame,
    coldata: pd.DataFrame,
    design: str,
    n_cpus: int = 1,
    refit_cooks: bool = True,
    min_replicates: int = 7,
):
    """Fit DESeq2's negative-binomial GLM to every gene.

    Parameters
    ----------
    counts
        Raw integer counts, genes x samples (columns in the order of ``coldata``).
    coldata
        Design variables per sample, as built by :func:`acc_tiam1.design.make_coldata`
        (categoricals whose first category is the reference level).
    design
        Design formula, e.g. ``"~ sex + condition"``.
    n_cpus
        Accepted for compatibility; the vectorised estimation needs no worker
        processes.
    refit_cooks
        Replace Cook's outliers and refit, for samples in groups of at least
        ``min_replicates`` (DESeq2's ``minReplicatesForReplace``).
    min_replicates
        See ``refit_cooks``.

    Returns
    -------
    acc_tiam1.inference.RDeseqDataSet
        The fitted data set, a :class:`pydeseq2.dds.DeseqDataSet`.

    Raises
    ------
    ValueError
        Where R's DESeq2 stops too: no residual degrees of freedom (as many samples as
        coefficients), every gene constant, or no gene with a usable dispersion.
    """
    from .inference import RDeseqDataSet, VectorizedInference

    counts = counts.loc[:, coldata.index]
    with _quiet_pydeseq2():
        dds = RDeseqDataSet(
            counts=counts.T,
            metadata=coldata,
            design=design,
            refit_cooks=refit_cooks,
            min_replicates=min_replicates,
            inference=VectorizedInference(n_cpus=n_cpus),
            quiet=True,
        )
        dds.deseq2()
    return dds


def contrast_table(
    dds,
    contrast: Contrast,
    genes: pd.DataFrame,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    shrink: bool = True,
    n_cpus: int = 1,
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
    n_cpus
        Accepted for compatibility (see :func:`fit_deseq`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DE_COLUMNS`, sorted by p-value (ties by gene id); genes with no
        p-value last. ``log2FoldChange`` is the unshrunk estimate that ``stat`` and
        ``pvalue`` belong to; ``lfc_shrinkage`` says what ``log2FoldChange_shrunk`` is.
    """
    coeff = shrink_coefficient(contrast, dds.obs) if shrink else None
    why = "shrinkage off" if not shrink else "contrast is not a single model coefficient"
    return _wald_table(dds, contrast.as_pydeseq2(), coeff, why, genes, alpha, cooks_filter,
                       independent_filter, n_cpus)


def _wald_table(dds, contrast, shrink_coeff, no_shrink_reason, genes, alpha, cooks_filter,
                independent_filter, n_cpus) -> pd.DataFrame:
    """Wald test of ``contrast`` (pydeseq2 list or vector) as a sorted DE table.

    ``shrink_coeff`` names the coefficient to shrink, or is None (then
    ``no_shrink_reason`` goes into the ``lfc_shrinkage`` column).
    """
    from pydeseq2.ds import DeseqStats

    from .inference import RDeseqDataSet, RDeseqStats, VectorizedInference

    # A fit pickled by plain pydeseq2 (before R-faithful fitting) keeps its own tests.
    stats_class = RDeseqStats if isinstance(dds, RDeseqDataSet) else DeseqStats
    with _quiet_pydeseq2():
        stats = stats_class(
            dds,
            contrast=contrast,
            alpha=alpha,
            cooks_filter=cooks_filter,
            independent_filter=independent_filter,
            inference=VectorizedInference(n_cpus=n_cpus),
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
    order = np.lexsort(
        (table["gene_id"].to_numpy(), table["pvalue"].fillna(np.inf).to_numpy())
    )
    return table.iloc[order].reset_index(drop=True)


def normalized_counts(dds, genes: pd.DataFrame) -> pd.DataFrame:
    """Counts divided by DESeq2 size factors, genes x samples, with gene symbols first."""
    norm = pd.DataFrame(
        np.asarray(dds.layers["normed_counts"]).T,
        index=pd.Index(dds.var_names, name="gene_id"),
        columns=dds.obs_names,
    )
    return genes[["gene"]].join(norm, how="right")


def save_fit(dds, path: str | Path) -> None:
    """Pickle a fitted data set (written atomically)."""
    from .io import atomic_output

    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        pickle.dump(dds, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_fit(path: str | Path):
    """Read a data set written by :func:`save_fit`."""
    from formulaic_contrasts import FormulaicContrasts

    with open(path, "rb") as handle:
        dds = pickle.load(handle)
    # formulaic_contrasts registers its materializer per instance, in memory only, so
    # contrasts on an unpickled fit need it rebuilt from the (pickled) sample data.
    dds.formulaic_contrasts = FormulaicContrasts(dds.obs, dds.design)
    rebuilt = list(dds.formulaic_contrasts.design_matrix.columns)
    if rebuilt != list(dds.obsm["design_matrix"].columns):
        raise RuntimeError(f"design matrix of {path} could not be rebuilt: {rebuilt}")
    return dds


def summarise_tables(tables: dict[str, pd.DataFrame], alpha: float) -> pd.DataFrame:
    """Genes tested and significant (up, down) at ``padj < alpha`` per DE table.

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
    return pd.DataFrame(rows)


def coefficient_table(
    dds,
    coefficient: str,
    genes: pd.DataFrame,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    shrink: bool = True,
    n_cpus: int = 1,
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
    alpha, cooks_filter, independent_filter, shrink, n_cpus
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
    return _wald_table(dds, vector, coefficient if shrink else None, "shrinkage off", genes,
                       alpha, cooks_filter, independent_filter, n_cpus)
