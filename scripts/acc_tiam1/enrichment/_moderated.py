"""limma's moderated t statistic, as ``limma::camera`` computes it (limma 3.54).

Per gene, an ordinary least-squares fit of the log-expression on the design gives the
contrast's *unscaled* t (the estimate divided by ``sqrt(c' (X'X)^-1 c)``, i.e. the t
statistic times the residual SD) and the residual variance ``s2`` on ``d = n - p``
degrees of freedom. Empirical Bayes (Smyth 2004, Stat Appl Genet Mol Biol 3:3) fits a
scaled F distribution to the ``s2`` of all genes (``fitFDist``: moments of ``log s2``,
solved with ``trigammaInverse``) and shrinks each variance towards the prior:
``s2_post = (d s2 + d0 s0^2) / (d + d0)`` (``squeezeVar``, non-robust, no trend). The
moderated t is ``unscaled_t / sqrt(s2_post)`` on ``min(d + d0, G d)`` degrees of
freedom, and camera tests it as a z-score by Hill's (1970, Commun ACM 13:617)
approximation of the t -> normal quantile transform (``zscoreT(approx = TRUE,
method = "hill")``).

Why this statistic for CAMERA: each gene's own residual variance (moderated, not
replaced by a trend) is in its denominator, so a per-sample effect that a set's genes
share widens their statistics' null spread only through the inter-gene correlation,
which CAMERA's variance inflation factor accounts for.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from scipy.special import digamma, polygamma

from ..errors import InputError


def trigamma_inverse(x) -> np.ndarray:
    """Inverse of the trigamma function, limma's ``trigammaInverse``.

    Newton's method on ``1 / trigamma(y)`` from ``y = 0.5 + 1 / x`` (limma's start and
    stopping rule: relative step below 1e-8, at most 50 steps); ``1 / sqrt(x)`` above
    1e7 and ``1 / x`` below 1e-6, as limma does.

    Parameters
    ----------
    x
        Array-like of values > 0 (negative values give NaN, as in limma).

    Returns
    -------
    numpy.ndarray
        ``y`` with ``trigamma(y) = x``, same shape.
    """
    x = np.asarray(x, dtype=float)
    y = np.full(x.shape, np.nan)
    big, small = x > 1e7, (x >= 0) & (x < 1e-6)
    y[big] = 1.0 / np.sqrt(x[big])
    y[small] = 1.0 / x[small]
    todo = (x >= 1e-6) & (x <= 1e7)
    if (x < 0).any():
        warnings.warn("trigamma_inverse: NaNs produced for negative values", stacklevel=2)
    if not todo.any():
        return y
    xt = x[todo]
    yt = 0.5 + 1.0 / xt
    for _ in range(51):
        tri = polygamma(1, yt)
        dif = tri * (1.0 - tri / xt) / polygamma(2, yt)
        yt = yt + dif
        if np.max(-dif / yt) < 1e-8:
            break
    else:
        warnings.warn("trigamma_inverse: iteration limit exceeded", stacklevel=2)
    y[todo] = yt
    return y


def fit_f_dist(x, df1: float) -> tuple[float, float]:
    """Scale and denominator degrees of freedom of a scaled F fitted to variances.

    limma's ``fitFDist`` without covariate: ``x ~ s0^2 F(df1, df2)`` by the method of
    moments on ``log x``. Values that are not finite or negative are left out; values
    are floored at ``1e-5`` times their median.

    Parameters
    ----------
    x
        Sample variances.
    df1
        Their degrees of freedom (one number).

    Returns
    -------
    scale, df2
        ``s0^2`` and ``df2`` (``inf`` when the variances vary no more than chance allows;
        then ``scale`` is their mean).
    """
    x = np.asarray(x, dtype=float).ravel()
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1:
        return float(x[0]), 0.0
    if not (np.isfinite(df1) and df1 > 1e-15):
        return float("nan"), float("nan")
    x = x[np.isfinite(x) & (x > -1e-15)]
    if x.size == 1:
        return float(x[0]), 0.0
    x = np.maximum(x, 0.0)
    m = float(np.median(x))
    if m == 0:
        warnings.warn("More than half of residual variances are exactly zero", stacklevel=2)
        m = 1.0
    elif (x == 0).any():
        warnings.warn("Zero sample variances detected, offset away from zero", stacklevel=2)
    x = np.maximum(x, 1e-5 * m)
    e = np.log(x) - digamma(df1 / 2) + np.log(df1 / 2)
    emean = float(np.mean(e))
    evar = float(np.sum((e - emean) ** 2) / (x.size - 1)) - float(polygamma(1, df1 / 2))
    if evar > 0:
        df2 = 2.0 * float(trigamma_inverse(evar))
        return float(np.exp(emean + digamma(df2 / 2) - np.log(df2 / 2))), df2
    return float(np.mean(x)), float("inf")


def squeeze_var(var, df: float) -> dict[str, np.ndarray | float]:
    """Empirical Bayes moderation of gene-wise variances, limma's ``squeezeVar``.

    Non-robust and without a mean-variance trend, as camera calls it.

    Parameters
    ----------
    var
        Residual variances of the genes.
    df
        Their residual degrees of freedom (one number).

    Returns
    -------
    dict
        ``df_prior`` (``d0``), ``var_prior`` (``s0^2``) and ``var_post``
        (``(df var + d0 s0^2) / (df + d0)``; ``s0^2`` for every gene when ``d0`` is
        infinite).
    """
    var = np.asarray(var, dtype=float)
    if var.size == 0:
        raise InputError("squeeze_var needs at least one variance.")
    if var.size == 1:
        return {"df_prior": 0.0, "var_prior": float(var[0]), "var_post": var.copy()}
    scale, df_prior = fit_f_dist(var, df)
    if np.isnan(df_prior):
        raise InputError("could not estimate the prior degrees of freedom of the variances.")
    if np.isinf(df_prior):
        post = np.full(var.shape, scale)
    else:
        post = (df * var + df_prior * scale) / (df + df_prior)
    return {"df_prior": df_prior, "var_prior": scale, "var_post": post}


def zscore_t_hill(t, df) -> np.ndarray:
    """z-score equivalent of t statistics, Hill's approximation (limma's ``.zscoreTHill``).

    Parameters
    ----------
    t
        t statistics.
    df
        Degrees of freedom (capped at 1e100, as ``zscoreT`` does).

    Returns
    -------
    numpy.ndarray
        Approximately ``qnorm(pt(t, df))``, same shape as ``t``.
    """
    x = np.asarray(t, dtype=float)
    df = np.minimum(np.asarray(df, dtype=float), 1e100)
    a = df - 0.5
    b = 48.0 * a * a
    z = a * np.log1p(x / df * x)
    z = (
        ((((-0.4 * z - 3.3) * z - 24.0) * z - 85.5) / (0.8 * z * z + 100.0 + b) + z + 3.0) / b + 1.0
    ) * np.sqrt(z)
    return z * np.sign(x)


def contrast_fit(
    y: np.ndarray, design: np.ndarray, contrast: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unscaled t of a contrast and residual effects, per gene, by QR.

    Parameters
    ----------
    y
        Genes x samples.
    design
        Samples x coefficients, full column rank.
    contrast
        Coefficient weights ``c`` (a unit vector for one coefficient).

    Returns
    -------
    unscaled_t, residual_effects
        ``c' beta_g / sqrt(c' (X'X)^-1 c)`` per gene (limma's ``unscaledt``: the t
        statistic times the residual SD), and ``Q2' y_g`` (genes x (n - p)), ``Q2`` an
        orthonormal basis of the residual space.
    """
    p = design.shape[1]
    q, r = np.linalg.qr(design, mode="complete")
    effects = y @ q
    r = r[:p]
    coef = linalg.solve_triangular(r, effects[:, :p].T).T
    # c' (X'X)^-1 c = |R^-T c|^2
    scale = np.linalg.norm(linalg.solve_triangular(r, contrast, trans="T"))
    return coef @ contrast / scale, effects[:, p:]


def moderated_t(y: np.ndarray, design: np.ndarray, contrast: np.ndarray) -> dict:
    """The moderated t of a contrast (limma) and its z-score, as camera computes them.

    Parameters
    ----------
    y
        Log-expression, genes x samples, finite.
    design
        Samples x coefficients, full column rank, fewer coefficients than samples.
    contrast
        Coefficient weights.

    Returns
    -------
    dict
        ``z`` (Hill z-score, camera's statistic), ``t`` (moderated t), ``df_total``,
        ``df_residual``, ``df_prior``, ``var_prior``, ``sigma2`` (residual variances),
        ``residual_effects`` (see :func:`contrast_fit`).
    """
    y = np.asarray(y, dtype=float)
    n, p = design.shape
    unscaled, resid = contrast_fit(y, design, np.asarray(contrast, dtype=float))
    df_residual = n - p
    sigma2 = np.mean(resid**2, axis=1)
    sv = squeeze_var(sigma2, df_residual)
    t = unscaled / np.sqrt(sv["var_post"])
    df_total = min(df_residual + sv["df_prior"], y.shape[0] * df_residual)
    return {
        "z": zscore_t_hill(t, df_total),
        "t": t,
        "df_total": float(df_total),
        "df_residual": df_residual,
        "df_prior": sv["df_prior"],
        "var_prior": sv["var_prior"],
        "sigma2": sigma2,
        "residual_effects": resid,
    }
