"""R's numerical routines that DESeq2's results depend on.

DESeq2's constants, ``stats::lowess``, R quantiles and the dispersion trend fits.
"""

from __future__ import annotations

import numpy as np

#: DESeq2's lower bound on dispersions (``minDisp``).
MIN_DISP = 1e-8


#: Ridge penalty on the log2 coefficients of the unpenalised fit (DESeq2's
#: ``betaPriorVar = 1e6``), converted to the natural-log scale the IRLS works on.
RIDGE_NAT = 1e-6 / np.log(2) ** 2


#: DESeq2 gives up IRLS when a natural-log coefficient exceeds this (``large``).
LARGE_BETA = 30.0


LOG2E = 1.0 / np.log(2)


def n_or_more_in_cell(X: np.ndarray, n: int) -> np.ndarray:
    """Samples whose row of the model matrix occurs at least ``n`` times (nOrMoreInCell)."""
    _, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()] >= n


def r_lowess(x, y, f: float = 2 / 3, iters: int = 3, delta: float | None = None) -> np.ndarray:
    """Port of R's ``stats::lowess`` (clowess), fitted values in the order of sorted x.

    pydeseq2 ships a different lowess; independent filtering picks its threshold from
    this curve, so the exact algorithm matters. Checked against R to 1e-12.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(x, kind="stable")
    x = x[order]
    y = y[order]
    n = len(x)
    if n < 2:
        return y.copy()
    if delta is None:
        delta = 0.01 * (x[-1] - x[0])
    ns = max(2, min(n, int(f * n + 1e-7)))
    ys = np.zeros(n)
    rw = np.zeros(n)
    span = x[-1] - x[0]

    def lowest(xs: float, nleft: int, nright: int, userw: bool) -> float | None:
        h = max(xs - x[nleft], x[nright] - xs)
        h9, h1 = 0.999 * h, 0.001 * h
        w = np.zeros(n)
        a = 0.0
        j = nleft
        while j < n:
            r = abs(x[j] - xs)
            if r <= h9:
                w[j] = 1.0 if r <= h1 else (1.0 - (r / h) ** 3) ** 3
                if userw:
                    w[j] *= rw[j]
                a += w[j]
            elif x[j] > xs:
                break
            j += 1
        nrt = j - 1
        if a <= 0.0:
            return None
        sl = slice(nleft, nrt + 1)
        w[sl] /= a
        if h > 0.0:
            a = 0.0
            for k in range(nleft, nrt + 1):
                a += w[k] * x[k]
            b = xs - a
            c = 0.0
            for k in range(nleft, nrt + 1):
                c += w[k] * (x[k] - a) * (x[k] - a)
            if np.sqrt(c) > 0.001 * span:
                b /= c
                for k in range(nleft, nrt + 1):
                    w[k] *= b * (x[k] - a) + 1.0
        out = 0.0
        for k in range(nleft, nrt + 1):
            out += w[k] * y[k]
        return out

    it = 1
    while it <= iters + 1:
        nleft, nright, last, i = 0, ns - 1, -1, 0
        while True:
            if nright < n - 1 and x[i] - x[nleft] > x[nright + 1] - x[i]:
                nleft += 1
                nright += 1
                continue
            fitted = lowest(x[i], nleft, nright, it > 1)
            ys[i] = y[i] if fitted is None else fitted
            if last < i - 1:
                denom = x[i] - x[last]
                for j in range(last + 1, i):
                    frac = (x[j] - x[last]) / denom
                    ys[j] = frac * ys[i] + (1.0 - frac) * ys[last]
            last = i
            cut = x[last] + delta
            i = last + 1
            while i < n:
                if x[i] > cut:
                    break
                if x[i] == x[last]:
                    ys[i] = ys[last]
                    last = i
                i += 1
            i = max(last + 1, i - 1)
            if last >= n - 1:
                break
        res = y - ys
        scale = np.sum(np.abs(res)) / n
        if it > iters:
            break
        srt = np.sort(np.abs(res))
        m1 = n // 2
        cmad = 3.0 * (srt[m1] + srt[n - m1 - 1]) if n % 2 == 0 else 6.0 * srt[m1]
        if cmad < 1e-7 * scale:
            break
        r = np.abs(res)
        with np.errstate(divide="ignore", invalid="ignore"):
            rw = np.where(
                r <= 0.001 * cmad,
                1.0,
                np.where(r <= 0.999 * cmad, (1 - (r / cmad) ** 2) ** 2, 0.0),
            )
        it += 1
    return ys


def _r_quantile(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    # R's default quantile type 7 is numpy's "linear".
    return np.quantile(x, probs)


def _gamma_identity_glm(x: np.ndarray, y: np.ndarray, start: np.ndarray):
    """``glm(y ~ x, family = Gamma(link = "identity"), start = start)`` (glm.fit's IRLS)."""
    Xd = np.column_stack([np.ones_like(x), x])

    def deviance(mu):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(-2.0 * (np.log(np.where(y == 0, 1.0, y / mu)) - (y - mu) / mu))

    def valid(mu):
        return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))

    coef = start.astype(float).copy()
    coefold = coef.copy()
    mu = Xd @ coef
    if not valid(mu):
        raise FloatingPointError("cannot find valid starting values")
    devold = deviance(mu)
    for _ in range(25):
        w = 1.0 / mu
        coef = np.linalg.lstsq(Xd * w[:, None], y * w, rcond=None)[0]
        mu = Xd @ coef
        dev = deviance(mu)
        halvings = 0
        while not (np.isfinite(dev) and valid(mu)):
            halvings += 1
            if halvings > 25:
                raise FloatingPointError("inner loop; cannot correct step size")
            coef = (coef + coefold) / 2.0
            mu = Xd @ coef
            dev = deviance(mu)
        if abs(dev - devold) / (abs(dev) + 0.1) < 1e-8:
            return coef, True
        devold = dev
        coefold = coef.copy()
    return coef, False


def parametric_trend(means: np.ndarray, disps: np.ndarray) -> np.ndarray:
    """R's ``parametricDispersionFit``: coefficients (asymptDisp, extraPois).

    Raises
    ------
    FloatingPointError
        When R's fit would fail (non-positive coefficients or no convergence).
    """
    coefs = np.array([0.1, 1.0])
    it = 0
    while True:
        residuals = disps / (coefs[0] + coefs[1] / means)
        good = (residuals > 1e-4) & (residuals < 15)
        old = coefs
        coefs, converged = _gamma_identity_glm(1.0 / means[good], disps[good], coefs)
        if not np.all(coefs > 0):
            raise FloatingPointError("parametric dispersion fit failed")
        if np.sum(np.log(coefs / old) ** 2) < 1e-6 and converged:
            return coefs
        it += 1
        if it > 10:
            raise FloatingPointError("dispersion fit did not converge")


def _loess_direct(x, y, x_new, span=0.2):
    # Local quadratic regression with tricube weights (loess, degree 2, direct).
    n = len(x)
    q = int(np.floor(n * span))
    out = np.empty(len(x_new))
    for i, x0 in enumerate(x_new):
        d = np.abs(x - x0)
        h = np.sort(d)[q - 1]
        w = np.clip(1 - (d / h) ** 3, 0, None) ** 3
        B = np.column_stack([np.ones(n), x - x0, (x - x0) ** 2])
        sw = np.sqrt(w)
        coef = np.linalg.lstsq(B * sw[:, None], y * sw, rcond=None)[0]
        out[i] = coef[0]
    return out
