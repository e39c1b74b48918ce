"""Figures of the workflow, one function per figure; each returns a matplotlib Figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

UP = "#c0392b"
DOWN = "#2e6db4"
GREY = "#b8b8b8"


def save(fig, path: str | Path, dpi: int = 120) -> None:
    """Save a figure (atomically, without run-dependent metadata) and close it."""
    from .io import atomic_output

    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=dpi,
                    bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def _palette(levels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10" if len(levels) <= 10 else "tab20")
    return {lvl: cmap(i % cmap.N) for i, lvl in enumerate(levels)}


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
    colours = _palette(levels)
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
        colours = _palette(levels)
        for lvl in levels:
            idx = sheet.index[sheet[cov] == lvl]
            ax.scatter(scores.loc[idx, "PC1"], scores.loc[idx, "PC2"], s=28,
                       color=colours[lvl], label=lvl, edgecolor="black", linewidth=0.3)
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
        if len(d) > 2 else np.arange(len(d))
    )
    names = distances.index[order]
    fig, ax = plt.subplots(figsize=(0.28 * len(names) + 3.5, 0.28 * len(names) + 2))
    im = ax.imshow(d[np.ix_(order, order)], cmap="viridis_r")
    labels = [
        f"{s} ({', '.join(str(sheet.loc[s, c]) for c in covariates)})" for s in names
    ]
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(names)), labels, fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.6, label="Euclidean distance (VST)")
    ax.set_title("Sample distances")
    fig.tight_layout()
    return fig


def _labels(table: pd.DataFrame, label_top: int, highlight: Sequence[str]) -> pd.DataFrame:
    ranked = table.dropna(subset=["padj"]).head(label_top)
    extra = table[table["gene"].isin(highlight)]
    return pd.concat([ranked, extra]).drop_duplicates("gene_id")


def _annotate(ax, rows: pd.DataFrame, x: str, y: pd.Series, min_gap: float = 9.0) -> None:
    """Label points; labels that would overlap are pushed down, with a leader line.

    Deterministic greedy placement in display (pixel) space: labels are placed from the
    top, and each is moved below any already placed label it would collide with.
    """
    ax.figure.canvas.draw()
    to_px = ax.transData.transform
    points = [(row["gene"], row[x], y[row.name]) for _, row in rows.iterrows()]
    points = [p for p in points if np.isfinite(p[1]) and np.isfinite(p[2])]
    points.sort(key=lambda p: (-to_px((p[1], p[2]))[1], p[0]))
    placed: list[tuple[float, float, float]] = []
    for gene, px, py in points:
        X, Y = to_px((px, py))
        lx, ly = X + 4, Y + 4
        width = 4.2 * len(str(gene)) + 4
        moved = True
        while moved:
            moved = False
            for ox, oy, ow in placed:
                if abs(ly - oy) < min_gap and lx < ox + ow and ox < lx + width:
                    ly = oy - min_gap
                    moved = True
        placed.append((lx, ly, width))
        shifted = abs(ly - (Y + 4)) > 0.5
        ax.annotate(
            gene, (px, py), xytext=(lx - X, ly - Y), textcoords="offset pixels", fontsize=7,
            arrowprops={"arrowstyle": "-", "color": "#777", "lw": 0.5} if shifted else None,
        )


def volcano(
    table: pd.DataFrame,
    title: str,
    padj_threshold: float = 0.05,
    lfc_threshold: float = 0.0,
    label_top: int = 15,
    highlight: Sequence[str] = (),
):
    """Volcano plot: log2 fold change vs -log10 p-value; significant genes coloured.

    Parameters
    ----------
    table
        A DE table (columns of :data:`acc_tiam1.de.DE_COLUMNS`).
    title
        Figure title.
    padj_threshold
        Genes with ``padj`` below it are coloured.
    lfc_threshold
        Absolute log2 fold change drawn as dashed guide lines (0: none).
    label_top
        Most significant genes to label.
    highlight
        Genes labelled whenever present.
    """
    t = table.dropna(subset=["pvalue"]).copy()
    y = -np.log10(t["pvalue"].clip(lower=1e-300))
    sig = (t["padj"] < padj_threshold) & (t["log2FoldChange"].abs() >= lfc_threshold)
    colour = np.where(sig & (t["log2FoldChange"] > 0), UP, np.where(sig, DOWN, GREY))
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(t["log2FoldChange"], y, s=5, c=colour, linewidths=0, rasterized=True)
    if lfc_threshold > 0:
        for v in (-lfc_threshold, lfc_threshold):
            ax.axvline(v, color="black", linestyle="--", linewidth=0.6)
    _annotate(ax, _labels(t, label_top, highlight), "log2FoldChange", y)
    n_up = int((sig & (t["log2FoldChange"] > 0)).sum())
    n_down = int((sig & (t["log2FoldChange"] < 0)).sum())
    ax.set_xlabel("log2 fold change (unshrunk)")
    ax.set_ylabel("-log10 p-value")
    ax.set_title(f"{title}\n{n_up} up, {n_down} down at padj < {padj_threshold:g}")
    fig.tight_layout()
    return fig


def ma(
    table: pd.DataFrame,
    title: str,
    padj_threshold: float = 0.05,
    label_top: int = 15,
    highlight: Sequence[str] = (),
):
    """MA plot: mean of normalised counts vs log2 fold change (shrunk where available)."""
    t = table[table["baseMean"] > 0].copy()
    shrunk = t["log2FoldChange_shrunk"].notna().any()
    lfc_col = "log2FoldChange_shrunk" if shrunk else "log2FoldChange"
    sig = t["padj"] < padj_threshold
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.scatter(t["baseMean"], t[lfc_col], s=5, c=np.where(sig, UP, GREY), linewidths=0,
               rasterized=True)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xscale("log")
    _annotate(ax, _labels(t, label_top, highlight), "baseMean", t[lfc_col])
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change" + (" (apeGLM-shrunk)" if shrunk else " (unshrunk)"))
    ax.set_title(f"{title}\nred: padj < {padj_threshold:g}")
    fig.tight_layout()
    return fig
