"""Dispersion estimation as R's DESeq2 runs it.

Gene-wise line search (``fitDisp``), grid fallback, trend prior, MAP.
"""

from __future__ import annotations

import numpy as np
from scipy.special import digamma, gammaln

from ._glm import _batched_inv, _xtwx, fit_nbinom_glms
from ._rnumerics import MIN_DISP, _loess_direct


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
    return {"disp": disp, "mu": mu, "init": alpha_init, "iter": res["iter"], "converged": converged}


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
            np.log(rng.chisquare(m - p, 10000)) + rng.normal(0, np.sqrt(v), 10000) - np.log(m - p)
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
    return {
        "map": disp_map,
        "final": final,
        "outlier": outlier,
        "iter": res["iter"],
        "converged": res["iter"] < maxit,
    }
