"""Per-gene equivalence test (DESeq2's ``lessAbs``), for "back at sham level" claims.

"Pain + ketamine is back at sham level" is a claim of equivalence, which a
non-significant difference does not show (a small study never finds a difference).
DESeq2 tests it with ``results(lfcThreshold = margin, altHypothesis = "lessAbs")``: the
null hypothesis is ``|log2FC| >= margin``, and the p-value is the larger of the two
one-sided Wald p-values ``P(Z > (margin - LFC) / SE)`` and ``P(Z > (LFC + margin) / SE)``
(two one-sided tests, TOST; Schuirmann 1987, J Pharmacokinet Biopharm 15:657), adjusted
by DESeq2's independent filtering and BH as ``results()`` does.
"""

from __future__ import annotations

import pandas as pd

from ..errors import InputError


def gene_equivalence(
    dds,
    contrast,
    margin: float,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
) -> pd.DataFrame:
    """Per-gene equivalence test of one contrast on a fitted DESeq2 data set.

    Parameters
    ----------
    dds
        A fit from :func:`acc_tiam1.de.fit_deseq`.
    contrast
        ``[variable, target, reference]`` (e.g. ``["condition", "pain_ketamine",
        "sham"]``), or an object with ``as_pydeseq2()`` (:class:`acc_tiam1.design.
        Contrast`).
    margin
        Equivalence margin on the log2 fold change (> 0): equivalence means
        ``|log2FC| < margin``.
    alpha, cooks_filter, independent_filter
        As in DESeq2's ``results()`` (``alpha`` tunes independent filtering).

    Returns
    -------
    pandas.DataFrame
        Indexed by gene id, in the fit's order: ``baseMean, log2FoldChange, lfcSE,
        margin, stat, pvalue, padj`` (``pvalue``: the larger one-sided p-value;
        ``padj``: its DESeq2 adjustment). Genes with zero counts in both groups are
        tested at log2FC 0 with their standard error, as R does.
    """
    from ..deseq2 import RDeseqStats, quiet_pydeseq2

    if not margin > 0:
        raise InputError(f"the equivalence margin must be positive; got {margin}.")
    spec = contrast.as_pydeseq2() if hasattr(contrast, "as_pydeseq2") else list(contrast)
    with quiet_pydeseq2():
        res = RDeseqStats(
            dds,
            contrast=spec,
            alpha=alpha,
            cooks_filter=cooks_filter,
            independent_filter=independent_filter,
            lfc_null=float(margin),
            alt_hypothesis="lessAbs",
            quiet=True,
        )
        res.summary()
    table = res.results_df.copy()
    table.insert(3, "margin", float(margin))
    table.index.name = "gene_id"
    return table[["baseMean", "log2FoldChange", "lfcSE", "margin", "stat", "pvalue", "padj"]]
