"""Tiam1/Rac1 genes and gene-set scores per animal x cell type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse


def log_cpm(counts: np.ndarray) -> np.ndarray:
    """log2(CPM + 1) of rows (samples) of a samples x genes matrix."""
    x = np.asarray(counts, dtype=float)
    lib = x.sum(axis=1, keepdims=True)
    return np.log2(np.divide(x, lib, out=np.zeros_like(x), where=lib > 0) * 1e6 + 1)


def pathway_table(
    pb,
    sheet: pd.DataFrame,
    gene_sets: Mapping[str, Sequence[str]],
    genes: Sequence[str],
    min_mean_cpm: float = 1.0,
) -> pd.DataFrame:
    """Per-animal expression of chosen genes and gene-set scores in every cell type.

    Uses the pseudobulk samples that pass the size filters (``pb.obs["kept"]``).
    Gene values are log2(CPM + 1) of the pseudobulk; a set's score is, per cell type,
    the mean over its genes (those with mean CPM >= ``min_mean_cpm`` in that type) of
    their log2 CPM standardised across that type's samples.

    Returns
    -------
    Long table: sample, covariates, cell_type, ``feature``, ``kind`` (gene / gene set),
    ``value``, ``n_genes``.
    """
    symbols = pb.var["gene"].astype(str).to_numpy()
    first = pd.Series(np.arange(len(symbols)), index=symbols)
    first = first[~first.index.duplicated()]
    kept = pb.obs[pb.obs["kept"].astype(bool)] if "kept" in pb.obs else pb.obs
    covariates = [c for c in sheet.columns if c != "path"]
    rows = []
    for ct, obs in kept.groupby("cell_type", observed=True, sort=False):
        x = pb[obs.index].X
        x = np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=float)
        lc = log_cpm(x)
        cpm = 2**lc - 1
        base = pd.DataFrame({"sample": obs["sample"].to_numpy(), "cell_type": ct})
        for c in covariates:
            base[c] = sheet.loc[obs["sample"], c].to_numpy()
        for g in genes:
            if g not in first.index:
                continue
            frame = base.copy()
            frame["feature"], frame["kind"] = g, "gene"
            frame["value"], frame["n_genes"] = lc[:, first[g]], 1
            rows.append(frame)
        for name, members in gene_sets.items():
            idx = [first[g] for g in members if g in first.index]
            idx = [i for i in idx if cpm[:, i].mean() >= min_mean_cpm]
            if not idx:
                continue
            sub = lc[:, idx]
            sd = sub.std(axis=0, ddof=1) if sub.shape[0] > 1 else np.zeros(len(idx))
            z = np.divide(sub - sub.mean(axis=0), sd, out=np.zeros_like(sub), where=sd > 1e-12)
            frame = base.copy()
            frame["feature"], frame["kind"] = name, "gene set"
            frame["value"], frame["n_genes"] = z.mean(axis=1), len(idx)
            rows.append(frame)
    if not rows:
        return pd.DataFrame(
            columns=["sample", *covariates, "cell_type", "feature", "kind", "value", "n_genes"]
        )
    table = pd.concat(rows, ignore_index=True)
    return table[["sample", *covariates, "cell_type", "feature", "kind", "value", "n_genes"]]
