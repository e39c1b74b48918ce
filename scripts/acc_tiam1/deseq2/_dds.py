"""``RDeseqDataSet``: pydeseq2's ``DeseqDataSet`` with R DESeq2's estimation steps."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from scipy.special import polygamma
from scipy.stats import f as f_dist

from ._dispersion import genewise_dispersions, map_dispersions, prior_variance_small_df
from ._glm import fit_nbinom_glms
from ._inference import VectorizedInference, _one_blas_thread
from ._rnumerics import MIN_DISP, n_or_more_in_cell, parametric_trend


class RDeseqDataSet(DeseqDataSet):
    """pydeseq2's DeseqDataSet with each estimation step done as R's DESeq2 does it.

    Fields are stored under pydeseq2's names (``var["dispersions"]``,
    ``varm["LFC"]``, ``layers["cooks"]``...), so code written for pydeseq2 keeps
    working. Remaining known differences from R: when the residual degrees of freedom
    are 3 or fewer, R's prior variance of log dispersions uses R's random number
    generator (see :func:`prior_variance_small_df`); when the parametric trend fails,
    R switches to a local (locfit) trend and we to the mean trend, as pydeseq2 does;
    observation weights are not supported.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("inference", VectorizedInference())
        super().__init__(*args, **kwargs)

    # -- pipeline ---------------------------------------------------------------------

    @_one_blas_thread
    def deseq2(self, fit_type=None) -> None:
        """Size factors, dispersions, coefficients, Cook's distances and refit (R's DESeq)."""
        if fit_type is not None:
            self.fit_type = fit_type
        self._check_replicates()
        self.fit_size_factors(fit_type=self.size_factors_fit_type, control_genes=self.control_genes)
        self.fit_genewise_dispersions()
        self.fit_dispersion_trend()
        self.fit_dispersion_prior()
        self.fit_MAP_dispersions()
        self.fit_LFC()
        self.calculate_cooks()
        self._record_max_cooks(self.layers["cooks"])
        if self.refit_cooks:
            self.refit()
        else:
            self.var["replaced"] = False
            self.var["refitted"] = False
        self.cooks_outlier()

    def _check_replicates(self) -> None:
        X = self.obsm["design_matrix"].to_numpy(dtype=float)
        if X.shape[0] == X.shape[1]:
            raise ValueError(
                "the number of samples and the number of model coefficients are equal, "
                "i.e. there are no replicates to estimate the dispersion (as in R's "
                "DESeq2); use a design with fewer terms."
            )
        if np.all(self.X == self.X[:1, :]):
            raise ValueError(
                "all genes have equal values for all samples; differential analysis is "
                "impossible (as in R's DESeq2)."
            )

    def _design(self) -> np.ndarray:
        return self.obsm["design_matrix"].to_numpy(dtype=float)

    def fit_genewise_dispersions(self, vst: bool = False) -> None:
        """Gene-wise dispersions as R's ``estimateDispersionsGeneEst``."""
        if "size_factors" not in self.obs:
            self.fit_size_factors(fit_type=self.size_factors_fit_type)
        self.var["non_zero"] = ~(self.X == 0).all(axis=0)
        self.non_zero_idx = np.flatnonzero(self.var["non_zero"].to_numpy())
        self.non_zero_genes = self.var_names[self.var["non_zero"].to_numpy()]
        Y = np.asarray(self.X[:, self.non_zero_idx], dtype=float).T
        sf = self.obs["size_factors"].to_numpy(dtype=float)
        X = self._design()
        res = genewise_dispersions(Y, sf, X, minmu=self.min_mu)
        n = self.n_vars
        mu_name = "_vst_mu_hat" if vst else "_mu_hat"
        disp_name = "vst_genewise_dispersions" if vst else "genewise_dispersions"
        mu = np.full((self.n_obs, n), np.nan)
        mu[:, self.non_zero_idx] = res["mu"].T
        self.layers[mu_name] = mu
        self.var["_MoM_dispersions"] = _expand(res["init"], self.non_zero_idx, n)
        self.var[disp_name] = _expand(res["disp"], self.non_zero_idx, n)
        self.var["_genewise_iter"] = _expand(res["iter"], self.non_zero_idx, n)
        conv = pd.array([pd.NA] * n, dtype="boolean")
        conv[self.non_zero_idx] = res["converged"]
        self.var["_genewise_converged"] = conv

    def fit_dispersion_trend(self, vst: bool = False) -> None:
        """Dispersion trend (R's ``estimateDispersionsFit``)."""
        fit_type = self.vst_fit_type if vst else self.fit_type
        if fit_type == "parametric":
            self._fit_parametric_dispersion_trend(vst)
        elif fit_type == "mean":
            self._fit_mean_dispersion_trend(vst)
        else:
            raise NotImplementedError(f"fit type {fit_type!r}")

    def _fit_parametric_dispersion_trend(self, vst: bool = False) -> None:
        name = "vst_genewise_dispersions" if vst else "genewise_dispersions"
        if name not in self.var:
            self.fit_genewise_dispersions(vst)
        nz = self.var["non_zero"].to_numpy()
        gw = self.var[name].to_numpy()[nz]
        means = self.var["_normed_means"].to_numpy()[nz]
        use = gw > 100 * MIN_DISP
        if not use.any():
            raise ValueError(
                "all gene-wise dispersion estimates are within 2 orders of magnitude from "
                "the minimum value, so the standard curve fitting techniques will not work "
                "(as in R's DESeq2)."
            )
        try:
            coefs = parametric_trend(means[use], gw[use])
        except (FloatingPointError, np.linalg.LinAlgError):
            warnings.warn(
                "The parametric dispersion trend could not be fitted; R's DESeq2 would "
                "switch to a local fit, we use the mean of the dispersions.",
                UserWarning,
                stacklevel=2,
            )
            self._fit_mean_dispersion_trend(vst)
            return
        coeffs = pd.Series(coefs, index=["a0", "a1"])
        if vst:
            self.uns["vst_trend_coeffs"] = coeffs
            return
        self.uns["trend_coeffs"] = coeffs
        self.uns["disp_function_type"] = "parametric"
        fitted = np.full(self.n_vars, np.nan)
        fitted[nz] = coefs[0] + coefs[1] / means
        self.var["fitted_dispersions"] = fitted

    def _fit_mean_dispersion_trend(self, vst: bool = False) -> None:
        super()._fit_mean_dispersion_trend(vst)
        if not vst:
            nz = ~self.var["non_zero"].to_numpy()
            self.var.loc[nz, "fitted_dispersions"] = np.nan

    def fit_dispersion_prior(self) -> None:
        """Residual variance of log dispersions and the prior variance (R's rules)."""
        if "fitted_dispersions" not in self.var:
            self.fit_dispersion_trend()
        nz = self.var["non_zero"].to_numpy()
        gw = self.var["genewise_dispersions"].to_numpy()[nz]
        fit = self.var["fitted_dispersions"].to_numpy()[nz]
        above = gw >= 100 * MIN_DISP
        if not above.any():
            raise ValueError("no gene-wise dispersion is above 100 * minDisp (R's DESeq2).")
        resid = np.log(gw) - np.log(fit)
        sel = resid[above]
        var_log = (1.4826 * np.median(np.abs(sel - np.median(sel)))) ** 2
        m, p = self._design().shape
        if (m - p) <= 3 and m > p:
            prior = prior_variance_small_df(sel, m, p)
        elif m > p:
            prior = max(var_log - float(polygamma(1, (m - p) / 2)), 0.25)
        else:
            prior = var_log
        self.uns["_squared_logres"] = var_log
        self.uns["prior_disp_var"] = np.float64(prior)

    def fit_MAP_dispersions(self) -> None:
        """MAP dispersions and dispersion outliers (R's ``estimateDispersionsMAP``)."""
        if "prior_disp_var" not in self.uns:
            self.fit_dispersion_prior()
        nz = self.non_zero_idx
        Y = np.asarray(self.X[:, nz], dtype=float).T
        mu = self.layers["_mu_hat"][:, nz].T
        res = map_dispersions(
            Y,
            mu,
            self._design(),
            self.var["genewise_dispersions"].to_numpy()[nz],
            self.var["fitted_dispersions"].to_numpy()[nz],
            float(self.uns["prior_disp_var"]),
            float(self.uns["_squared_logres"]),
        )
        n = self.n_vars
        self.var["MAP_dispersions"] = _expand(res["map"], nz, n)
        self.var["dispersions"] = _expand(res["final"], nz, n)
        outlier = np.zeros(n, dtype=bool)
        outlier[nz] = res["outlier"]
        self.var["_outlier_genes"] = outlier
        self.var["_MAP_iter"] = _expand(res["iter"], nz, n)
        conv = pd.array([pd.NA] * n, dtype="boolean")
        conv[nz] = res["converged"]
        self.var["_MAP_converged"] = conv

    def fit_LFC(self) -> None:
        """Coefficients by IRLS with R's optim fallback (R's ``fitNbinomGLMs``)."""
        nz = self.non_zero_idx
        Y = np.asarray(self.X[:, nz], dtype=float).T
        sf = self.obs["size_factors"].to_numpy(dtype=float)
        fit = fit_nbinom_glms(
            Y,
            sf,
            self._design(),
            self.var["dispersions"].to_numpy()[nz],
            tol=self.beta_tol,
            minmu=self.min_mu,
        )
        cols = self.obsm["design_matrix"].columns
        lfc = np.full((self.n_vars, len(cols)), np.nan)
        lfc[nz] = fit["beta"]
        self.varm["LFC"] = pd.DataFrame(lfc, index=self.var_names, columns=cols)
        self.obsm["_mu_LFC"] = fit["mu"].T
        self.obsm["_hat_diagonals"] = fit["hat"].T
        conv = pd.array([pd.NA] * self.n_vars, dtype="boolean")
        conv[nz] = fit["conv"]
        self.var["_LFC_converged"] = conv
        self.var["_LFC_iter"] = _expand(fit["iters"], nz, self.n_vars)

    def _record_max_cooks(self, cooks: np.ndarray) -> None:
        # R's recordMaxCooks: only samples in cells with 3 or more replicates count.
        X = self._design()
        m, p = X.shape
        use = n_or_more_in_cell(X, 3)
        if m > p and use.any():
            sub = cooks[use]
            # Cook's distances are NaN for all-zero genes only, in every sample at once.
            mx = np.max(np.where(np.isnan(sub), -np.inf, sub), axis=0)
            mx[np.isnan(sub).all(axis=0)] = np.nan
        else:
            mx = np.full(self.n_vars, np.nan)
        self.var["_max_cooks"] = mx

    # -- outliers -----------------------------------------------------------------------

    def refit(self) -> None:
        """Replace Cook's outliers and refit those genes (R's ``refitWithoutOutliers``)."""
        X = self._design()
        m, p = X.shape
        self.var["replaced"] = False
        self.var["refitted"] = False
        self.new_all_zeroes_genes = self.var_names[:0]
        if not n_or_more_in_cell(X, self.min_replicates).any() or m <= p:
            self.obs["replaceable"] = n_or_more_in_cell(X, self.min_replicates)
            return
        cutoff = f_dist.ppf(0.99, p, m - p)
        cooks = self.layers["cooks"]
        with np.errstate(invalid="ignore"):
            idx = cooks > cutoff
        replace = idx.any(axis=0)
        sf = self.obs["size_factors"].to_numpy(dtype=float)
        replaceable = n_or_more_in_cell(X, self.min_replicates)
        self.obs["replaceable"] = replaceable
        self.var["replaced"] = replace
        if not replace.any():
            return
        counts = np.asarray(self.X)
        new_counts = counts.copy()
        genes = np.flatnonzero(replace)
        normed = counts[:, genes] / sf[:, None]
        srt = np.sort(normed, axis=0)
        lo = int(np.floor(m * 0.2))
        trim_mean = srt[lo : m - lo].mean(axis=0)
        replacement = (trim_mean[None, :] * sf[:, None]).astype(np.int64)
        swap = idx[:, genes] & replaceable[:, None]
        block = new_counts[:, genes]
        block[swap] = replacement[swap]
        new_counts[:, genes] = block
        base_mean = (new_counts / sf[:, None]).mean(axis=0)
        all_zero = (new_counts == 0).all(axis=0)
        new_zero = replace & all_zero
        self.new_all_zeroes_genes = self.var_names[new_zero]
        means = self.var["_normed_means"].to_numpy().copy()
        means[replace] = base_mean[replace]
        self.var["_normed_means"] = means
        if new_zero.any():
            self.varm["LFC"].loc[self.new_all_zeroes_genes, :] = 0.0
        refit = replace & ~all_zero
        self.var["refitted"] = refit
        self.layers["replace_counts"] = new_counts
        if not refit.any():
            return
        rg = np.flatnonzero(refit)
        Y = new_counts[:, rg].astype(float).T
        gw = genewise_dispersions(Y, sf, X, minmu=self.min_mu)
        fit_disp_vals = self.disp_function(base_mean[rg])
        fit_disp_vals = np.broadcast_to(np.asarray(fit_disp_vals, float), (rg.size,)).copy()
        mp = map_dispersions(
            Y,
            gw["mu"],
            X,
            gw["disp"],
            fit_disp_vals,
            float(self.uns["prior_disp_var"]),
            float(self.uns["_squared_logres"]),
        )
        fit = fit_nbinom_glms(Y, sf, X, mp["final"], tol=self.beta_tol, minmu=self.min_mu)
        for col, vals in (
            ("genewise_dispersions", gw["disp"]),
            ("fitted_dispersions", fit_disp_vals),
            ("MAP_dispersions", mp["map"]),
            ("dispersions", mp["final"]),
        ):
            arr = self.var[col].to_numpy(dtype=float).copy()
            arr[rg] = vals
            self.var[col] = arr
        for col, vals in (
            ("_outlier_genes", mp["outlier"]),
            ("_genewise_iter", gw["iter"]),
            ("_MAP_iter", mp["iter"]),
            ("_LFC_iter", fit["iters"]),
            ("_LFC_converged", fit["conv"]),
        ):
            arr = self.var[col].array.copy()
            arr[rg] = vals
            self.var[col] = arr
        lfc = self.varm["LFC"].to_numpy().copy()
        lfc[rg] = fit["beta"]
        self.varm["LFC"] = pd.DataFrame(lfc, index=self.var_names, columns=self.varm["LFC"].columns)
        # After a refit R records max Cook's without the replaceable samples, for every
        # gene, and not at all when every sample is replaceable.
        replace_cooks = cooks.copy()
        replace_cooks[replaceable, :] = 0.0
        replace_cooks[:, ~self.var["non_zero"].to_numpy()] = np.nan
        self.layers["replace_cooks"] = replace_cooks
        if replaceable.all():
            self.var["_max_cooks"] = np.nan
        else:
            self._record_max_cooks(replace_cooks)

    def cooks_outlier(self):
        """Genes whose p-value R's ``results()`` drops for a Cook's outlier."""
        X = self._design()
        m, p = X.shape
        cutoff = f_dist.ppf(0.99, p, m - p)
        mx = self.var["_max_cooks"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            outlier = mx > cutoff
        if outlier.any() and self._single_two_level_factor():
            # R spares a gene when three or more counts exceed the outlier count.
            cooks = self.layers["cooks"]
            for g in np.flatnonzero(outlier):
                col = cooks[:, g]
                j = int(np.nanargmax(col))
                counts = np.asarray(self.X[:, g])
                if np.sum(counts > counts[j]) >= 3:
                    outlier[g] = False
        self.var["_pvalue_cooks_outlier"] = outlier
        return self.var["_pvalue_cooks_outlier"]

    def _single_two_level_factor(self) -> bool:
        if not isinstance(self.design, str):
            return False
        variables = list(self.formulaic_contrasts.variables)
        if len(variables) != 1:
            return False
        col = self.obs[variables[0]]
        return isinstance(col.dtype, pd.CategoricalDtype) and len(col.cat.categories) == 2


def _expand(values: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[idx] = values
    return out
