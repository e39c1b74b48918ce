"""Volcano and MA plots of a DE table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..plotting import DOWN, GREY, UP, plt


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
            gene,
            (px, py),
            xytext=(lx - X, ly - Y),
            textcoords="offset pixels",
            fontsize=7,
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
    ax.scatter(
        t["baseMean"], t[lfc_col], s=5, c=np.where(sig, UP, GREY), linewidths=0, rasterized=True
    )
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xscale("log")
    _annotate(ax, _labels(t, label_top, highlight), "baseMean", t[lfc_col])
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change" + (" (apeGLM-shrunk)" if shrunk else " (unshrunk)"))
    ax.set_title(f"{title}\nred: padj < {padj_threshold:g}")
    fig.tight_layout()
    return fig
