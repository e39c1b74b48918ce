"""DESeq2's estimation steps as R's DESeq2 runs them, vectorised over genes.

pydeseq2 0.5.4 follows DESeq2's model but not always its numerical recipe, and the
recipe decides which genes are called on real data. The differences that change
results, and what this module does instead (R behaviour, DESeq2 1.38):

- Gene-wise and MAP dispersions. pydeseq2 maximises the Cox-Reid adjusted likelihood
  with L-BFGS-B; R runs its own Armijo line search on log(alpha) (``fitDisp``: step
  ``kappa`` from 1, tolerance 1e-6 on the log posterior, at most 100 steps), keeps the
  starting value when the search does not raise the likelihood ("noIncrease"), and
  re-fits genes whose search did not converge on a grid (``fitDispGrid``). On flat
  likelihoods the line search stops measurably short of the maximum (by ~10% on high-
  count genes), which moves genes across the dispersion-outlier line
  (``estimateDispersionsMAP``: gene-wise > trend * exp(2 * residual SD)).
- Dispersion trend. R fits ``glm(disp ~ I(1/mean), Gamma(identity))`` to genes with
  gene-wise dispersion > 100 * minDisp only; pydeseq2 uses all genes and its own loss.
- Coefficients. R's IRLS (``fitBeta``) stops on the relative deviance change (from the
  second step), gives up when a coefficient leaves [-30, 30] (natural log), and then
  maximises the penalised likelihood with ``optim(L-BFGS-B)`` on the log2 scale with
  unclamped means and bounds [-30, 30]. pydeseq2 clamps the means at 0.5 inside its
  fallback optimiser, which makes the likelihood flat for groups of zeros and leaves
  such genes (e.g. zero in one group) at arbitrary fold changes.
- Wald standard errors. R computes them from means clamped at ``minmu`` = 0.5 (as in
  the IRLS weights) with ridge 1e-6 on the log2 scale; pydeseq2 uses unclamped means,
  which inflates the SE of genes with near-zero groups.
- Cook's distances. After outlier replacement R records the maximum Cook's distance of
  every gene without the replaceable samples (none at all when every sample is
  replaceable), and the "three counts above the outlier" exemption applies only to a
  design with one two-level factor. pydeseq2 does both differently.
- Independent filtering. R smooths the number of rejections with ``stats::lowess``
  (f = 1/5, three robustness steps, ``delta`` = 1% of the range); pydeseq2's lowess
  uses another span and one fewer iteration, which can move the filter threshold.
- Contrasts. Genes with zero counts in both compared groups get LFC 0 and p = 1
  (``contrastAllZero``); genes that become all-zero after outlier replacement too.

Every per-gene loop is replaced by array operations over all genes at once (batched
p x p solves), so one core does in seconds what pydeseq2's process pool does in a
minute. Arithmetic and stopping rules follow R step by step, so results agree with
R's to floating-point noise except where noted in :class:`RDeseqDataSet`.
"""

from __future__ import annotations

import contextlib
import functools
import warnings

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, polygamma
from scipy.stats import f as f_dist
from scipy.stats import norm

#: DESeq2's lower bound on dispersions (``minDisp``).
MIN_DISP = 1e-8
#: Ridge penalty on the log2 coefficients of the unpenalised fit (DESeq2's
#: ``betaPriorVar = 1e6``), converted to the natural-log scale the IRLS works on.
RIDGE_NAT = 1e-6 / np.log(2) ** 2
#: DESeq2 gives up IRLS when a natural-log coefficient exceeds this (``large``).
LARGE_BETA = 30.0
LOG2E = 1.0 / np.log(2)


# --------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------


def _xtwx(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """X' diag(w_g) X for every gene g: (G, m) weights -> (G, p, p).

    One matrix product with the per-sample outer products x_s x_s', which BLAS does
    far faster than a batched einsum.
    """
    m, p = X.shape
    outer = (X[:, :, None] * X[:, None, :]).reshape(m, p * p)
    return (w @ outer).reshape(w.shape[0], p, p)


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


def _nb_logpmf(y: np.ndarray, mu: np.ndarray, size: np.ndarray) -> np.ndarray:
    """log NB(y; mean mu, size), accurate for y = 0 and for mu -> 0 (R's dnbinom_mu)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(size / (size + mu)) as R writes it: log1p when mu is the smaller term.
        log_ratio = np.where(
            size < mu, np.log(size / (size + mu)), np.log1p(-mu / (size + mu))
        )
        out = (
            gammaln(y + size)
            - gammaln(size)
            - gammaln(y + 1.0)
            + size * log_ratio
            + np.where(y > 0, y * np.log(mu / (size + mu)), 0.0)
        )
    return out


def n_or_more_in_cell(X: np.ndarray, n: int) -> np.ndarray:
    """Samples whose row of the model matrix occurs at least ``n`` times (nOrMoreInCell)."""
    _, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()] >= n


def bh_adjust(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (R's ``p.adjust``); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    n = q.size
    if n == 0:
        return out
    order = np.argsort(-q, kind="stable")
    ranked = n / np.arange(n, 0, -1) * q[order]
    adj = np.minimum(1.0, np.minimum.accumulate(ranked))
    res = np.empty(n)
    res[order] = adj
    out[ok] = res
    return out


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
                r <= 0.001 * cmad, 1.0,
                np.where(r <= 0.999 * cmad, (1 - (r / cmad) ** 2) ** 2, 0.0),
            )
        it += 1
    return ys


def _r_quantile(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    # R's default quantile type 7 is numpy's "linear".
    return np.quantile(x, probs)


# --------------------------------------------------------------------------------------
# Coefficients: R's fitBeta (IRLS) and the optim fallback of fitNbinomGLMs
# --------------------------------------------------------------------------------------


def _initial_beta(Y: np.ndarray, sf: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Least-squares fit of log(normalised counts + 0.1), DESeq2's IRLS start."""
    q, r = np.linalg.qr(X)
    z = np.log(Y / sf + 0.1)
    return np.linalg.solve(r, q.T @ z.T).T


def _irls(Y, sf, X, alpha, beta, lam, tol, maxit, minmu):
    """R's ``fitBeta`` for all genes at once (genes x samples counts).

    Returns
    -------
    beta
        Coefficients, natural log; for a gene that diverged, R's last (too large)
        iterate.
    iters
        Iterations; ``maxit`` marks divergence or non-convergence, as in R.
    hat
        Hat-matrix diagonals from the last weights (clamped means), as R's.
    var
        Diagonals of the coefficient covariance (sandwich with the ridge).
    """
    G = Y.shape[0]
    beta = beta.astype(float).copy()
    mu = np.maximum(sf * np.exp(beta @ X.T), minmu)
    iters = np.zeros(G, dtype=int)
    dev_old = np.zeros(G)
    ridge = np.diag(lam)
    size = 1.0 / alpha
    active = np.arange(G)
    for t in range(maxit):
        if active.size == 0:
            break
        ya, mua, aa = Y[active], mu[active], alpha[active]
        iters[active] += 1
        w = mua / (1.0 + aa[:, None] * mua)
        z = np.log(mua / sf) + (ya - mua) / mua
        A = _xtwx(X, w) + ridge
        b = (w * z) @ X
        with np.errstate(invalid="ignore"):
            try:
                bh = np.linalg.solve(A, b[..., None])[..., 0]
            except np.linalg.LinAlgError:
                bh = np.stack([_safe_solve(A[k], b[k]) for k in range(len(active))])
        big = (np.abs(bh) > LARGE_BETA).any(axis=1)
        beta[active] = bh
        iters[active[big]] = maxit
        keep = ~big
        idx = active[keep]
        with np.errstate(over="ignore"):
            mu_new = np.maximum(sf * np.exp(bh[keep] @ X.T), minmu)
        mu[idx] = mu_new
        dev = -2.0 * _nb_logpmf(ya[keep], mu_new, size[idx][:, None]).sum(axis=1)
        with np.errstate(invalid="ignore"):
            conv = np.abs(dev - dev_old[idx]) / (np.abs(dev) + 0.1)
        bad = np.isnan(conv)
        iters[idx[bad]] = maxit
        done = bad | ((t > 0) & (conv < tol))
        dev_old[idx] = dev
        active = idx[~done]
    w = mu / (1.0 + alpha[:, None] * mu)
    A = _xtwx(X, w) + ridge
    Ainv = _batched_inv(A)
    p = X.shape[1]
    outer = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], p * p)
    hat = w * (Ainv.reshape(G, p * p) @ outer.T)
    M = _xtwx(X, w)
    sigma = Ainv @ M @ Ainv
    var = np.einsum("gpp->gp", sigma)
    return beta, iters, hat, var


def _safe_solve(A, b):
    try:
        return np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return np.full(b.shape, np.nan)


def _batched_inv(A: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        out = np.empty_like(A)
        for k in range(A.shape[0]):
            try:
                out[k] = np.linalg.inv(A[k])
            except np.linalg.LinAlgError:
                out[k] = np.nan
        return out


def _optim_row(y, sf, X, alpha, start_log2, lam_log2):
    """``optim(L-BFGS-B)`` of fitNbinomGLMsOptim for one gene, on the log2 scale.

    R gives optim no gradient, so it differentiates numerically (central differences,
    step 1e-3, shortened at the bounds); we do the same so that the path, and where it
    stops on flat likelihoods, is R's.
    """
    size = 1.0 / alpha
    sd = np.sqrt(1.0 / lam_log2)
    log_norm = -np.log(sd) - 0.5 * np.log(2 * np.pi)
    lower, upper = -LARGE_BETA, LARGE_BETA

    def objective(p):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            mu = sf * np.exp2(X @ p)
            ll = _nb_logpmf(y, mu, size).sum()
            prior = np.sum(log_norm - 0.5 * (p / sd) ** 2)
            val = -(ll + prior)
        return val if np.isfinite(val) else 1e300

    def gradient(p):
        g = np.empty_like(p)
        for i in range(p.size):
            up = p.copy()
            up[i] = min(p[i] + 1e-3, upper)
            down = p.copy()
            down[i] = max(p[i] - 1e-3, lower)
            g[i] = (objective(up) - objective(down)) / ((up[i] - p[i]) + (p[i] - down[i]))
        return g

    res = minimize(
        objective,
        np.clip(start_log2, lower, upper),
        jac=gradient,
        method="L-BFGS-B",
        bounds=[(lower, upper)] * X.shape[1],
        options={"maxcor": 5, "ftol": 1e7 * np.finfo(float).eps, "gtol": 0.0, "maxiter": 100},
    )
    return res.x, bool(res.success)


def fit_nbinom_glms(
    Y: np.ndarray,
    sf: np.ndarray,
    X: np.ndarray,
    alpha: np.ndarray,
    tol: float = 1e-8,
    maxit: int = 100,
    minmu: float = 0.5,
) -> dict:
    """R's ``fitNbinomGLMs`` (no prior): IRLS, then optim for rows that failed.

    Parameters
    ----------
    Y
        Counts, genes x samples.
    sf
        Size factors.
    X
        Model matrix, samples x coefficients.
    alpha
        Dispersion per gene.

    Returns
    -------
    dict
        ``beta`` (natural log), ``mu`` (unclamped means, genes x samples), ``hat``
        (hat diagonals), ``conv``, ``iters``.
    """
    G = Y.shape[0]
    p = X.shape[1]
    if p == 1 and np.all(X == 1):
        # Intercept-only designs have a closed form in R (justIntercept).
        mean = (Y / sf).mean(axis=1)
        with np.errstate(divide="ignore"):
            beta = np.log(mean)[:, None]
        mu = sf * mean[:, None]
        w = 1.0 / (1.0 / mu + alpha[:, None])
        hat = w / w.sum(axis=1, keepdims=True)
        return {"beta": beta, "mu": mu, "hat": hat, "conv": np.ones(G, bool),
                "iters": np.ones(G, int)}
    beta0 = _initial_beta(Y, sf, X)
    lam = np.full(p, RIDGE_NAT)
    beta, iters, hat, var = _irls(Y, sf, X, alpha, beta0, lam, tol, maxit, minmu)
    conv = iters < maxit
    stable = ~np.isnan(beta).any(axis=1)
    var_pos = (var > 0).all(axis=1)
    rows = np.flatnonzero(~conv | ~stable | ~var_pos)
    beta_log2 = beta * LOG2E
    for r in rows:
        start = beta_log2[r] if stable[r] and np.all(np.abs(beta_log2[r]) < LARGE_BETA) \
            else beta0[r]
        par, ok = _optim_row(Y[r], sf, X, alpha[r], start, 1e-6)
        beta[r] = par / LOG2E
        if ok:
            conv[r] = True
    with np.errstate(over="ignore"):
        mu = sf * np.exp(beta @ X.T)
    return {"beta": beta, "mu": mu, "hat": hat, "conv": conv, "iters": iters}


# --------------------------------------------------------------------------------------
# Dispersions: R's fitDisp (line search) and fitDispGrid
# --------------------------------------------------------------------------------------


def _log_det(b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.linalg.det(b))


def _log_posterior(a, Y, mu, imu, X, prior_mean, prior_var, use_prior):
    alpha = np.exp(a)
    inv = 1.0 / alpha
    w = 1.0 / (imu + alpha[:, None])
    cr = -0.5 * _log_det(_xtwx(X, w))
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = (
            gammaln(Y + inv[:, None])
            - gammaln(inv)[:, None]
            - Y * np.log(mu + inv[:, None])
            - inv[:, None] * np.log(1.0 + mu * alpha[:, None])
        ).sum(axis=1)
    prior = -0.5 * (a - prior_mean) ** 2 / prior_var if use_prior else 0.0
    return ll + prior + cr


def _dlog_posterior(a, Y, mu, imu, X, prior_mean, prior_var, use_prior):
    alpha = np.exp(a)
    inv = 1.0 / alpha
    t = imu + alpha[:, None]
    b = _xtwx(X, 1.0 / t)
    db = _xtwx(X, -1.0 / t**2)
    with np.errstate(invalid="ignore"):
        try:
            cr = -0.5 * np.einsum("gpp->g", np.linalg.solve(b, db))
        except np.linalg.LinAlgError:
            cr = -0.5 * np.einsum("gpp->g", _batched_inv(b) @ db)
        ma = mu * alpha[:, None]
        ll = (inv**2) * (
            digamma(inv)[:, None]
            + np.log(1.0 + ma)
            - ma / (1.0 + ma)
            - digamma(Y + inv[:, None])
            + Y / (mu + inv[:, None])
        ).sum(axis=1)
    prior = -(a - prior_mean) / prior_var if use_prior else 0.0
    return (ll + cr) * alpha + prior


def fit_disp(
    Y: np.ndarray,
    mu: np.ndarray,
    X: np.ndarray,
    log_alpha: np.ndarray,
    prior_mean: np.ndarray,
    prior_var: float,
    use_prior: bool,
    min_log_alpha: float = np.log(MIN_DISP / 10),
    kappa_0: float = 1.0,
    tol: float = 1e-6,
    maxit: int = 100,
) -> dict:
    """R's ``fitDisp``: Armijo line search on log(alpha), all genes in lock step.

    Every gene follows exactly R's sequence of proposals, acceptances and step sizes;
    genes leave the active set when R's loop for them would break.

    Returns
    -------
    dict
        ``log_alpha``, ``iter``, ``initial_lp``, ``last_lp``.
    """
    G = Y.shape[0]
    a = log_alpha.astype(float).copy()
    pm = np.broadcast_to(np.asarray(prior_mean, dtype=float), (G,)).copy()
    imu = 1.0 / mu
    lp = _log_posterior(a, Y, mu, imu, X, pm, prior_var, use_prior)
    dlp = _dlog_posterior(a, Y, mu, imu, X, pm, prior_var, use_prior)
    initial_lp = lp.copy()
    kappa = np.full(G, kappa_0)
    iters = np.zeros(G, dtype=int)
    accepts = np.zeros(G, dtype=int)
    active = np.arange(G)
    eps = 1e-4
    for _ in range(maxit):
        if active.size == 0:
            break
        iters[active] += 1
        aa, dd, kk, ll = a[active], dlp[active], kappa[active], lp[active]
        proposal = aa + kk * dd
        with np.errstate(divide="ignore", invalid="ignore"):
            kk = np.where(proposal < -30.0, (-30.0 - aa) / dd, kk)
            kk = np.where(proposal > 10.0, (10.0 - aa) / dd, kk)
        a_new = aa + kk * dd
        lp_new = _log_posterior(
            a_new, Y[active], mu[active], imu[active], X, pm[active], prior_var, use_prior
        )
        with np.errstate(invalid="ignore"):
            accept = -lp_new <= -ll - kk * eps * dd**2
        # Rejected: halve the step and try again.
        kappa[active] = np.where(accept, kk, kk / 2.0)
        acc = active[accept]
        if acc.size == 0:
            continue
        a[acc] = a_new[accept]
        accepts[acc] += 1
        change = lp_new[accept] - ll[accept]
        with np.errstate(invalid="ignore"):
            small = change < tol
        lp[acc[small]] = lp_new[accept][small]
        # R stops before updating lp when log(alpha) heads to -infinity.
        gone = ~small & (a[acc] < min_log_alpha)
        go_on = ~small & ~gone
        cont = acc[go_on]
        lp[cont] = lp_new[accept][go_on]
        if cont.size:
            dlp[cont] = _dlog_posterior(
                a[cont], Y[cont], mu[cont], imu[cont], X, pm[cont], prior_var, use_prior
            )
            k = np.minimum(kappa[cont] * 1.1, kappa_0)
            k = np.where(accepts[cont] % 5 == 0, k / 2.0, k)
            kappa[cont] = k
        finished = np.zeros(G, dtype=bool)
        finished[acc[small | gone]] = True
        active = active[~finished[active]]
    return {"log_alpha": a, "iter": iters, "initial_lp": initial_lp, "last_lp": lp}


def fit_disp_grid(Y, mu, X, prior_mean, prior_var, use_prior, n_samples) -> np.ndarray:
    """R's ``fitDispGridWrapper``: coarse then fine grid on log(alpha); returns alpha."""
    G = Y.shape[0]
    grid = np.linspace(np.log(1e-8), np.log(max(10, n_samples)), 20)
    delta = grid[1] - grid[0]
    pm = np.broadcast_to(np.asarray(prior_mean, dtype=float), (G,))
    imu = 1.0 / mu

    def best(points: np.ndarray) -> np.ndarray:
        vals = np.stack(
            [
                _log_posterior(points[:, k], Y, mu, imu, X, pm, prior_var, use_prior)
                for k in range(points.shape[1])
            ],
            axis=1,
        )
        vals = np.where(np.isnan(vals), -np.inf, vals)
        return points[np.arange(G), np.argmax(vals, axis=1)]

    a_hat = best(np.broadcast_to(grid, (G, grid.size)).copy())
    fine = a_hat[:, None] + np.linspace(-delta, delta, grid.size)[None, :]
    return np.exp(best(fine))


# --------------------------------------------------------------------------------------
# The DESeq2 steps
# --------------------------------------------------------------------------------------


def linear_model_mu(Ynorm: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Least-squares fitted values of normalised counts (R's linearModelMu)."""
    q, _ = np.linalg.qr(X)
    return (Ynorm @ q) @ q.T


def genewise_dispersions(
    Y: np.ndarray, sf: np.ndarray, X: np.ndarray, minmu: float = 0.5, maxit: int = 100
) -> dict:
    """R's ``estimateDispersionsGeneEst`` on non-all-zero genes (genes x samples).

    Returns
    -------
    dict
        ``disp`` (gene-wise estimates), ``mu`` (clamped means used), ``init``
        (moments start), ``iter``, ``converged``.
    """
    m = Y.shape[1]
    p = X.shape[1]
    if m == p:
        raise ValueError(
            "the number of samples and the number of model coefficients are equal, i.e. "
            "there are no replicates to estimate the dispersion (as in R's DESeq2); use "
            "a design with fewer terms."
        )
    max_disp = max(10.0, m)
    Yn = Y / sf
    mu_lm = np.maximum(linear_model_mu(Yn, X), 1.0)
    rough = np.maximum((((Yn - mu_lm) ** 2 - mu_lm) / mu_lm**2).sum(axis=1) / (m - p), 0.0)
    bm = Yn.mean(axis=1)
    bv = Yn.var(axis=1, ddof=1)
    xim = np.mean(1.0 / sf)
    with np.errstate(invalid="ignore", divide="ignore"):
        moments = (bv - xim * bm) / bm**2
    alpha_init = np.clip(np.minimum(rough, moments), MIN_DISP, max_disp)
    groups = np.unique(X, axis=0).shape[0]
    if groups == p:
        mu = linear_model_mu(Yn, X) * sf
    else:
        mu = fit_nbinom_glms(Y, sf, X, alpha_init, minmu=minmu)["mu"]
    mu = np.maximum(mu, minmu)
    res = fit_disp(Y, mu, X, np.log(alpha_init), np.log(alpha_init), 1.0, False, maxit=maxit)
    disp = np.minimum(np.exp(res["log_alpha"]), max_disp)
    no_increase = res["last_lp"] < res["initial_lp"] + np.abs(res["initial_lp"]) / 1e6
    disp[no_increase] = alpha_init[no_increase]
    converged = (res["iter"] < maxit) & (res["iter"] != 1)
    refit = ~converged & (disp > MIN_DISP * 10)
    if refit.any():
        disp[refit] = fit_disp_grid(Y[refit], mu[refit], X, 0.0, 1.0, False, m)
    disp = np.clip(disp, MIN_DISP, max_disp)
    return {"disp": disp, "mu": mu, "init": alpha_init, "iter": res["iter"],
            "converged": converged}


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


def prior_variance_small_df(residuals: np.ndarray, m: int, p: int) -> float:
    """DESeq2's prior variance for m - p <= 3 (matching simulated log-chi-square tails).

    R draws its reference with ``set.seed(2)`` from R's generator, which numpy cannot
    reproduce, so this is the same estimator on different random draws: the result is
    deterministic but not bit-identical to R's.
    """
    rng = np.random.default_rng(2)
    brks = np.arange(-20, 21) / 2
    obs = residuals[(residuals > brks[0]) & (residuals < brks[-1])]
    obs_d, _ = np.histogram(obs, bins=brks, density=True)
    grid = np.linspace(0, 8, 200)
    kl = np.empty(grid.size)
    for k, v in enumerate(grid):
        rand = (
            np.log(rng.chisquare(m - p, 10000)) + rng.normal(0, np.sqrt(v), 10000)
            - np.log(m - p)
        )
        rand = rand[(rand > brks[0]) & (rand < brks[-1])]
        rand_d, _ = np.histogram(rand, bins=brks, density=True)
        z = np.concatenate([obs_d, rand_d])
        small = z[z > 0].min()
        kl[k] = np.sum(obs_d * (np.log(obs_d + small) - np.log(rand_d + small)))
    fine = np.linspace(0, 8, 1000)
    fitted = _loess_direct(grid, kl, fine)
    return float(max(fine[np.argmin(fitted)], 0.25))


def map_dispersions(Y, mu, X, disp_gw, disp_fit, prior_var, var_log_disp, maxit=100):
    """R's ``estimateDispersionsMAP``: MAP estimates, then the dispersion-outlier rule.

    Returns
    -------
    dict
        ``map``, ``final`` (MAP, or gene-wise for outliers), ``outlier``, ``iter``.
    """
    m = Y.shape[1]
    max_disp = max(10.0, m)
    init = np.where(disp_gw > 0.1 * disp_fit, disp_gw, disp_fit)
    init = np.where(np.isnan(init), disp_fit, init)
    res = fit_disp(Y, mu, X, np.log(init), np.log(disp_fit), prior_var, True, maxit=maxit)
    disp_map = np.exp(res["log_alpha"])
    refit = ~(res["iter"] < maxit)
    if refit.any():
        disp_map[refit] = fit_disp_grid(
            Y[refit], mu[refit], X, np.log(disp_fit[refit]), prior_var, True, m
        )
    disp_map = np.clip(disp_map, MIN_DISP, max_disp)
    with np.errstate(invalid="ignore", divide="ignore"):
        outlier = np.log(disp_gw) > np.log(disp_fit) + 2.0 * np.sqrt(var_log_disp)
    outlier = np.where(np.isnan(outlier), False, outlier).astype(bool)
    final = np.where(outlier, disp_gw, disp_map)
    return {"map": disp_map, "final": final, "outlier": outlier, "iter": res["iter"],
            "converged": res["iter"] < maxit}


def wald_se(beta, disp, sf, X, contrast, minmu=0.5, ridge=None) -> np.ndarray:
    """Standard error of contrast' beta as R computes it (clamped means, ridge)."""
    if ridge is None:
        ridge = np.diag(np.full(X.shape[1], RIDGE_NAT))
    with np.errstate(over="ignore", invalid="ignore"):
        mu = np.maximum(sf * np.exp(beta @ X.T), minmu)
        w = mu / (1.0 + disp[:, None] * mu)
    M = _xtwx(X, w)
    Ainv = _batched_inv(M + ridge)
    hc = Ainv @ contrast
    with np.errstate(invalid="ignore"):
        return np.sqrt(np.einsum("gp,gpq,gq->g", hc, M, hc))


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


# --------------------------------------------------------------------------------------
# pydeseq2 integration
# --------------------------------------------------------------------------------------


class VectorizedInference(DefaultInference):
    """pydeseq2 inference routines, vectorised over genes and following R's recipe.

    Used by :class:`RDeseqDataSet` and :class:`RDeseqStats`; when pydeseq2's own code
    calls these methods (e.g. its VST helpers) they keep pydeseq2's meaning. No worker
    processes are started: array operations on one core beat a process pool here.
    """

    def __init__(self, n_cpus: int | None = 1):
        super().__init__(n_cpus=n_cpus or 1)

    @_one_blas_thread
    def lin_reg_mu(self, counts, size_factors, design_matrix, min_mu):
        """Means from the least-squares fit of normalised counts (R's linearModelMu)."""
        mu = linear_model_mu((counts / size_factors[:, None]).T, design_matrix) * size_factors
        return np.maximum(mu, min_mu).T

    @_one_blas_thread
    def irls(
        self, counts, size_factors, design_matrix, disp, min_mu, beta_tol,
        min_beta=-30, max_beta=30, optimizer="L-BFGS-B", maxiter=250,
    ):
        """Coefficients by R's IRLS and optim fallback (:func:`fit_nbinom_glms`)."""
        fit = fit_nbinom_glms(
            counts.T.astype(float), size_factors, np.asarray(design_matrix, float),
            np.asarray(disp, float), tol=beta_tol, maxit=100, minmu=min_mu,
        )
        return fit["beta"], fit["mu"].T, fit["hat"].T, fit["conv"]

    @_one_blas_thread
    def alpha_mle(
        self, counts, design_matrix, mu, alpha_hat, min_disp, max_disp,
        prior_disp_var=None, cr_reg=True, prior_reg=False, optimizer="L-BFGS-B",
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
        self, design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null,
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
        self, design_matrix, counts, size, offset, prior_no_shrink_scale, prior_scale,
        optimizer, shrink_index,
    ):
        """apeGLM-style MAP coefficients (:func:`shrink_nbinom_glm`)."""
        return shrink_nbinom_glm(
            np.asarray(design_matrix, float), counts.T.astype(float), np.asarray(size, float),
            np.asarray(offset, float), prior_no_shrink_scale, prior_scale, shrink_index,
        )


def _wald_stat(lfc, se, lfc_null, alt):
    """Wald statistic and p-value, with R's lfcThreshold alternatives."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if alt is None or (alt == "greaterAbs" and lfc_null == 0):
            stat = (lfc - lfc_null) / se
            return stat, 2 * norm.sf(np.abs(stat))
        t = abs(lfc_null)
        if alt == "greaterAbs":
            stat = np.sign(lfc) * np.maximum((np.abs(lfc) - t) / se, 0)
            return stat, np.minimum(1, 2 * norm.sf((np.abs(lfc) - t) / se))
        if alt == "lessAbs":
            above, below = (t - lfc) / se, (lfc + t) / se
            stat = np.minimum(np.maximum(above, 0), np.maximum(below, 0))
            return stat, np.maximum(norm.sf(above), norm.sf(below))
        if alt == "greater":
            return np.maximum((lfc - t) / se, 0), norm.sf((lfc - t) / se)
        if alt == "less":
            return np.minimum((lfc + t) / se, 0), norm.sf((-t - lfc) / se)
    raise ValueError(f"unknown alternative hypothesis {alt!r}")


def shrink_nbinom_glm(
    X, Y, size, offset, prior_no_shrink_scale, prior_scale, shrink_index,
    maxit: int = 100, tol: float = 1e-10,
):
    """pydeseq2's apeGLM-style MAP (Cauchy prior on one coefficient), all genes at once.

    Minimises pydeseq2's objective (:func:`pydeseq2.utils.nbinomFn`) by Newton steps
    with backtracking, every gene together. pydeseq2 runs L-BFGS-B per gene, which
    stops early on this objective (its relative tolerance is loose for large negative
    log-likelihoods); the optimum found here has the same or a lower objective. Start:
    pydeseq2's, except the (unshrunk) intercept, which starts at log mean normalised
    count so that the first steps need no backtracking.

    Parameters
    ----------
    X
        Design matrix, samples x coefficients.
    Y
        Counts, genes x samples.
    size
        1 / dispersion per gene.
    offset
        log size factors.
    prior_no_shrink_scale, prior_scale
        Normal scale of the unshrunk coefficients, Cauchy scale of the shrunk one.
    shrink_index
        Column of ``X`` to shrink.

    Returns
    -------
    beta (G x p), inverse Hessian (G x p x p), converged (G,)
    """
    G = Y.shape[0]
    p = X.shape[1]
    keep = np.ones(p)
    keep[shrink_index] = 0.0
    s2, n2 = prior_scale**2, prior_no_shrink_scale**2
    log_size = np.log(size)

    def objective(beta, rows):
        xb = beta @ X.T
        prior = ((beta * keep) ** 2).sum(axis=1) / (2 * n2) + np.log1p(
            (beta[:, shrink_index] / prior_scale) ** 2
        )
        yr = Y[rows]
        nll = (yr * xb - (yr + size[rows][:, None])
               * np.logaddexp(xb + offset, log_size[rows][:, None])).sum(axis=1)
        return prior - nll

    def grad_hess(beta, rows, exact):
        xb = beta @ X.T
        sz = size[rows][:, None]
        # e / (sz + e) without overflow for large e.
        q = 1.0 / (1.0 + sz * np.exp(-(xb + offset)))
        yr = Y[rows]
        g = beta * keep / n2 - (yr - (yr + sz) * q) @ X
        bk = beta[:, shrink_index]
        g[:, shrink_index] += 2 * bk / (s2 + bk**2)
        H = _xtwx(X, (yr + sz) * q * (1.0 - q))
        H[:, np.arange(p), np.arange(p)] += keep / n2
        curv = 2 * (s2 - bk**2) / (s2 + bk**2) ** 2
        # The Cauchy prior's curvature turns negative beyond its scale; for the step,
        # drop that part so the Newton matrix stays positive definite (the likelihood
        # term dominates it anyway), keep it for the returned Hessian.
        H[:, shrink_index, shrink_index] += curv if exact else np.maximum(curv, 0.0)
        return g, H

    beta = np.tile(0.1 * (-1.0) ** np.arange(p), (G, 1))
    intercept = np.flatnonzero(np.all(X == 1, axis=0) & (keep == 1))
    if intercept.size:
        with np.errstate(divide="ignore"):
            start = np.log((Y / np.exp(offset)).mean(axis=1))
        beta[:, intercept[0]] = np.where(np.isfinite(start), start, 0.1)
    all_rows = np.arange(G)
    scale = np.maximum(objective(np.zeros((G, p)), all_rows), 1.0)
    conv = np.zeros(G, dtype=bool)
    f_cur = objective(beta, all_rows)
    active = all_rows
    for _ in range(maxit):
        if active.size == 0:
            break
        b = beta[active]
        g, H = grad_hess(b, active, exact=False)
        small = np.abs(g).max(axis=1) / scale[active] < tol
        conv[active[small]] = True
        active, b, g, H = active[~small], b[~small], g[~small], H[~small]
        if active.size == 0:
            break
        step = np.linalg.solve(H, g[..., None])[..., 0]
        slope = np.einsum("gp,gp->g", g, step)
        f0 = f_cur[active]
        t = np.ones(active.size)
        accepted = np.zeros(active.size, dtype=bool)
        for _halving in range(50):
            todo = np.flatnonzero(~accepted)
            if todo.size == 0:
                break
            cand = b[todo] - t[todo, None] * step[todo]
            fc = objective(cand, active[todo])
            ok = fc <= f0[todo] - 1e-4 * t[todo] * slope[todo]
            beta[active[todo[ok]]] = cand[ok]
            f_cur[active[todo[ok]]] = fc[ok]
            accepted[todo[ok]] = True
            t[todo[~ok]] /= 2.0
        # No descent left at machine precision: the optimum.
        flat = ~accepted | (np.abs(f0 - f_cur[active]) <= 1e-14 * np.maximum(np.abs(f0), 1.0))
        conv[active[flat]] = True
        active = active[~flat]
    _, H = grad_hess(beta, all_rows, exact=True)
    return beta, _batched_inv(H), conv


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
            Y, mu, self._design(),
            self.var["genewise_dispersions"].to_numpy()[nz],
            self.var["fitted_dispersions"].to_numpy()[nz],
            float(self.uns["prior_disp_var"]), float(self.uns["_squared_logres"]),
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
            Y, sf, self._design(), self.var["dispersions"].to_numpy()[nz],
            tol=self.beta_tol, minmu=self.min_mu,
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
            Y, gw["mu"], X, gw["disp"], fit_disp_vals, float(self.uns["prior_disp_var"]),
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
            np.diag(1 / self.prior_LFC_var**2) if self.prior_LFC_var is not None
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
