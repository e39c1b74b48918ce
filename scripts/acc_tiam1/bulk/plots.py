"""Bulk QC figures: library sizes, PCA per covariate, sample distances."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..plotting import palette, plt


def library_sizes(stats: pd.DataFrame, groups: pd.Series, outliers: pd.Series):
    """Bar charts of library size and detected genes per sample, coloured by group.

    Parameters
    ----------
    stats
        Columns ``library_size`` and ``detected_genes``, indexed by sample.
    groups
        Group of each sample (for colour).
    outliers
        Boolean per sample; flagged samples get a star.
    """
    levels = sorted(groups.unique())
    colours = palette(levels)
    fig, axes = plt.subplots(1, 2, figsize=(max(8, 0.45 * len(stats) * 2), 4))
    for ax, col, label in zip(
        axes,
        ["library_size", "detected_genes"],
        ["library size (million reads)", "detected genes (count > 0)"],
        strict=True,
    ):
        vals = stats[col] / (1e6 if col == "library_size" else 1)
        ax.bar(range(len(vals)), vals, color=[colours[groups[s]] for s in stats.index])
        for i, s in enumerate(stats.index):
            if outliers.get(s, False):
                ax.text(i, vals.iloc[i], "*", ha="center", va="bottom", fontsize=14)
        ax.set_xticks(range(len(vals)), stats.index, rotation=90, fontsize=7)
        ax.set_ylabel(label)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[lvl]) for lvl in levels]
    axes[1].legend(handles, levels, fontsize=7, loc="lower right", title=groups.name)
    fig.suptitle("Library size and detected genes per sample (* = flagged outlier)")
    fig.tight_layout()
    return fig


def pca_grid(
    scores: pd.DataFrame, explained: np.ndarray, sheet: pd.DataFrame, covariates: Sequence[str]
):
    """PC1 vs PC2 of samples, one panel per covariate.

    Parameters
    ----------
    scores
        Samples x PCs.
    explained
        Variance fraction per PC.
    sheet
        Sample sheet, for colours.
    covariates
        Columns of ``sheet`` to colour by.
    """
    n = max(len(covariates), 1)
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.8 * nrow), squeeze=False)
    for ax, cov in zip(axes.flat, covariates, strict=False):
        levels = sorted(sheet[cov].unique())
        colours = palette(levels)
        for lvl in levels:
            idx = sheet.index[sheet[cov] == lvl]
            ax.scatter(
                scores.loc[idx, "PC1"],
                scores.loc[idx, "PC2"],
                s=28,
                color=colours[lvl],
                label=lvl,
                edgecolor="black",
                linewidth=0.3,
            )
        ax.set_xlabel(f"PC1 ({100 * explained[0]:.1f}%)")
        ax.set_ylabel(f"PC2 ({100 * explained[1]:.1f}%)" if len(explained) > 1 else "PC2")
        ax.set_title(cov)
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def distance_heatmap(distances: pd.DataFrame, sheet: pd.DataFrame, covariates: Sequence[str]):
    """Sample-to-sample distance heatmap, samples ordered by hierarchical clustering."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    d = distances.to_numpy()
    order = (
        leaves_list(linkage(squareform(d, checks=False), method="average"))
        if len(d) > 2
        else np.arange(len(d))
    )
    names = distances.index[order]
    fig, ax = plt.subplots(figsize=(0.28 * len(names) + 3.5, 0.28 * len(names) + 2))
    im = ax.imshow(d[np.ix_(order, order)], cmap="viridis_r")
    labels = [f"{s} ({', '.join(str(sheet.loc[s, c]) for c in covariates)})" for s in names]
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(names)), labels, fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.6, label="Euclidean distance (VST)")
    ax.set_title("Sample distances")
    fig.tight_layout()
    return fig
