"""The adapter onto pydeseq2's ``Inference`` interface, and BLAS thread control."""

from __future__ import annotations

import contextlib
import functools
import io
import warnings

import numpy as np
from pydeseq2.default_inference import DefaultInference

from ._dispersion import fit_disp, linear_model_mu
from ._glm import _batched_inv, _wald_stat, _xtwx, fit_nbinom_glms, shrink_nbinom_glm
from ._rnumerics import _gamma_identity_glm


def _one_blas_thread(method):
    """Decorator: run ``method`` under :func:`single_thread_blas`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with single_thread_blas():
            return method(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def single_thread_blas():
    """Run BLAS on one thread inside the block.

    The matrix products here are many and small; a second BLAS thread on a shared
    two-core machine made the fit three times slower, and L-BFGS-B's tiny BLAS calls
    forty times slower.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


class VectorizedInference(DefaultInference):
    """pydeseq2 inference routines, vectorised over genes and following R's recipe.

    Used by :class:`RDeseqDataSet` and :class:`RDeseqStats`; when pydeseq2's own code
    calls these methods (e.g. its VST helpers) they keep pydeseq2's meaning. No worker
    processes are started: array operations on one core beat a process pool here.
    """

    def __init__(self):
        super().__init__(n_cpus=1)

    @_one_blas_thread
    def lin_reg_mu(self, counts, size_factors, design_matrix, min_mu):
        """Means from the least-squares fit of normalised counts (R's linearModelMu)."""
        mu = linear_model_mu((counts / size_factors[:, None]).T, design_matrix) * size_factors
        return np.maximum(mu, min_mu).T

    @_one_blas_thread
    def irls(
        self,
        counts,
        size_factors,
        design_matrix,
        disp,
        min_mu,
        beta_tol,
        min_beta=-30,
        max_beta=30,
        optimizer="L-BFGS-B",
        maxiter=250,
    ):
        """Coefficients by R's IRLS and optim fallback (:func:`fit_nbinom_glms`)."""
        fit = fit_nbinom_glms(
            counts.T.astype(float),
            size_factors,
            np.asarray(design_matrix, float),
            np.asarray(disp, float),
            tol=beta_tol,
            maxit=100,
            minmu=min_mu,
        )
        return fit["beta"], fit["mu"].T, fit["hat"].T, fit["conv"]

    @_one_blas_thread
    def alpha_mle(
        self,
        counts,
        design_matrix,
        mu,
        alpha_hat,
        min_disp,
        max_disp,
        prior_disp_var=None,
        cr_reg=True,
        prior_reg=False,
        optimizer="L-BFGS-B",
    ):
        """Dispersions by R's line search (:func:`fit_disp`), prior mean = start."""
        Y = counts.T.astype(float)
        X = np.asarray(design_matrix, float)
        log_a = np.log(np.asarray(alpha_hat, float))
        res = fit_disp(
            Y, mu.T, X, log_a, log_a, prior_disp_var if prior_reg else 1.0, bool(prior_reg)
        )
        disp = np.clip(np.exp(res["log_alpha"]), min_disp, max_disp)
        return disp, res["iter"] < 100

    @_one_blas_thread
    def wald_test(
        self,
        design_matrix,
        disp,
        lfc,
        mu,
        ridge_factor,
        contrast,
        lfc_null,
        alt_hypothesis=None,
    ):
        """Wald test for every gene at once, with pydeseq2's arguments."""
        X = np.asarray(design_matrix, float)
        w = (mu / (1.0 + mu * disp[None, :])).T
        M = _xtwx(X, w)
        Ainv = _batched_inv(M + ridge_factor)
        hc = Ainv @ contrast
        se = np.sqrt(np.einsum("gp,gpq,gq->g", hc, M, hc))
        stat, pval = _wald_stat(np.asarray(lfc) @ contrast, se, lfc_null, alt_hypothesis)
        return pval, stat, se

    @_one_blas_thread
    def dispersion_trend_gamma_glm(self, covariates, targets):
        """One gamma-family GLM fit of the trend, as R's glm()."""
        x = np.asarray(covariates, float)
        y = np.asarray(targets, float)
        try:
            coefs, ok = _gamma_identity_glm(x, y, np.array([0.1, 1.0]))
        except FloatingPointError:
            return np.array([np.nan, np.nan]), np.array([np.nan] * len(y)), False
        return coefs, coefs[0] + coefs[1] * x, ok

    @_one_blas_thread
    def lfc_shrink_nbinom_glm(
        self,
        design_matrix,
        counts,
        size,
        offset,
        prior_no_shrink_scale,
        prior_scale,
        optimizer,
        shrink_index,
    ):
        """apeGLM-style MAP coefficients (:func:`shrink_nbinom_glm`)."""
        return shrink_nbinom_glm(
            np.asarray(design_matrix, float),
            counts.T.astype(float),
            np.asarray(size, float),
            np.asarray(offset, float),
            prior_no_shrink_scale,
            prior_scale,
            shrink_index,
        )


@contextlib.contextmanager
def quiet_pydeseq2():
    """pydeseq2 prints progress to stdout; keep it out of our logs' result sections."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        yield sink
