"""Doublet calls: a scrublet threshold and a marker co-expression rule.

The threshold holds without a bimodal histogram; the rule finds nuclei that express
markers of two classes that exclude each other.

Scrublet's automatic threshold is the minimum between the two modes of the simulated-doublet
score histogram; brain nuclei seldom give two modes (many simulated doublets pair two
nuclei of one type and score like singlets), and the threshold it then finds can sit far
above the real doublets. :func:`scrublet_threshold` chooses the threshold as scDblFinder's
``doubletThresholding(method="optim")`` does (Germain et al. 2021, F1000Research 10:979):
it minimises the misclassification of real nuclei and artificial doublets plus the squared
relative deviation of the number called from the expected number of heterotypic doublets.

:func:`coexpression_doublets` calls a nucleus a doublet when it expresses the markers of
two classes of the marker table (neuronal and non-neuronal, glutamatergic and GABAergic)
beyond what the soup brings: for every class the share of the droplet's UMIs that came
from a nucleus of that class is estimated from the class's markers, after removing the
expected ambient counts and the level the nuclei of its own annotated type show.

:func:`combine_calls` joins the two as nf-core/scdownstream does by default (a nucleus is
removed when at least one caller calls it, ``doublet_detection_threshold = 1``) and says
which rule removed each nucleus.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from ..errors import InputError

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# scrublet threshold


@dataclass
class ScrubletThreshold:
    """The chosen threshold and what it implies."""

    threshold: float
    expected_rate: float  # heterotypic rate the count was held to
    homotypic_fraction: float  # of the simulated doublets
    n_called: int
    fnr_simulated: float  # simulated doublets below the threshold
    fpr_observed: float  # observed nuclei at or above it

    def row(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def scrublet_threshold(
    scores: np.ndarray,
    simulated: np.ndarray,
    expected_rate: float,
    rate_sd: float | None = None,
    clusters: Sequence[str] | None = None,
    stringency: float = 0.5,
) -> ScrubletThreshold:
    """Doublet-score threshold from scrublet's observed and simulated scores.

    Parameters
    ----------
    scores
        ``obs["doublet_score"]`` of ``sc.pp.scrublet``.
    simulated
        ``uns["scrublet"]["doublet_scores_sim"]``.
    expected_rate
        Expected doublet rate (all doublets, as given to scrublet).
    rate_sd
        Its uncertainty, default a tenth of the heterotypic rate. scDblFinder's default
        is 0.4 times; with scrublet's scores, which separate doublets less than
        scDblFinder's classifier, the misclassification terms then pull the threshold
        down to the upper end of that band, calling 40% more nuclei than expected, the
        extra ones singlets (on simulated nuclei 2-3% of singlets lost instead of 1-1.5%).
    clusters
        Cluster or cell type of every observed nucleus, if known: the homotypic share of
        doublets is then ``sum(p_k ** 2)`` (scDblFinder) and those simulated doublets are
        expected to be missed. Otherwise the homotypic share is the fraction of simulated
        doublets scoring below ``expected_rate``: scrublet's score of a neighbourhood with
        the average mix of observed and simulated nuclei is exactly the expected rate, so a
        simulated doublet below it sits among singlets.
    stringency
        Weight of false positives (observed nuclei called) against false negatives
        (simulated doublets missed), in (0, 1); 0.5 weighs them equally.

    Returns
    -------
    ScrubletThreshold
        The threshold minimising ``dev ** 2 + 2 (1 - stringency) FNR + 2 stringency FPR``
        over every candidate score (an exhaustive search: scDblFinder's ``optimize`` can
        stop in a local minimum). ``dev`` is 0 while the number called lies within
        ``expected +- sd``, else the relative distance to the nearer end.
    """
    obs = np.asarray(scores, dtype=float)
    sim = np.asarray(simulated, dtype=float)
    obs, sim = obs[np.isfinite(obs)], sim[np.isfinite(sim)]
    if obs.size == 0 or sim.size == 0:
        raise InputError("scrublet_threshold needs observed and simulated doublet scores.")
    if not 0 < stringency < 1:
        raise InputError("stringency must lie strictly between 0 and 1.")
    if clusters is not None:
        p = pd.Series(np.asarray(clusters).astype(str)).value_counts(normalize=True).to_numpy()
        homotypic = float((p**2).sum()) if p.size > 1 else 0.0
        expected_fn = sim.size * homotypic
    else:
        homotypic = float((sim < expected_rate).mean())
        expected_fn = 0.0
    rate = expected_rate * (1.0 - homotypic)
    sd = 0.1 * rate if rate_sd is None else float(rate_sd)
    lo, hi = max(0.0, rate - sd) * obs.size + 1, min(1.0, rate + sd) * obs.size + 1
    cand = np.unique(np.concatenate([obs, sim]))
    cand = np.concatenate([(cand[:-1] + cand[1:]) / 2, [cand[-1] + 1e-9]])
    obs_s, sim_s = np.sort(obs), np.sort(sim)
    n_called = obs.size - np.searchsorted(obs_s, cand, side="left")
    fnr = np.maximum(np.searchsorted(sim_s, cand, side="left") - expected_fn, 0) / sim.size
    fpr = n_called / obs.size
    x = n_called + 1.0
    dev = np.where((x > lo) & (x < hi), 0.0, np.minimum(np.abs(x - lo) / lo, np.abs(x - hi) / hi))
    cost = dev**2 + 2 * (1 - stringency) * fnr + 2 * stringency * fpr
    best = int(np.argmin(cost))
    return ScrubletThreshold(
        float(cand[best]), rate, homotypic, int(n_called[best]), float(fnr[best]), float(fpr[best])
    )


# --------------------------------------------------------------------------------------
# marker co-expression


def _class_sets(markers: pd.DataFrame, symbols: Sequence[str]) -> dict[str, np.ndarray]:
    """Column indices of every class's markers that are no marker of another class."""
    first = pd.Series(np.arange(len(symbols)), index=pd.Index(symbols).astype(str))
    first = first[~first.index.duplicated()]
    by_class: dict[str, set[str]] = {}
    for row in markers.itertuples():
        by_class.setdefault(str(row[2]), set()).update(row.markers)
    out = {}
    for c, genes in by_class.items():
        others = set().union(*(g for d, g in by_class.items() if d != c))
        keep = sorted(g for g in genes - others if g in first.index)
        if keep and c.strip():
            out[c] = first.loc[keep].to_numpy()
    return out


def class_genes(
    x: sparse.csr_matrix,
    nuc_class: np.ndarray,
    types: np.ndarray,
    ambient_frac: np.ndarray | None,
    soup: np.ndarray | None,
    specificity: float = 20.0,
    max_genes: int = 50,
    min_nuclei: int = 20,
) -> dict[str, np.ndarray]:
    """Genes only one class expresses, found in the annotated data.

    Per annotated type, each gene's mean fraction of a nucleus' UMIs, minus what the soup
    brings (``mean(A_i / n_i) * soup_g``); a gene belongs to class *C* when the highest
    level among *C*'s types is at least ``specificity`` times the highest among all other
    types. The ``max_genes`` highest of them are kept per class (SoupX's ``autoEstCont``
    likewise finds its markers in the data).
    """
    n = np.maximum(np.asarray(x.sum(axis=1), dtype=float).ravel(), 1.0)
    kept = [
        t for t in np.unique(types) if (types == t).sum() >= min_nuclei and nuc_class[types == t][0]
    ]
    if not kept:
        return {}
    code = pd.Index(kept).get_indexer(types)
    rows = np.flatnonzero(code >= 0)
    size = np.bincount(code[rows], minlength=len(kept)).astype(float)
    # mean over a type's nuclei of counts / n: one product, no normalised copy of x
    weight = sparse.csr_matrix(
        (1.0 / (n[rows] * size[code[rows]]), (code[rows], rows)), shape=(len(kept), x.shape[0])
    )
    levels = np.asarray((weight @ x).todense())
    if soup is not None and ambient_frac is not None:
        amb_mean = weight @ (ambient_frac * n)
        levels = np.maximum(levels - amb_mean[:, None] * soup[None, :], 0.0)
    owner = np.array([nuc_class[types == t][0] for t in kept])
    out = {}
    for c in np.unique(owner):
        if (owner != c).sum() == 0:
            continue
        inside = levels[owner == c].max(axis=0)
        outside = levels[owner != c].max(axis=0)
        ok = (inside > 0) & (inside >= specificity * outside)
        idx = np.flatnonzero(ok)
        out[str(c)] = idx[np.argsort(-inside[idx], kind="stable")][:max_genes]
    return out


def coexpression_doublets(
    counts,
    symbols: Sequence[str],
    markers: pd.DataFrame,
    cell_types: Sequence[str],
    ambient_umis: np.ndarray | None = None,
    soup: np.ndarray | None = None,
    min_share: float = 0.1,
    alpha: float = 0.01,
    min_nuclei: int = 20,
    data_genes: bool = True,
    index: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Nuclei that express the markers of two mutually exclusive classes.

    For nucleus *i* and class *C* with genes *G_C* (the marker table's markers of *C* that
    are no other class's, and with ``data_genes`` the genes :func:`class_genes` finds):
    ``share_iC = (M_iC - E_iC) / (n_i * r_C) - b_uC``, where ``M_iC`` are its counts of
    *G_C*, ``E_iC = A_i * soup(G_C)`` the ambient part, ``n_i`` its UMIs, ``r_C`` the median
    marker fraction ``M / n`` of the nuclei annotated with a type of *C* (what a whole
    nucleus of the class shows), and ``b_uC`` the median of ``(M - E) / (n r_C)`` over
    nuclei of *i*'s own annotated type *u* (for *u* outside *C*: markers that type does
    express a little, soup the estimate missed; over *u*'s class when *u* has fewer than
    ``min_nuclei`` nuclei; 0 for types outside the table). Class *C* is present in the droplet when
    ``share_iC >= min_share`` and ``M_iC`` exceeds ``E_iC + (b_uC + min_share / 2) * n_i *
    r_C`` at Poisson level ``alpha``; a nucleus in which two classes are present is a
    doublet. Genes are pooled per class because a type has too few markers for a single
    nucleus to show a second one reliably.

    Parameters
    ----------
    counts
        Nuclei x genes raw counts (one sample, or several with the same soup).
    symbols
        Gene symbols of the columns.
    markers
        Marker table with classes.
    cell_types
        Annotated cell type of every nucleus (types outside the table get no baseline).
    ambient_umis, soup
        Expected ambient UMIs per nucleus and the soup profile; both or neither.
    min_share
        Smallest share of a droplet's UMIs a second nucleus must bring.
    alpha
        Poisson significance level per nucleus and class.
    min_nuclei
        Classes with fewer annotated nuclei, and types with fewer for a baseline, are
        left out.
    data_genes
        Add the class-specific genes found in the data (:func:`class_genes`).
    index
        Row names of the result (the nuclei's obs names); default 0, 1, ...

    Returns
    -------
    One row per nucleus: ``share:<class>``, ``classes`` (the classes present,
    ``+``-joined), ``coexpression_doublet``, ``reason``.
    """
    x = sparse.csr_matrix(counts)
    n = np.maximum(np.asarray(x.sum(axis=1), dtype=float).ravel(), 1.0)
    types = np.asarray(cell_types).astype(str)
    if (ambient_umis is None) != (soup is None):
        raise InputError("coexpression_doublets: give both ambient_umis and soup, or neither.")
    klass = dict(zip(markers["cell_type"].astype(str), markers["class"].astype(str), strict=True))
    nuc_class = np.array([klass.get(t, "") for t in types], dtype=object)
    type_rows = {u: types == u for u in np.unique(types)}
    amb = None if ambient_umis is None else np.asarray(ambient_umis, dtype=float)
    soup = None if soup is None else np.asarray(soup, dtype=float)
    sets = _class_sets(markers, symbols)
    if data_genes:
        found = class_genes(
            x, nuc_class, types, None if amb is None else amb / n, soup, min_nuclei=min_nuclei
        )
        sets = {c: np.union1d(g, found.get(c, [])).astype(int) for c, g in sets.items()}
    shares, present = {}, {}
    for c, genes in sets.items():
        own = nuc_class == c
        if own.sum() < min_nuclei:
            log.info(
                "co-expression doublets: class %s has %d nuclei (< %d); not used",
                c,
                own.sum(),
                min_nuclei,
            )
            continue
        m = np.asarray(x[:, genes].sum(axis=1), dtype=float).ravel()
        e = np.zeros_like(m) if soup is None else amb * float(soup[genes].sum())
        ref = float(np.median(m[own] / n[own]))
        if ref <= 0:
            continue
        full = n * ref
        raw = (m - e) / full
        base = np.zeros_like(m)
        for d in set(klass.values()) - {c}:
            rows = nuc_class == d  # types too small for their own baseline get their class's
            if rows.sum() >= min_nuclei:
                base[rows] = max(float(np.median(raw[rows])), 0.0)
        for u, rows in type_rows.items():
            if klass.get(u) != c and rows.sum() >= min_nuclei:
                base[rows] = max(float(np.median(raw[rows])), 0.0)
        shares[c] = raw - base
        mean0 = e + (base + min_share / 2) * full
        present[c] = (shares[c] >= min_share) & (stats.poisson.sf(m - 1, mean0) < alpha)
    out = pd.DataFrame({f"share:{c}": np.round(v, 4) for c, v in shares.items()})
    label = np.full(x.shape[0], "", dtype=object)
    for c, hit in present.items():
        label = np.where(hit, np.where(label == "", c, label + "+" + c), label)
    n_present = np.sum([hit for hit in present.values()], axis=0) if present else 0
    out["classes"] = label
    out["coexpression_doublet"] = np.asarray(n_present) >= 2
    out["reason"] = np.where(out["coexpression_doublet"], "markers of " + label, "")
    if index is not None:
        out.index = pd.Index(index)
    return out


# --------------------------------------------------------------------------------------
# combining the rules


def combine_calls(
    scrublet: Sequence[bool], coexpression: Sequence[bool], index: Sequence[str] | None = None
) -> pd.DataFrame:
    """Union of the two callers, and which rule removed each nucleus (rows named ``index``).

    Returns
    -------
    Columns ``doublet`` and ``doublet_rule`` (``""``, ``"scrublet"``, ``"coexpression"`` or
    ``"scrublet+coexpression"``).
    """
    a = np.asarray(scrublet, dtype=bool)
    b = np.asarray(coexpression, dtype=bool)
    if a.shape != b.shape:
        raise InputError("combine_calls: the two call vectors differ in length.")
    rule = np.where(
        a & b, "scrublet+coexpression", np.where(a, "scrublet", np.where(b, "coexpression", ""))
    )
    return pd.DataFrame(
        {"doublet": a | b, "doublet_rule": rule}, index=None if index is None else pd.Index(index)
    )
