"""One DESeq2 fit per design, normalised counts, saving and loading fits.

The fit runs the R-faithful engine (:mod:`acc_tiam1.deseq2`) on pydeseq2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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


def fit_deseq(
    counts: pd.DataFrame,
    coldata: pd.DataFrame,
    design: str,
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
    from ..deseq2 import RDeseqDataSet, VectorizedInference, quiet_pydeseq2

    counts = counts.loc[:, coldata.index]
    with quiet_pydeseq2():
        dds = RDeseqDataSet(
            counts=counts.T,
            metadata=coldata,
            design=design,
            refit_cooks=refit_cooks,
            min_replicates=min_replicates,
            inference=VectorizedInference(),
            quiet=True,
        )
        dds.deseq2()
    return dds


def normalized_counts(dds, genes: pd.DataFrame) -> pd.DataFrame:
    """Counts divided by DESeq2 size factors, genes x samples, with gene symbols first."""
    norm = pd.DataFrame(
        np.asarray(dds.layers["normed_counts"]).T,
        index=pd.Index(dds.var_names, name="gene_id"),
        columns=dds.obs_names,
    )
    return genes[["gene"]].join(norm, how="right")
