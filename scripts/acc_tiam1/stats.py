"""Statistics shared by every stage."""

from __future__ import annotations

import numpy as np
from scipy.stats import false_discovery_control


def bh_adjust(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, with R's handling of missing values.

    scipy's :func:`~scipy.stats.false_discovery_control` does the adjustment. It rejects
    NaN, while R's ``p.adjust`` (and so DESeq2, whose genes removed by independent
    filtering or Cook's distance have NA p-values) leaves NA in place and counts only
    the non-missing p-values as tests; this wrapper does the same.

    Parameters
    ----------
    pvalues
        Array-like of p-values in [0, 1]; NaN where there is no test.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, NaN where the input is NaN.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = false_discovery_control(p[ok], method="bh")
    return out
