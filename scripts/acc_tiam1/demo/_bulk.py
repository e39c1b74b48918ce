"""The bulk part of the demo study."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._common import (
    ACTIVITY_MODULE,
    CORE_MODULES,
    _base_log_means,
    _dispersions,
    _negative_binomial,
    demo_gene_universe,
)

#: Rescue classes planted for pain genes, with their probabilities and the fraction of
#: the pain effect that ketamine removes.
RESCUE_PLAN = {"rescued": (0.65, 1.0), "partially_rescued": (0.2, 0.5), "not_rescued": (0.15, 0.0)}


def plant_bulk_effects(
    genes: pd.DataFrame,
    base_mean: np.ndarray,
    rng: np.random.Generator,
    n_random_de: int = 150,
    n_ketamine_only: int = 60,
) -> pd.DataFrame:
    """Draw the planted pain, rescue and ketamine effects (log2 fold changes).

    Returns
    -------
    ``genes`` with columns ``pain_log2fc`` (pain vs sham), ``rescue_log2fc`` (the part of
    pain_ketamine vs pain that undoes the pain effect), ``ketamine_log2fc`` (ketamine
    alone, in sham and pain mice alike), ``rescue_class`` and ``planted_pain``.
    """
    n = len(genes)
    pain = np.zeros(n)
    module = genes["module"].to_numpy()
    core = np.isin(module, CORE_MODULES)
    # Most, not all, pathway genes move, as in real data.
    core_hit = core & (rng.random(n) < 0.7)
    pain[core_hit] = rng.uniform(0.7, 1.4, core_hit.sum())
    activity = module == ACTIVITY_MODULE
    pain[activity] = rng.uniform(0.9, 1.8, activity.sum())
    detectable = (module == "filler") & (base_mean > 60)
    candidates = np.flatnonzero(detectable)
    random_de = rng.choice(candidates, size=min(n_random_de, candidates.size), replace=False)
    pain[random_de] = rng.uniform(0.8, 2.0, random_de.size) * rng.choice([-1, 1], random_de.size)

    planted = pain != 0
    classes = np.array([""] * n, dtype=object)
    names = list(RESCUE_PLAN)
    probs = [RESCUE_PLAN[k][0] for k in names]
    classes[planted] = rng.choice(names, size=planted.sum(), p=probs)
    fraction = np.array([RESCUE_PLAN[c][1] if c else 0.0 for c in classes])
    rescue = -fraction * pain

    ketamine = np.zeros(n)
    remaining = np.flatnonzero(detectable & ~planted)
    k_only = rng.choice(remaining, size=min(n_ketamine_only, remaining.size), replace=False)
    ketamine[k_only] = rng.uniform(0.8, 1.6, k_only.size) * rng.choice([-1, 1], k_only.size)
    classes[k_only] = "ketamine_only"
    classes[classes == ""] = "none"

    out = genes.copy()
    out["pain_log2fc"] = pain
    out["rescue_log2fc"] = rescue
    out["ketamine_log2fc"] = ketamine
    out["rescue_class"] = classes
    out["planted_pain"] = planted
    return out


def group_log2fc(truth: pd.DataFrame, condition: str) -> np.ndarray:
    """Planted log2 fold change of every gene in one group relative to sham."""
    pain = truth["pain_log2fc"].to_numpy()
    rescue = truth["rescue_log2fc"].to_numpy()
    ketamine = truth["ketamine_log2fc"].to_numpy()
    effects = {
        "sham": np.zeros_like(pain),
        "pain": pain,
        "pain_ketamine": pain + rescue + ketamine,
        "sham_ketamine": ketamine,
    }
    if condition not in effects:
        raise ValueError(f"demo condition '{condition}' is not one of {sorted(effects)}")
    return effects[condition]


def simulate_bulk(
    samples: pd.DataFrame,
    modules: Mapping[str, Sequence[str]],
    markers: Sequence[str],
    n_genes: int = 10000,
    seed: int = 1,
    null: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate bulk RNA-seq counts of ACC punches.

    Parameters
    ----------
    samples
        Sample sheet indexed by sample with columns ``condition`` (sham, pain,
        pain_ketamine, sham_ketamine), ``sex`` (F/M) and ``batch``.
    modules
        Pathway modules (name -> genes), e.g. the shipped Tiam1/Rac1 GMT.
    markers
        Cell-type marker symbols.
    n_genes
        Genes in the matrix.
    seed
        Seed of the random generator; equal seeds give identical matrices.
    null
        The null variant: effects are drawn (so the rest of the study is the same) and
        then removed, so no gene differs between groups.

    Returns
    -------
    counts
        Genes x samples integer matrix with columns ``gene_id, gene_name, <samples>``.
    truth
        Planted effects per gene (see :func:`plant_bulk_effects`).
    """
    rng = np.random.default_rng(seed)
    genes = demo_gene_universe(modules, markers, n_genes)
    log_mu = _base_log_means(genes, rng)
    base_mean = np.exp(log_mu)
    truth = plant_bulk_effects(genes, base_mean, rng)
    if null:
        truth[["pain_log2fc", "rescue_log2fc", "ketamine_log2fc"]] = 0.0
        truth["rescue_class"] = "none"
        truth["planted_pain"] = False
    dispersion = _dispersions(base_mean, rng)
    batch_levels = sorted(samples["batch"].unique())
    batch_shift = {b: rng.normal(0.0, 0.15, len(genes)) for b in batch_levels[1:]}
    batch_shift[batch_levels[0]] = np.zeros(len(genes))
    size_factors = np.exp(rng.normal(0.0, 0.2, len(samples)))
    module = genes["module"].to_numpy()

    counts = np.empty((len(genes), len(samples)), dtype=np.int64)
    for j, (_, row) in enumerate(samples.iterrows()):
        log2fc = group_log2fc(truth, row["condition"]) + batch_shift[row["batch"]]
        mu = base_mean * np.power(2.0, log2fc) * size_factors[j]
        female = str(row["sex"]).upper().startswith("F")
        mu[np.isin(module, ["sex_female"])] *= 1.0 if female else 0.002
        mu[np.isin(module, ["sex_male"])] *= 0.002 if female else 1.0
        counts[:, j] = _negative_binomial(mu, dispersion, rng)
    matrix = pd.DataFrame(counts, index=genes.index, columns=samples.index)
    matrix.insert(0, "gene_name", genes["gene"])
    return matrix.reset_index(), truth.reset_index()
