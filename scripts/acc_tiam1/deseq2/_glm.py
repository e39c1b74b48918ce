"""Negative-binomial GLM fits as DESeq2 runs them, vectorised over genes.

``fitBeta``/``fitNbinomGLMs`` (IRLS and the optim fallback), Wald standard errors and
apeGLM-type shrinkage.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln
from scipy.stats import norm

from ._rnumerics import LARGE_BETA, LOG2E, RIDGE_NAT


def _xtwx(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """X' diag(w_g) X for every gene g: (G, m) weights -> (G, p, p).

    One matrix product with the per-sample outer products x_s x_s', which BLAS does
    far faster than a batched einsum.
    """
    m, p = X.shape
    outer = (X[:, :, None] * X[:, None, :]).reshape(m, p * p)
    return (w @ outer).reshape(w.shape[0], p, p)


def _nb_logpmf(y: np.ndarray, mu: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Log NB(y; mean mu, size), accurate for y = 0 and for mu -> 0 (R's dnbinom_mu)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(size / (size + mu)) as R writes it: log1p when mu is the smaller term.
        log_ratio = np.where(size < mu, np.log(size / (size + mu)), np.log1p(-mu / (size + mu)))
        out = (
            gammaln(y + size)
            - gammaln(size)
            - gammaln(y + 1.0)
            + size * log_ratio
            + np.where(y > 0, y * np.log(mu / (size + mu)), 0.0)
        )
    return out


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
        return {
            "beta": beta,
            "mu": mu,
            "hat": hat,
            "conv": np.ones(G, bool),
            "iters": np.ones(G, int),
        }
    beta0 = _initial_beta(Y, sf, X)
    lam = np.full(p, RIDGE_NAT)
    beta, iters, hat, var = _irls(Y, sf, X, alpha, beta0, lam, tol, maxit, minmu)
    conv = iters < maxit
    stable = ~np.isnan(beta).any(axis=1)
    var_pos = (var > 0).all(axis=1)
    rows = np.flatnonzero(~conv | ~stable | ~var_pos)
    beta_log2 = beta * LOG2E
    for r in rows:
        start = (
            beta_log2[r] if stable[r] and np.all(np.abs(beta_log2[r]) < LARGE_BETA) else beta0[r]
        )
        par, ok = _optim_row(Y[r], sf, X, alpha[r], start, 1e-6)
        beta[r] = par / LOG2E
        if ok:
            conv[r] = True
    with np.errstate(over="ignore"):
        mu = sf * np.exp(beta @ X.T)
    return {"beta": beta, "mu": mu, "hat": hat, "conv": conv, "iters": iters}


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
    X,
    Y,
    size,
    offset,
    prior_no_shrink_scale,
    prior_scale,
    shrink_index,
    maxit: int = 100,
    tol: float = 1e-10,
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
        nll = (
            yr * xb
            - (yr + size[rows][:, None]) * np.logaddexp(xb + offset, log_size[rows][:, None])
        ).sum(axis=1)
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
