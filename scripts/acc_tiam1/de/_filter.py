"""The gene filter before DE, one for bulk and pseudobulk: edgeR's ``filterByExpr``.

Genes with too few counts to be tested are removed before the fit, as the DESeq2
vignette advises and edgeR's ``filterByExpr`` does (Chen, Lun & Smyth 2016). Without it a
gene with a handful of counts in one group and none in the other gets a log2 fold change
of +-17 and a small p-value, and independent filtering alone does not catch it (on a
simulated null bulk study of 20 samples, 100 such genes at padj < 0.05, exactly as R's
DESeq2 without a filter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: Filter settings of the config's ``de.filter`` and their defaults (edgeR's).
FILTER_DEFAULTS = {
    "method": "filterByExpr",
    "min_count": 10,
    "min_total_count": 15,
    "large_n": 10,
    "min_prop": 0.7,
}


def filter_by_expr(
    counts: pd.DataFrame,
    groups: Sequence[str],
    min_count: float = 10,
    min_total_count: float = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> np.ndarray:
    """Genes with enough counts in enough samples, as edgeR's ``filterByExpr``.

    A gene is kept when its CPM is at least ``min_count / median library size * 1e6``
    in at least as many samples as the smallest group (capped as edgeR does for
    large groups) and its total count is at least ``min_total_count``.

    Parameters
    ----------
    counts
        Genes x samples raw counts.
    groups
        Group of each sample (the contrast variable).

    Returns
    -------
    Boolean mask over genes.
    """
    x = counts.to_numpy(dtype=float)
    lib = x.sum(axis=0)
    if x.shape[1] == 0 or (lib <= 0).all():
        return np.zeros(x.shape[0], dtype=bool)
    sizes = pd.Series(list(groups)).value_counts()
    min_n = float(sizes[sizes > 0].min())
    if min_n > large_n:
        min_n = large_n + (min_n - large_n) * min_prop
    median_lib = float(np.median(lib))
    cutoff = min_count / median_lib * 1e6
    cpm = np.divide(x, lib, out=np.zeros_like(x), where=lib > 0) * 1e6
    keep_cpm = (cpm >= cutoff).sum(axis=1) >= min_n - 1e-14
    keep_total = x.sum(axis=1) >= min_total_count - 1e-14
    return keep_cpm & keep_total


def expression_filter(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    variables: Sequence[str],
    settings: Mapping | None = None,
) -> np.ndarray:
    """The genes to test: :func:`filter_by_expr` with the groups the contrasts compare.

    Parameters
    ----------
    counts
        Genes x samples raw counts.
    sheet
        Sample sheet (index: sample id) holding ``variables``.
    variables
        The contrast variables; a sample's group is its combination of their levels.
    settings
        The config's ``de.filter`` (:data:`FILTER_DEFAULTS` for missing keys);
        ``method: none`` keeps every gene.

    Returns
    -------
    numpy.ndarray
        Boolean mask over genes.
    """
    s = {**FILTER_DEFAULTS, **dict(settings or {})}
    if s["method"] == "none":
        return np.ones(counts.shape[0], dtype=bool)
    groups = sheet.loc[counts.columns, list(variables)].astype(str).agg("|".join, axis=1)
    return filter_by_expr(
        counts,
        groups.to_numpy(),
        s["min_count"],
        s["min_total_count"],
        s["large_n"],
        s["min_prop"],
    )


def filter_record(keep: np.ndarray, settings: Mapping | None = None) -> pd.DataFrame:
    """One row saying what the gene filter did: genes in, removed, kept, and the settings.

    Parameters
    ----------
    keep
        The filter's mask over genes (:func:`expression_filter`).
    settings
        The config's ``de.filter``.

    Returns
    -------
    pandas.DataFrame
        One row.
    """
    s = {**FILTER_DEFAULTS, **dict(settings or {})}
    keep = np.asarray(keep, dtype=bool)
    return pd.DataFrame(
        [
            {
                "genes_in": keep.size,
                "genes_removed": int((~keep).sum()),
                "genes_kept": int(keep.sum()),
                **{f"filter_{k}": v for k, v in s.items()},
            }
        ]
    )
