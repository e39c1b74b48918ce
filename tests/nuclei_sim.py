"""A small simulated 10x nuclei sample with ambient RNA and doublets, for the ambient tests.

Cell types come from the shipped marker table (a subset), with its classes. Each type's
expression is a gene baseline plus class- and type-level programmes; its own markers are
high, other types' markers and the other classes' class genes are not expressed at all
(``leak`` gives them a small level instead). A nucleus draws its own UMIs (lognormal,
glia smaller than neurons); the lysate of the sample is the pooled own expression of its
nuclei (so it carries the sample's condition effects), and every droplet, empty or not,
receives ``Poisson(A)`` ambient UMIs drawn from it: a fixed amount per droplet, so small
glial nuclei are the most contaminated. ``A`` is set so that ambient UMIs make up
``rho`` of all the nuclei's UMIs. Doublets are the sum of two nuclei of different types.
Counts are Poisson draws of the expected counts, one matrix per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from acc_tiam1 import io
from conftest import REPO
from scipy import sparse

TYPES = {
    "L2/3 IT": 0.16,
    "L5 IT": 0.08,
    "L6 CT": 0.09,
    "Pvalb": 0.05,
    "Sst": 0.05,
    "Vip": 0.04,
    "Astro": 0.13,
    "Oligo": 0.26,
    "OPC": 0.05,
    "Microglia": 0.06,
    "Endo": 0.03,
}
MEDIAN_UMIS = {"Glutamatergic": 5000.0, "GABAergic": 4000.0, "Non-neuronal": 2000.0}
CLASS_GENES = {
    "Glutamatergic": ["Slc17a7", "Satb2", "Neurod6"],
    "GABAergic": ["Gad1", "Gad2", "Slc32a1"],
    "Non-neuronal": [],
}
NEURON_GENES = ["Snap25", "Syt1", "Meis2"]
PAIN_GENE = "Npas4"


@dataclass
class Study:
    markers: pd.DataFrame
    symbols: np.ndarray
    profiles: np.ndarray  # types x genes, relative expression (rows sum to 1)
    klass: np.ndarray  # class of each type
    pain_profiles: np.ndarray  # the same in pain mice
    states: np.ndarray  # types x genes, log2 direction of within-type variation


def markers_table() -> pd.DataFrame:
    table = io.read_markers(REPO / "config" / "markers" / "acc_markers.tsv")
    return table[table["cell_type"].isin(TYPES)].reset_index(drop=True)


def build_study(
    n_genes: int = 1500,
    seed: int = 0,
    leak: float = 0.0,
    leak_share: float = 1.0,
    pain_fold: float = 4.0,
    misplaced: dict[str, str] | None = None,
) -> Study:
    """Type profiles over ``n_genes`` genes (markers, class genes, a pain gene, fillers).

    ``leak`` is the expression of exclusive genes (markers, class genes) outside their
    types, relative to a marker's level in its own type, in a random ``leak_share`` of them.
    ``misplaced`` maps a marker to a type of another class that expresses it at a marker's
    level anyway (a marker table entry that is wrong for this tissue).
    """
    rng = np.random.default_rng([seed, 1])
    markers = markers_table()
    marker_genes = [g for gs in markers["markers"] for g in gs]
    named = list(
        dict.fromkeys(
            [*marker_genes, *[g for v in CLASS_GENES.values() for g in v], *NEURON_GENES, PAIN_GENE]
        )
    )
    symbols = np.array(named + [f"Gene{i:05d}" for i in range(n_genes - len(named))])
    col = {g: i for i, g in enumerate(symbols)}
    types = list(markers["cell_type"])
    klass = markers["class"].to_numpy()
    base = rng.normal(0.0, 1.5, symbols.size)
    filler = np.arange(len(named), symbols.size)
    class_dev = {c: np.zeros(symbols.size) for c in MEDIAN_UMIS}
    for c in MEDIAN_UMIS:
        hit = rng.choice(filler, filler.size // 4, replace=False)
        class_dev[c][hit] = rng.normal(0.0, 1.2, hit.size)
    log_p = np.empty((len(types), symbols.size))
    leaky = (rng.random(len(named)) < leak_share) & (leak > 0)
    leaky = dict(zip(named, leaky, strict=True))
    exclusive = (
        [col[g] for g in marker_genes]
        + [col[g] for v in CLASS_GENES.values() for g in v]
        + [col[g] for g in NEURON_GENES]
    )
    leaky = np.array([leaky[symbols[i]] for i in exclusive])
    for t, ct in enumerate(types):
        c = klass[t]
        lp = base + class_dev[c]
        hit = rng.choice(filler, filler.size // 6, replace=False)
        lp[hit] += rng.normal(0.0, 1.0, hit.size)
        lp[exclusive] = np.where(leaky, np.log2(max(leak, 1e-12)) + 3.5, -np.inf)
        for g in markers.loc[t, "markers"]:
            lp[col[g]] = rng.normal(3.5, 0.4)
        for g in CLASS_GENES[c]:
            lp[col[g]] = rng.normal(3.0, 0.3)
        if c != "Non-neuronal":
            for g in NEURON_GENES:
                lp[col[g]] = rng.normal(3.0, 0.3)
        # the pain gene: moderate in neurons, low in glia
        lp[col[PAIN_GENE]] = 2.5 if c == "Glutamatergic" else 0.0
        for g, where in (misplaced or {}).items():
            if where == ct:
                lp[col[g]] = 3.5
        log_p[t] = lp
    profiles = np.exp2(log_p)
    pain = profiles.copy()
    pain[klass == "Glutamatergic", col[PAIN_GENE]] *= pain_fold
    states = np.zeros_like(log_p)
    for t in range(len(types)):
        hit = rng.choice(filler, filler.size // 10, replace=False)
        states[t, hit] = rng.normal(0.0, 1.5, hit.size)
    return Study(markers, symbols, _norm(profiles), klass, _norm(pain), states)


def _norm(p: np.ndarray) -> np.ndarray:
    return p / p.sum(axis=1, keepdims=True)


@dataclass
class Sample:
    counts: sparse.csr_matrix  # nuclei x genes, observed
    ambient: sparse.csr_matrix  # the ambient part of counts
    truth: pd.DataFrame  # per nucleus: cell_type, class, doublet, parents, own/ambient UMIs
    soup: np.ndarray  # true lysate profile
    rho: float  # planted: ambient UMIs / all UMIs of the nuclei
    empty_counts: sparse.csr_matrix  # empty droplets x genes
    barcodes: np.ndarray
    empty_barcodes: np.ndarray


def simulate_sample(
    study: Study,
    rho: float,
    n_nuclei: int = 2000,
    seed: int = 0,
    pain: bool = False,
    doublet_rate: float = 0.0,
    n_empty: int | None = None,
    size_sd: float = 0.4,
    depth: float = 1.0,
    states: bool = False,
    proportional: bool = False,
) -> Sample:
    """One sample: nuclei (with doublets), their ambient RNA, and empty droplets.

    ``depth`` scales the UMIs of every nucleus; ``states`` gives every nucleus a random
    position along its type's state direction (continuous within-type variation).
    ``proportional`` makes a droplet's ambient UMIs proportional to its own (SoupX's model)
    instead of a fixed amount per droplet.
    """
    rng = np.random.default_rng([seed, 2])
    profiles = study.pain_profiles if pain else study.profiles
    types = np.array(study.markers["cell_type"])
    props = np.array([TYPES[t] for t in types])
    props /= props.sum()
    n_dbl = round(doublet_rate * n_nuclei)
    n_single = n_nuclei - n_dbl
    cell = rng.choice(types.size, n_single, p=props)
    med = np.array([MEDIAN_UMIS[c] for c in study.klass]) * depth
    own_umis = med[cell] * np.exp(rng.normal(0.0, size_sd, n_single))
    parents = np.full((n_nuclei, 2), -1)
    parents[:n_single, 0] = cell

    def expression(types_of: np.ndarray) -> np.ndarray:
        if not states:
            return profiles[types_of]
        pos = rng.uniform(-1.0, 1.0, (types_of.size, 1))
        return _norm(profiles[types_of] * np.exp2(pos * study.states[types_of]))

    mean_own = own_umis[:, None] * expression(cell)
    if n_dbl:
        p1 = rng.choice(types.size, n_dbl, p=props)
        p2 = np.array(
            [
                rng.choice(np.flatnonzero(np.arange(types.size) != a), p=_renorm(props, a))
                for a in p1
            ]
        )
        u1 = med[p1] * np.exp(rng.normal(0.0, size_sd, n_dbl))
        u2 = med[p2] * np.exp(rng.normal(0.0, size_sd, n_dbl))
        mean_own = np.vstack(
            [mean_own, u1[:, None] * expression(p1) + u2[:, None] * expression(p2)]
        )
        parents[n_single:] = np.column_stack([p1, p2])
        own_umis = np.concatenate([own_umis, u1 + u2])
    own = rng.poisson(mean_own)
    soup = own.sum(axis=0) / own.sum()
    own_total = own.sum(axis=1)
    amb_level = rho / (1.0 - rho) * own_total.mean()
    amb_umis = rng.poisson(
        amb_level * own_total / own_total.mean() if proportional else np.full(n_nuclei, amb_level)
    )
    ambient = _draw(amb_umis, soup, rng).toarray()
    counts = own + ambient
    n_empty = 5 * n_nuclei if n_empty is None else n_empty
    # empty droplets: the ambient plateau, plus a tail of barcodes with a few UMIs
    e_umis = np.concatenate(
        [
            rng.poisson(amb_level * np.exp(rng.normal(0, 0.25, n_empty))),
            rng.geometric(0.3, 4 * n_empty),
        ]
    )
    e_umis = e_umis[e_umis > 0]
    empty = _draw(e_umis, soup, rng)
    klass = study.klass
    doublet = np.arange(n_nuclei) >= n_single
    main = parents[:, 0].copy()
    if n_dbl:  # a doublet's cluster is that of its larger parent
        main[n_single:] = np.where(u1 >= u2, p1, p2)
    truth = pd.DataFrame(
        {
            "cell_type": types[main],
            "class": klass[main],
            "doublet": doublet,
            "parent_1": np.where(parents[:, 0] >= 0, types[np.maximum(parents[:, 0], 0)], ""),
            "parent_2": np.where(parents[:, 1] >= 0, types[np.maximum(parents[:, 1], 0)], ""),
            "own_umis": own.sum(axis=1),
            "ambient_umis": ambient.sum(axis=1),
        }
    )
    truth["pair_class"] = [_pair_class(r, study) for r in truth.itertuples()]
    rho_true = float(ambient.sum() / counts.sum())
    barcodes = np.array([f"N{seed}_{i:06d}-1" for i in range(n_nuclei)])
    empty_bc = np.array([f"E{seed}_{i:07d}-1" for i in range(e_umis.size)])
    return Sample(
        sparse.csr_matrix(counts),
        sparse.csr_matrix(ambient),
        truth,
        soup,
        rho_true,
        empty,
        barcodes,
        empty_bc,
    )


def _draw(umis: np.ndarray, profile: np.ndarray, rng) -> sparse.csr_matrix:
    """Droplets x genes: ``umis[i]`` molecules of droplet i drawn from ``profile``."""
    genes = rng.choice(profile.size, size=int(umis.sum()), p=profile)
    rows = np.repeat(np.arange(umis.size), umis)
    return sparse.csr_matrix(
        (np.ones(rows.size, dtype=np.int64), (rows, genes)), shape=(umis.size, profile.size)
    )


def _renorm(p: np.ndarray, drop: int) -> np.ndarray:
    q = np.delete(p, drop)
    return q / q.sum()


def _pair_class(row, study: Study) -> str:
    if not row.doublet:
        return "singlet"
    kl = dict(zip(study.markers["cell_type"], study.klass, strict=True))
    a, b = kl[row.parent_1], kl[row.parent_2]
    pair = {a, b}
    if "Non-neuronal" in pair and pair != {"Non-neuronal"}:
        return "neuron-glia"
    if pair == {"Glutamatergic", "GABAergic"}:
        return "glut-gaba"
    return {"Glutamatergic": "glut-glut", "GABAergic": "gaba-gaba", "Non-neuronal": "glia-glia"}[a]
