"""Equivalence of gene-set scores to sham, and rescue classes that use equivalence.

"Pain + ketamine is back at sham level" is a claim of equivalence, which a
non-significant difference does not show (a small study never finds a difference).
It is tested with two one-sided tests (TOST; Schuirmann 1987, J Pharmacokinet Biopharm
15:657) on the pain_ketamine vs sham comparison of the same fit: the null hypothesis
is ``|effect| >= margin``; equivalence is shown when both one-sided nulls
``effect <= -margin`` and ``effect >= margin`` are rejected, i.e. when the larger of the
two one-sided p-values is small. For genes, DESeq2's ``lessAbs`` test does this
(:func:`acc_tiam1.de.gene_equivalence`).

Gene-set scores (:func:`set_scores`, :func:`score_equivalence`)
    Per sample, the mean of the set's genes' standardised log-expression; an ordinary
    least-squares fit of the DE design; the contrast estimate ``d`` with standard error
    ``se = s * sqrt(c' (X'X)^-1 c)`` on ``n - p`` degrees of freedom. With the margin in
    units of the score's residual SD ``sigma`` (``scale="sd"``), the hypotheses are
    ``|d / sigma| >= margin``, and ``T = d / se`` has a noncentral t distribution with
    noncentrality ``d / (sigma * sqrt(c' (X'X)^-1 c))``; the TOST p-values are
    ``P(T >= t | ncp = -lambda)`` and ``P(T <= t | ncp = +lambda)`` with
    ``lambda = margin / sqrt(c' (X'X)^-1 c)``, exact because the noncentral t is
    stochastically increasing in its noncentrality. With ``scale="raw"`` the margin
    is on the score's own scale and the two tests are the usual central t tests.

Classes (:func:`classify_rescue`), for genes or sets of one dataset: see its docstring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..stats import bh_adjust

#: Rescue classes, in reporting order.
RESCUE_CLASSES = [
    "fully_rescued",
    "partially_rescued",
    "not_rescued",
    "aggravated",
    "inconclusive",
    "ketamine_only",
    "unchanged",
    "not_tested",
]


def set_scores(
    expression: pd.DataFrame, sets: Mapping[str, Sequence[str]], min_size: int = 2
) -> pd.DataFrame:
    """Per-sample score of each gene set: mean of its genes' standardised expression.

    Parameters
    ----------
    expression
        Log-scale expression, genes x samples (e.g.
        :func:`acc_tiam1.enrichment.log_expression`).
    sets
        ``{term: genes}``; genes without expression or constant across samples are
        left out.
    min_size
        Sets with fewer usable genes get no score (not in the result).

    Returns
    -------
    pandas.DataFrame
        Sets x samples. Each gene is centred and scaled to SD 1 over all samples
        before averaging, so that no gene dominates by its expression range.
    """
    y = expression.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise InputError("the expression matrix has missing or infinite values.")
    sd = y.std(axis=1, ddof=1)
    usable = sd > 0
    z = (y - y.mean(axis=1, keepdims=True)) / np.where(usable, sd, 1.0)[:, None]
    index = pd.Index(expression.index)
    rows = {}
    for term, genes in sets.items():
        if isinstance(genes, str):
            raise InputError(f"gene set '{term}' is a string, not a list of genes.")
        idx = np.flatnonzero(index.isin(list(genes)) & usable)
        if idx.size >= min_size:
            rows[term] = z[idx].mean(axis=0)
    return pd.DataFrame.from_dict(rows, orient="index", columns=expression.columns)


def ols_contrast(y: np.ndarray, design: np.ndarray, contrast: np.ndarray) -> dict[str, np.ndarray]:
    """Least-squares estimate of ``contrast' beta`` for each row of ``y``.

    Parameters
    ----------
    y
        Responses, rows x samples (one row per score).
    design
        Samples x coefficients, full column rank.
    contrast
        Weights of the coefficients.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``sigma`` (residual SD), ``df`` (n - p) and ``v``
        (``c' (X'X)^-1 c``, the variance factor).
    """
    x = np.asarray(design, dtype=float)
    c = np.asarray(contrast, dtype=float)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    n, p = x.shape
    if c.shape != (p,):
        raise InputError(f"the contrast has {c.size} weights for {p} coefficients.")
    if n - p < 1 or np.linalg.matrix_rank(x) < p:
        raise InputError("the design needs full column rank and residual degrees of freedom.")
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = y @ x @ xtx_inv
    resid = y - beta @ x.T
    df = n - p
    sigma = np.sqrt((resid**2).sum(axis=1) / df)
    v = float(c @ xtx_inv @ c)
    return {"estimate": beta @ c, "se": sigma * np.sqrt(v), "sigma": sigma, "df": df, "v": v}


def tost(
    estimate, se, df: float, margin: float, v: float | None = None, scale: str = "sd"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two one-sided t tests of ``|effect| >= margin``.

    Parameters
    ----------
    estimate, se, df
        Estimate, its standard error and residual degrees of freedom.
    margin
        Equivalence margin (> 0), in residual SDs (``scale="sd"``) or in the
        estimate's units (``"raw"``).
    v
        ``c' (X'X)^-1 c`` (``se / sigma``), needed for ``scale="sd"``.
    scale
        ``"sd"`` (noncentral t, exact for a standardised margin) or ``"raw"``.

    Returns
    -------
    p_lower, p_upper, p
        p-values of the nulls ``effect <= -margin`` and ``effect >= margin``, and their
        maximum (the TOST p-value).
    """
    if not margin > 0:
        raise InputError(f"the equivalence margin must be positive; got {margin}.")
    est, se = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    if scale == "raw":
        p_lower = stats.t.sf((est + margin) / se, df)
        p_upper = stats.t.cdf((est - margin) / se, df)
    elif scale == "sd":
        if v is None or not v > 0:
            raise InputError("scale='sd' needs the contrast's variance factor v > 0.")
        t, ncp = est / se, margin / np.sqrt(v)
        p_lower = stats.nct.sf(t, df, -ncp)
        p_upper = stats.nct.cdf(t, df, ncp)
    else:
        raise InputError(f"scale must be 'sd' or 'raw'; got {scale!r}.")
    return p_lower, p_upper, np.maximum(p_lower, p_upper)


def score_equivalence(
    scores: pd.DataFrame,
    design: np.ndarray | pd.DataFrame,
    contrast: np.ndarray,
    margin: float,
    scale: str = "sd",
) -> pd.DataFrame:
    """TOST of each set score for one contrast of the DE design.

    Parameters
    ----------
    scores
        Sets x samples (:func:`set_scores`).
    design
        Samples x coefficients in the order of ``scores``' columns (a DataFrame indexed
        by sample is reordered to them).
    contrast
        Coefficient weights, e.g. 1 at ``condition[T.pain_ketamine]`` for pain_ketamine
        vs sham when sham is the reference level.
    margin, scale
        See :func:`tost`; by default the margin is in residual SDs of the score.

    Returns
    -------
    pandas.DataFrame
        One row per set: ``term, estimate, se, df, sigma, effect_size`` (estimate /
        sigma), ``margin, scale, p_lower, p_upper, pvalue`` (TOST) and ``padj`` (BH
        over the sets).
    """
    if isinstance(design, pd.DataFrame):
        if set(design.index) != set(scores.columns):
            raise InputError("the design's rows are not the samples of the scores.")
        design = design.loc[scores.columns]
    fit = ols_contrast(scores.to_numpy(dtype=float), np.asarray(design, float), contrast)
    p_lower, p_upper, p = tost(fit["estimate"], fit["se"], fit["df"], margin, fit["v"], scale)
    return pd.DataFrame(
        {
            "term": scores.index,
            "estimate": fit["estimate"],
            "se": fit["se"],
            "df": fit["df"],
            "sigma": fit["sigma"],
            "effect_size": fit["estimate"] / fit["sigma"],
            "margin": margin,
            "scale": scale,
            "p_lower": p_lower,
            "p_upper": p_upper,
            "pvalue": p,
            "padj": bh_adjust(p),
        }
    )


def classify_rescue(
    pain_p,
    pain_effect,
    reversal_p,
    reversal_effect,
    equivalence_p,
    alpha: float = 0.05,
    reversal_alpha: float | None = None,
    equivalence_alpha: float | None = None,
) -> np.ndarray:
    """Rescue class of each gene or set from three tests of the same fit.

    A pain effect is significant when ``pain_p < alpha``; the reversal (pain_ketamine
    vs pain) is significant when ``reversal_p < reversal_alpha`` and points against the
    pain effect; equivalence to sham is shown when ``equivalence_p <
    equivalence_alpha``. The p-values are adjusted ones (``padj``, or an across-dataset
    value for sets). NaN never counts as significant.

    - ``fully_rescued``: pain effect, reversal, and equivalence to sham shown;
    - ``partially_rescued``: pain effect and reversal, equivalence not shown;
    - ``not_rescued``: pain effect, no significant reversal, no equivalence;
    - ``aggravated``: pain effect, significant ketamine effect in the same direction;
    - ``inconclusive``: pain effect and equivalence to sham, but no significant
      reversal (typically a pain effect near the margin; neither claim is safe);
    - ``ketamine_only``: no pain effect, significant ketamine effect in pain;
    - ``unchanged``: neither; ``not_tested``: no pain p-value.

    The margin must be well below the pain effects it is applied to: with a margin near
    the size of the pain effect, half a reversal is already "at sham level".

    Parameters
    ----------
    pain_p, pain_effect
        Adjusted p-value and estimate (log2FC or score difference) of pain vs sham.
    reversal_p, reversal_effect
        The same for pain_ketamine vs pain.
    equivalence_p
        Adjusted TOST p-value of pain_ketamine vs sham.
    alpha, reversal_alpha, equivalence_alpha
        Thresholds; the last two default to ``alpha``.

    Returns
    -------
    numpy.ndarray
        One class (str) per input row.
    """
    rev_alpha = alpha if reversal_alpha is None else reversal_alpha
    eq_alpha = alpha if equivalence_alpha is None else equivalence_alpha
    arrays = [
        np.asarray(a, dtype=float)
        for a in (pain_p, pain_effect, reversal_p, reversal_effect, equivalence_p)
    ]
    if len({a.shape for a in arrays}) != 1:
        raise InputError("the rescue inputs must have the same length.")
    pp, pe, rp, re, ep = arrays
    with np.errstate(invalid="ignore"):
        pain = pp < alpha
        ket = rp < rev_alpha
        against = np.sign(re) == -np.sign(pe)
        equivalent = ep < eq_alpha
    out = np.full(pp.shape, "unchanged", dtype=object)
    out[~pain & ket] = "ketamine_only"
    out[pain] = "not_rescued"
    out[pain & ~ket & equivalent] = "inconclusive"
    out[pain & ket & ~against] = "aggravated"
    out[pain & ket & against] = "partially_rescued"
    out[pain & ket & against & equivalent] = "fully_rescued"
    out[np.isnan(pp)] = "not_tested"
    return out
