"""``RDeseqStats``: pydeseq2's ``DeseqStats`` with R DESeq2's testing steps.

Wald test, Cook's filter and independent filtering as ``results()`` runs them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydeseq2.ds import DeseqStats

from ..stats import bh_adjust
from ._glm import _wald_stat, wald_se
from ._inference import VectorizedInference, _one_blas_thread
from ._rnumerics import RIDGE_NAT, _r_quantile, r_lowess


def independent_filtering(base_mean, pvalues, alpha):
    """R's ``pvalueAdjustment`` with independent filtering.

    Returns
    -------
    padj, threshold (baseMean cut-off), theta (its quantile)
    """
    base_mean = np.asarray(base_mean, dtype=float)
    pvalues = np.asarray(pvalues, dtype=float)
    lower = np.mean(base_mean == 0)
    upper = 0.95 if lower < 0.95 else 1.0
    theta = np.linspace(lower, upper, 50)
    cutoffs = _r_quantile(base_mean, theta)
    result = np.full((base_mean.size, theta.size), np.nan)
    for i, cut in enumerate(cutoffs):
        use = base_mean >= cut
        if use.any():
            result[use, i] = bh_adjust(pvalues[use])
    with np.errstate(invalid="ignore"):
        num_rej = np.sum(result < alpha, axis=0)
    fit = r_lowess(theta, num_rej.astype(float), f=1 / 5)
    if num_rej.max() <= 10:
        j = 0
    else:
        positive = num_rej > 0
        residual = num_rej[positive] - fit[positive] if positive.any() else np.zeros(1)
        thresh = fit.max() - np.sqrt(np.mean(residual**2))
        above = np.flatnonzero(num_rej > thresh)
        j = int(above[0]) if above.size else 0
    return result[:, j], float(cutoffs[j]), float(theta[j])


class RDeseqStats(DeseqStats):
    """pydeseq2's DeseqStats with R's Wald test, Cook's filter and independent filter."""

    def __init__(self, dds, *args, **kwargs):
        kwargs.setdefault("inference", VectorizedInference())
        super().__init__(dds, *args, **kwargs)

    @_one_blas_thread
    def run_wald_test(self) -> None:
        """Wald test of the contrast with R's standard errors and zero-count rules."""
        dds = self.dds
        X = self.design_matrix.to_numpy(dtype=float)
        beta = self.LFC.to_numpy(dtype=float)
        disp = dds.var["dispersions"].to_numpy(dtype=float)
        sf = dds.obs["size_factors"].to_numpy(dtype=float)
        c = np.asarray(self.contrast_vector, dtype=float)
        ok = np.isfinite(beta).all(axis=1) & np.isfinite(disp)
        ridge = (
            np.diag(1 / self.prior_LFC_var**2)
            if self.prior_LFC_var is not None
            else np.diag(np.full(X.shape[1], RIDGE_NAT))
        )
        se = np.full(dds.n_vars, np.nan)
        se[ok] = wald_se(beta[ok], disp[ok], sf, X, c, minmu=dds.min_mu, ridge=ridge)
        with np.errstate(invalid="ignore"):
            lfc = beta @ c
        stat, pval = _wald_stat(lfc, se, np.log(2) * self.lfc_null, self.alt_hypothesis)
        index = dds.var_names
        self.p_values = pd.Series(pval, index=index)
        self.statistics = pd.Series(stat, index=index)
        self.SE = pd.Series(se, index=index)
        self._zero_lfc = self._contrast_all_zero()
        self.statistics[self._zero_lfc] = 0.0
        self.p_values[self._zero_lfc] = 1.0
        if self.alt_hypothesis is not None:
            # R's results() applies lfcThreshold/altHypothesis after setting LFC 0: for
            # lessAbs these genes get p = P(Z > threshold / SE), not 1.
            zero = self._zero_lfc
            stat0, pval0 = _wald_stat(
                np.zeros(zero.sum()), se[zero], np.log(2) * self.lfc_null, self.alt_hypothesis
            )
            self.statistics[zero] = stat0
            self.p_values[zero] = pval0
        now_zero = getattr(dds, "new_all_zeroes_genes", index[:0])
        if len(now_zero):
            self.SE.loc[now_zero] = 0.0
            self.statistics.loc[now_zero] = 0.0
            self.p_values.loc[now_zero] = 1.0

    def _contrast_all_zero(self) -> np.ndarray:
        # R's contrastAllZero: zero counts in every sample of the compared groups.
        counts = np.asarray(self.dds.X)
        non_zero = self.dds.var["non_zero"].to_numpy()
        if isinstance(self.contrast, np.ndarray):
            c = self.contrast_vector
            if np.all(c >= 0) or np.all(c <= 0):
                return np.zeros(self.dds.n_vars, dtype=bool)
            X = self.design_matrix.to_numpy(dtype=float)
            samples = (X @ (c != 0).astype(float)) != 0
        else:
            var, num, den = self.contrast
            samples = self.dds.obs[var].isin([num, den]).to_numpy()
        return (counts[samples] == 0).all(axis=0) & non_zero

    def _cooks_filtering(self) -> None:
        if not hasattr(self, "p_values"):
            self.run_wald_test()
        outlier = self.dds.cooks_outlier().to_numpy().copy()
        now_zero = self.dds.var_names.isin(getattr(self.dds, "new_all_zeroes_genes", []))
        outlier &= ~now_zero
        self.p_values[outlier] = np.nan

    def _independent_filtering(self) -> None:
        if not hasattr(self, "p_values"):
            self.run_wald_test()
        padj, threshold, theta = independent_filtering(
            self.base_mean.to_numpy(), self.p_values.to_numpy(), self.alpha
        )
        self.padj = pd.Series(padj, index=self.dds.var_names)
        self.filter_threshold = threshold
        self.filter_theta = theta

    def _p_value_adjustment(self) -> None:
        if not hasattr(self, "p_values"):
            self.run_wald_test()
        self.padj = pd.Series(bh_adjust(self.p_values.to_numpy()), index=self.dds.var_names)

    @_one_blas_thread
    def summary(self, **kwargs) -> None:
        """pydeseq2's summary, with R's zero fold change for all-zero contrasts."""
        super().summary(**kwargs)
        zero = getattr(self, "_zero_lfc", None)
        if zero is not None and zero.any():
            self.results_df.loc[zero, "log2FoldChange"] = 0.0
