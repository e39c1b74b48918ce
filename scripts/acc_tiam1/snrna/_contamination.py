"""Contamination of a sample from genes its nuclei cannot express (SoupX's estimate).

SoupX ``calculateContaminationFraction`` (Young & Behjati 2020, GigaScience 9:giaa151): in a
nucleus that cannot express a gene, every count of it comes from the soup, so observed
counts / counts expected if the droplet were pure soup measures the contamination. The
marker table's classes say which genes: neuronal markers in non-neuronal nuclei, glial
markers in neurons, glutamatergic markers in GABAergic nuclei and the reverse
(:func:`exclusion_sets`); the cell type of every nucleus comes from the annotation.

SoupX models the ambient UMIs of a droplet as ``rho * nUMIs`` (proportional to the nucleus);
ambient RNA however adds a roughly fixed number of UMIs to every droplet (the empty-droplet
plateau; CellBender's ``d_empty``), which is why small glial nuclei suffer most. Here the
ambient UMIs of nucleus *i* are ``a * n_i ** beta``: ``beta = 1`` is SoupX's model,
``beta = 0`` a fixed amount per droplet, and ``model="auto"`` takes the ``beta`` in [0, 1]
that maximises the Poisson likelihood (for each ``beta`` the estimate of ``a`` is SoupX's
Poisson GLM with offset, ``counts ~ 1, offset = log(expected)``). The sample's contamination
``rho`` is the ambient share of all its nuclei's UMIs, ``sum(A_i) / sum(n_i)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import InputError
from ._soup import SoupProfile

log = logging.getLogger(__name__)

#: beta values tried by ``model="auto"``; "droplet" is 0 and "proportional" (SoupX) is 1.
BETAS = np.round(np.linspace(0.0, 1.0, 21), 2)
MODELS = {"auto": BETAS, "droplet": np.array([0.0]), "proportional": np.array([1.0])}


@dataclass
class ExclusionSet:
    """Markers of ``marker_class`` in nuclei of ``nuclei_class``, which cannot express them."""

    marker_class: str
    nuclei_class: str
    genes: np.ndarray  # column indices

    @property
    def name(self) -> str:
        return f"{self.marker_class} markers in {self.nuclei_class} nuclei"


def exclusion_sets(markers: pd.DataFrame, symbols: Sequence[str]) -> list[ExclusionSet]:
    """For every ordered pair of marker-table classes (C, D): C's markers that are not D's.

    Parameters
    ----------
    markers
        Marker table (``cell_type``, ``class``, ``markers`` as lists).
    symbols
        Gene symbol of every column of the count matrix.
    """
    first = pd.Series(np.arange(len(symbols)), index=pd.Index(symbols).astype(str))
    first = first[~first.index.duplicated()]
    by_class: dict[str, set[str]] = {}
    for row in markers.itertuples():
        if str(row[2]).strip():
            by_class.setdefault(str(row[2]), set()).update(row.markers)
    out = []
    for c, genes_c in by_class.items():
        for d, genes_d in by_class.items():
            if c == d:
                continue
            genes = sorted(g for g in genes_c - genes_d if g in first.index)
            if genes:
                out.append(ExclusionSet(c, d, first.loc[genes].to_numpy()))
    return out


@dataclass
class ContaminationEstimate:
    """Contamination of one sample (:func:`estimate_contamination`)."""

    row: dict
    per_set: pd.DataFrame
    ambient_umis: np.ndarray  # expected ambient UMIs of every nucleus

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([self.row])


def _fit(
    obs: np.ndarray,
    weight: np.ndarray,
    betas: np.ndarray,
    freq: np.ndarray | None = None,
    logw: np.ndarray | None = None,
) -> tuple[float, float]:
    """Poisson MLE of ``obs ~ a * weight[:, beta]`` for each beta; the best (a, beta).

    ``freq`` counts each observation that many times (the bootstrap); ``logw`` is
    ``log(weight)`` (0 where the weight is 0), passed in when fitting many times.
    """
    f = np.ones(obs.size) if freq is None else freq
    if f @ obs <= 0:
        return 0.0, float(betas[0])
    wsum = f @ weight
    a = (f @ obs) / np.where(wsum > 0, wsum, np.nan)
    if logw is None:
        logw = _log_weight(weight)
    # log-likelihood up to a constant: sum f * (obs * log(a * w) - a * w)
    ll = (f * obs) @ logw + (f @ obs) * np.log(a) - a * wsum
    best = int(np.nanargmax(ll))
    return float(a[best]), float(betas[best])


def _log_weight(weight: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight > 0, np.log(weight), 0.0)


def estimate_contamination(
    counts,
    symbols: Sequence[str],
    cell_types: Sequence[str],
    markers: pd.DataFrame,
    soup: SoupProfile,
    sample: str = "",
    model: str = "auto",
    tolerance: float = 1.25,
    alpha: float = 0.01,
    n_boot: int = 200,
    seed: int = 0,
) -> ContaminationEstimate:
    """Contamination of one sample from the genes its nuclei cannot express.

    For each :func:`exclusion_sets` pair, the counts of the pair's genes in nuclei of the
    excluded class are soup: ``O_i ~ Poisson(A_i * s)``, ``s`` the soup fraction of those
    genes and ``A_i = a * n_i ** beta`` the ambient UMIs of the droplet. ``a`` (and
    ``beta`` with ``model="auto"``) are fitted by Poisson maximum likelihood over all pairs
    (SoupX's GLM). As SoupX's ``estimateNonExpressingCells`` leaves out what does express
    the genes, genes and nuclei whose counts exceed ``tolerance`` times their soup
    expectation at a Bonferroni level ``alpha`` are dropped and the fit repeated until
    nothing more is dropped (a marker the table lists wrongly, a doublet, a mislabelled
    nucleus). The genes are judged against the weighted median of the genes' observed /
    expected ratios, which the genes a type does express (only) pull up. The interval is a
    bootstrap over nuclei.

    Parameters
    ----------
    counts
        Nuclei x genes raw counts of one sample.
    symbols
        Gene symbols of the columns.
    cell_types
        Cell type of every nucleus (types not in the marker table are not used).
    markers
        Marker table with classes.
    soup
        The sample's :class:`SoupProfile`, over the same columns.
    model
        ``"auto"``, ``"droplet"`` (beta 0) or ``"proportional"`` (beta 1, SoupX).

    Returns
    -------
    ContaminationEstimate
        ``row``: sample, rho (ambient share of the nuclei's UMIs), rho_low/rho_high (95%
        bootstrap), ambient_umis_median, beta, model, soup basis, nuclei and genes used,
        observed and expected counts, genes dropped as expressed; ``per_set``: the same per
        pair; ``ambient_umis``: ``A_i`` of every nucleus.

    Raises
    ------
    InputError
        When no pair has nuclei and genes with soup (a marker table with one class, no
        marker in the data).
    """
    if model not in MODELS:
        raise InputError(f"unknown contamination model '{model}' ({', '.join(MODELS)}).")
    x = sparse.csr_matrix(counts)
    n = np.asarray(x.sum(axis=1), dtype=float).ravel()
    klass = dict(zip(markers["cell_type"].astype(str), markers["class"].astype(str), strict=True))
    nuc_class = np.array([klass.get(str(t), "") for t in cell_types], dtype=object)
    prof = soup.profile
    parts = []
    for ex in exclusion_sets(markers, symbols):
        rows = np.flatnonzero((nuc_class == ex.nuclei_class) & (n > 0))
        genes = ex.genes[prof[ex.genes] > 0]
        if rows.size and genes.size:
            parts.append((ex, rows, genes, x[rows][:, genes].toarray().astype(float)))
    if not parts:
        raise InputError(
            f"sample '{sample}': no genes to estimate contamination from: the "
            "marker table needs two classes or more whose markers are in the "
            "data and the soup, and nuclei of those classes."
        )
    betas = MODELS[model]
    gene_keep = [np.ones(p[2].size, bool) for p in parts]
    nuc_keep = [np.ones(p[1].size, bool) for p in parts]
    n_tests = sum(p[2].size for p in parts) + sum(p[1].size for p in parts)
    for _ in range(50):
        obs, wts, _ = _stack(parts, gene_keep, nuc_keep, prof, n, betas)
        a, beta = _fit(obs, wts, betas)
        gene_obs, gene_exp = [], []
        for k, (_ex, rows, genes, mat) in enumerate(parts):
            gene_exp.append(prof[genes] * (a * n[rows[nuc_keep[k]]] ** beta).sum())
            gene_obs.append(mat[nuc_keep[k]].sum(axis=0))
        ref = _median_ratio(gene_obs, gene_exp, gene_keep)
        changed = False
        for k, (_ex, rows, genes, mat) in enumerate(parts):
            mu = a * n[rows] ** beta
            drop_g = gene_keep[k] & (
                stats.poisson.sf(gene_obs[k] - 1, tolerance * ref * gene_exp[k]) < alpha / n_tests
            )
            exp_i = mu * prof[genes[gene_keep[k]]].sum()
            obs_i = mat[:, gene_keep[k]].sum(axis=1)
            drop_i = nuc_keep[k] & (
                stats.poisson.sf(obs_i - 1, tolerance * exp_i) < alpha / n_tests
            )
            if drop_g.any() or drop_i.any():
                gene_keep[k] &= ~drop_g
                nuc_keep[k] &= ~drop_i
                changed = True
        if not changed:
            break
    obs, wts, owner = _stack(parts, gene_keep, nuc_keep, prof, n, betas)
    if obs.size == 0:
        raise InputError(
            f"sample '{sample}': every gene or nucleus usable for the "
            "contamination estimate looked genuinely expressed."
        )
    a, beta = _fit(obs, wts, betas)
    ambient = np.minimum(a * n**beta, n)
    rho = float(ambient.sum() / n.sum())
    low, high = _bootstrap(obs, wts, owner, betas, n, n_boot, seed)
    bi = int(np.flatnonzero(betas == beta)[0])
    per_set, dropped = [], []
    for k, (ex, rows, genes, mat) in enumerate(parts):
        o = mat[nuc_keep[k]][:, gene_keep[k]].sum()
        e = a * (n[rows[nuc_keep[k]]] ** beta).sum() * prof[genes[gene_keep[k]]].sum()
        per_set.append(
            {
                "sample": sample,
                "set": ex.name,
                "marker_class": ex.marker_class,
                "nuclei_class": ex.nuclei_class,
                "n_genes": int(gene_keep[k].sum()),
                "n_nuclei": int(nuc_keep[k].sum()),
                "observed": float(o),
                "expected": float(e),
                "rho": float(o / e * rho) if e > 0 else np.nan,
            }
        )
        dropped += [str(symbols[g]) for g in genes[~gene_keep[k]]]
    used_nuclei = np.unique(np.concatenate([p[1][nuc_keep[k]] for k, p in enumerate(parts)]))
    row = {
        "sample": sample,
        "rho": round(rho, 5),
        "rho_low": round(low, 5),
        "rho_high": round(high, 5),
        "ambient_umis_median": round(float(np.median(ambient)), 2),
        "beta": beta,
        "model": model,
        **soup.describe(),
        "n_nuclei": int(x.shape[0]),
        "n_nuclei_used": int(used_nuclei.size),
        "n_genes_used": int(sum(k.sum() for k in gene_keep)),
        "observed_counts": float(obs.sum()),
        "expected_counts": float((wts[:, bi] * a).sum()),
        "genes_dropped_as_expressed": ",".join(sorted(set(dropped))),
        "nuclei_dropped": int(sum((~k).sum() for k in nuc_keep)),
    }
    table = pd.DataFrame(per_set)
    log.info(
        "sample %s: contamination %.4f (%.4f-%.4f), beta %.2f, %d genes and %d nuclei "
        "dropped as expressing",
        sample,
        rho,
        low,
        high,
        beta,
        len(set(dropped)),
        row["nuclei_dropped"],
    )
    return ContaminationEstimate(row, table, ambient)


def _median_ratio(obs: list, exp: list, keep: list) -> float:
    """Median of observed / expected over the kept genes, each weighted by its expectation.

    Genes a type does express only push their ratio up, so the median over genes, unlike
    the pooled fit, is not pulled by the few that leak.
    """
    o = np.concatenate([x[k] for x, k in zip(obs, keep, strict=True)])
    e = np.concatenate([x[k] for x, k in zip(exp, keep, strict=True)])
    if not (e > 0).any():
        return 1.0
    ratio, w = o[e > 0] / e[e > 0], e[e > 0]
    order = np.argsort(ratio)
    cum = np.cumsum(w[order])
    return float(ratio[order][np.searchsorted(cum, cum[-1] / 2)])


def _stack(parts, gene_keep, nuc_keep, prof, n, betas):
    """Observed counts, ``soup fraction * n ** beta`` per beta, and the nucleus of each."""
    obs, wts, owner = [], [], []
    for k, (_ex, rows, genes, mat) in enumerate(parts):
        keep_r, keep_g = nuc_keep[k], gene_keep[k]
        if not keep_r.any() or not keep_g.any():
            continue
        s = prof[genes[keep_g]].sum()
        obs.append(mat[keep_r][:, keep_g].sum(axis=1))
        wts.append(s * n[rows[keep_r], None] ** betas[None, :])
        owner.append(rows[keep_r])
    if not obs:
        return np.zeros(0), np.zeros((0, betas.size)), np.zeros(0, dtype=int)
    return np.concatenate(obs), np.vstack(wts), np.concatenate(owner)


def _bootstrap(obs, wts, owner, betas, n, n_boot, seed) -> tuple[float, float]:
    """95% interval of rho, resampling nuclei (each with all its observations)."""
    if n_boot <= 0:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    nuclei, inverse = np.unique(owner, return_inverse=True)
    norm = (n[:, None] ** betas[None, :]).sum(axis=0) / n.sum()
    rhos = np.empty(n_boot)
    logw = _log_weight(wts)
    from threadpoolctl import threadpool_limits

    # many small matrix-vector products: BLAS threads only contend (15x slower on a busy
    # 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        for b in range(n_boot):
            draw = rng.integers(0, nuclei.size, nuclei.size)
            freq = np.bincount(draw, minlength=nuclei.size)[inverse].astype(float)
            a, beta = _fit(obs, wts, betas, freq, logw)
            rhos[b] = a * norm[int(np.flatnonzero(betas == beta)[0])]
    return float(np.percentile(rhos, 2.5)), float(np.percentile(rhos, 97.5))
