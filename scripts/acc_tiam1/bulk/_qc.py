"""Bulk sample QC: library sizes, VST, PCA, distances and outlier flags.

Flags only: nothing is dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def library_stats(counts: pd.DataFrame) -> pd.DataFrame:
    """Library size and number of detected genes (count > 0) per sample.

    Parameters
    ----------
    counts
        Genes x samples raw counts.
    """
    return pd.DataFrame(
        {
            "library_size": counts.sum(axis=0).astype(np.int64),
            "detected_genes": (counts > 0).sum(axis=0).astype(np.int64),
        },
        index=counts.columns.rename("sample"),
    )


def vst(counts: pd.DataFrame) -> pd.DataFrame:
    """DESeq2's blind variance-stabilising transformation.

    Blind (intercept-only) as DESeq2 recommends for QC, so that the design cannot make
    groups look more separated than they are. Gene-wise dispersions and their
    parametric trend are estimated as R's ``varianceStabilizingTransformation(blind =
    TRUE)`` does (see :mod:`acc_tiam1.inference`), vectorised over genes.

    Parameters
    ----------
    counts
        Genes x samples raw counts.

    Returns
    -------
    Genes x samples matrix on a log2-like scale.
    """
    from ..deseq2 import RDeseqDataSet, VectorizedInference, quiet_pydeseq2, single_thread_blas

    meta = pd.DataFrame({"all": ["all"] * counts.shape[1]}, index=counts.columns)
    with quiet_pydeseq2(), single_thread_blas():
        dds = RDeseqDataSet(
            counts=counts.T,
            metadata=meta,
            design="~1",
            inference=VectorizedInference(),
            quiet=True,
        )
        dds.vst(use_design=False)
    return pd.DataFrame(
        np.asarray(dds.layers["vst_counts"]).T, index=counts.index, columns=counts.columns
    )


def top_variable(matrix: pd.DataFrame, n_top: int) -> pd.DataFrame:
    """The ``n_top`` rows with the highest variance (ties broken by row order)."""
    var = matrix.var(axis=1).to_numpy()
    order = np.argsort(-var, kind="stable")[: min(n_top, len(var))]
    return matrix.iloc[np.sort(order)]


def pca(matrix: pd.DataFrame, n_components: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    """PCA of samples (columns) of a genes x samples matrix by exact SVD.

    Signs are fixed so that each component's largest absolute loading is positive,
    which makes the result identical across runs and machines.

    Returns
    -------
    scores
        Samples x ``PC1..PCk``.
    explained
        Fraction of variance of each component.
    """
    x = matrix.to_numpy(dtype=float).T
    x = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(n_components, len(s))
    signs = np.sign(vt[np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])
    signs[signs == 0] = 1
    scores = u[:, :k] * s[:k] * signs
    total = (s**2).sum()
    explained = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    cols = [f"PC{i + 1}" for i in range(k)]
    return pd.DataFrame(scores, index=matrix.columns, columns=cols), explained


def sample_distances(matrix: pd.DataFrame) -> pd.DataFrame:
    """Euclidean distances between samples (columns)."""
    x = matrix.to_numpy(dtype=float).T
    sq = (x**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
    np.fill_diagonal(d2, 0.0)
    return pd.DataFrame(np.sqrt(d2), index=matrix.columns, columns=matrix.columns)


def robust_z(values: pd.Series, min_mad: float = 0.0) -> pd.Series:
    """(value - median) / max(1.4826 * MAD, ``min_mad``).

    The floor keeps a metric on which all samples nearly agree (a MAD close to zero) from
    turning trivial differences into huge z-scores.
    """
    med = values.median()
    mad = max(1.4826 * (values - med).abs().median(), min_mad)
    if mad == 0 or not np.isfinite(mad):
        return pd.Series(0.0, index=values.index)
    return (values - med) / mad


def within_group_distance(distances: pd.DataFrame, groups: pd.Series | None) -> pd.Series:
    """Median distance of each sample to the other samples of its group.

    Distances between groups reflect biology, not quality; a sample is suspicious when it
    is far from the samples that should resemble it. Samples alone in their group (or
    when no groups are given) are compared with all other samples.
    """
    d = distances.to_numpy(copy=True)
    np.fill_diagonal(d, np.nan)
    out = {}
    for i, sample in enumerate(distances.index):
        mask = np.ones(len(d), dtype=bool)
        if groups is not None:
            same = (groups.reindex(distances.index) == groups.get(sample)).to_numpy()
            if same.sum() > 1:
                mask = same
        mask[i] = False
        out[sample] = float(np.median(d[i, mask])) if mask.any() else 0.0
    return pd.Series(out)


def flag_outliers(
    stats: pd.DataFrame,
    distances: pd.DataFrame,
    n_mad: float = 3.5,
    groups: pd.Series | None = None,
) -> pd.DataFrame:
    """Flag samples whose QC metrics are far from the others. Nothing is dropped.

    A sample is flagged when its log10 library size or log10 number of detected genes is
    more than ``n_mad`` MADs below the median, or its median distance to the samples of
    its own group (VST space) is more than ``n_mad`` MADs above the median. MADs are
    floored (0.05 log10 units for library size and distance, 0.01 for detected genes) so
    that near-identical samples are not flagged for differences of a few percent.

    Parameters
    ----------
    stats
        Output of :func:`library_stats`.
    distances
        Sample x sample distances.
    n_mad
        Threshold in MADs.
    groups
        Experimental group of each sample (e.g. the condition), for the distance metric.

    Returns
    -------
    ``stats`` with columns ``median_distance`` (within group), one robust z-score per
    metric, ``outlier`` (bool) and ``outlier_reason``.
    """
    out = stats.copy()
    out["median_distance"] = within_group_distance(distances, groups).reindex(out.index)
    out["z_library_size"] = robust_z(np.log10(out["library_size"].clip(lower=1)), 0.05)
    out["z_detected_genes"] = robust_z(np.log10(out["detected_genes"].clip(lower=1)), 0.01)
    out["z_median_distance"] = robust_z(np.log10(out["median_distance"].clip(lower=1e-9)), 0.05)
    rules = {
        "low library size": out["z_library_size"] < -n_mad,
        "few detected genes": out["z_detected_genes"] < -n_mad,
        "far from the other samples of its group": out["z_median_distance"] > n_mad,
    }
    reasons = pd.DataFrame(rules)
    out["outlier"] = reasons.any(axis=1)
    out["outlier_reason"] = reasons.apply(
        lambda row: "; ".join(k for k, v in row.items() if v), axis=1
    )
    return out
