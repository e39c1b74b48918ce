"""Cell-type composition per animal and its test per contrast (CLR, animal = replicate)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..stats import bh_adjust


def composition_counts(
    obs: pd.DataFrame, samples: Sequence[str], cell_types: Sequence[str]
) -> pd.DataFrame:
    """Nuclei per sample (rows, sheet order) and cell type (columns, given order)."""
    table = pd.crosstab(obs["sample"].astype(str), obs["cell_type"].astype(str))
    return table.reindex(index=list(samples), columns=list(cell_types), fill_value=0)


def clr(counts: pd.DataFrame, pseudocount: float = 0.5) -> pd.DataFrame:
    """Centred log-ratio of each sample's composition (rows), with a pseudocount."""
    logp = np.log(counts.to_numpy(dtype=float) + pseudocount)
    return pd.DataFrame(
        logp - logp.mean(axis=1, keepdims=True), index=counts.index, columns=counts.columns
    )


def composition_tests(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    contrasts: Sequence,
    pseudocount: float = 0.5,
) -> pd.DataFrame:
    """Sample-level test of composition change for every contrast and cell type.

    The animal is the unit: each sample's composition is CLR-transformed, and every
    cell type's CLR value is fitted with ordinary least squares on the sample-level
    design (same formula as the DE); the contrast is tested with a t-test on the
    residual degrees of freedom, and p-values are BH-adjusted within each contrast.

    Parameters
    ----------
    counts
        Samples x cell types nuclei counts (:func:`composition_counts`).
    sheet
        Sample sheet indexed like ``counts``.
    design
        Design formula, e.g. ``"~ sex + condition"``.
    contrasts
        :class:`~acc_tiam1.design.Contrast` objects.
    pseudocount
        Added to counts before the log.

    Returns
    -------
    Long table: contrast, cell_type, mean proportions in both groups, their log2 ratio,
    ``clr_difference`` (estimate), ``se``, ``t``, ``df``, ``pvalue``, ``padj``.
    """
    from formulaic_contrasts import FormulaicContrasts

    from ..design import make_coldata

    coldata = make_coldata(sheet.loc[counts.index], design, contrasts)
    fc = FormulaicContrasts(coldata, design)
    x = fc.design_matrix.to_numpy(dtype=float)
    y = clr(counts, pseudocount).to_numpy()
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    dof = x.shape[0] - np.linalg.matrix_rank(x)
    sigma2 = (resid**2).sum(axis=0) / dof if dof > 0 else np.full(y.shape[1], np.nan)
    props = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    from scipy import stats

    rows = []
    for c in contrasts:
        vec = np.asarray(fc.contrast(c.variable, c.reference, c.target), dtype=float)
        est = vec @ beta
        se = np.sqrt(sigma2 * float(vec @ xtx_inv @ vec))
        t = np.divide(est, se, out=np.full(est.shape, np.nan), where=se > 0)
        p = 2 * stats.t.sf(np.abs(t), dof) if dof > 0 else np.full(est.shape, np.nan)
        in_t = sheet.loc[counts.index, c.variable] == c.target
        in_r = sheet.loc[counts.index, c.variable] == c.reference
        mt, mr = props[in_t.to_numpy()].mean(), props[in_r.to_numpy()].mean()
        padj = bh_adjust(p)
        for j, ct in enumerate(counts.columns):
            rows.append(
                {
                    "contrast": c.name,
                    "cell_type": ct,
                    "mean_prop_target": mt[ct],
                    "mean_prop_reference": mr[ct],
                    "log2_prop_ratio": np.log2((mt[ct] + 1e-9) / (mr[ct] + 1e-9)),
                    "clr_difference": est[j],
                    "se": se[j],
                    "t": t[j],
                    "df": dof,
                    "pvalue": p[j],
                    "padj": padj[j],
                }
            )
    return pd.DataFrame(rows)
