"""Volcano and MA plots of a DE table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.text import Text

from ..plotting import DOWN, GREY, UP, log_scale, plt


def _labels(table: pd.DataFrame, label_top: int, highlight: Sequence[str]) -> pd.DataFrame:
    ranked = table.dropna(subset=["padj"]).head(label_top)
    extra = table[table["gene"].isin(highlight)]
    return pd.concat([ranked, extra]).drop_duplicates("gene_id")


def _text_box(label, renderer):
    """A label's own box in display pixels, at its current position.

    An Annotation's extent also covers its leader line; this is the text alone.
    """
    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer)


def _annotate(ax, rows: pd.DataFrame, x: str, y: pd.Series, fontsize: float = 7) -> None:
    """Label points; labels that would overlap are pushed down, with a leader line.

    Deterministic greedy placement in display space: labels are placed from the top, and
    each is moved below any already placed label its measured box would overlap. Call it
    after the figure's layout is final (positions depend on it); it fixes the data limits
    itself rather than drawing the figure, which would cost a whole render. Offsets are
    in points, so the placement holds at the dpi the figure is saved with. A label that
    would run past the axes' right edge goes to the left of its point instead, so labels
    stay inside the figure.
    """
    ax.autoscale_view()
    renderer = ax.figure.canvas.get_renderer()
    pt_per_px = 72 / ax.figure.dpi
    to_px = ax.transData.transform
    points = [(row["gene"], row[x], y[row.name]) for _, row in rows.iterrows()]
    points = [p for p in points if np.isfinite(p[1]) and np.isfinite(p[2])]
    points.sort(key=lambda p: (-to_px((p[1], p[2]))[1], p[0]))
    placed: list = []  # boxes (display pixels) of the labels placed so far
    right = ax.bbox.x1
    for gene, px, py in points:
        text = {"text": gene, "xy": (px, py), "textcoords": "offset points", "fontsize": fontsize}
        dx, side = 4, 0  # side: where the leader line leaves the label (0 left, 1 right)
        label = ax.annotate(xytext=(dx, 4), **text)
        box = _text_box(label, renderer)
        if box.x1 > right:
            dx, side, text["ha"] = -4, 1, "right"
            label.xyann = (dx, 4)
            label.set_horizontalalignment("right")
            box = _text_box(label, renderer)
        dy = 0.0
        moved = True
        while moved:
            moved = False
            for other in placed:
                # 0.01 px of slack: a label just moved under another touches it exactly.
                overlaps_x = box.x0 < other.x1 and other.x0 < box.x1
                overlaps_y = box.y0 + dy < other.y1 - 0.01 and other.y0 < box.y1 + dy - 0.01
                if overlaps_x and overlaps_y:
                    dy = other.y0 - box.y1
                    moved = True
        placed.append(box.translated(0, dy))
        if dy < -0.5:
            label.remove()
            # The line starts at the label's edge facing the point, half-way up, and goes
            # to the point unclipped: clipping it at the label's box (matplotlib's
            # default) took a quarter of the time of drawing every DE figure.
            leader = {
                "arrowstyle": "-",
                "color": "#777",
                "lw": 0.5,
                "shrinkA": 0,
                "shrinkB": 0,
                "patchA": None,
                "relpos": (side, 0.5),
            }
            ax.annotate(xytext=(dx, 4 + dy * pt_per_px), arrowprops=leader, **text)


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
    n_up = int((sig & (t["log2FoldChange"] > 0)).sum())
    n_down = int((sig & (t["log2FoldChange"] < 0)).sum())
    ax.set_xlabel("log2 fold change (unshrunk)")
    ax.set_ylabel("-log10 p-value")
    ax.set_title(f"{title}\n{n_up} up, {n_down} down at padj < {padj_threshold:g}", fontsize=10)
    fig.tight_layout()
    _annotate(ax, _labels(t, label_top, highlight), "log2FoldChange", y)
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
    log_scale(ax, x=True)
    ax.set_xlabel("mean of normalised counts")
    ax.set_ylabel("log2 fold change" + (" (apeGLM-shrunk)" if shrunk else " (unshrunk)"))
    ax.set_title(f"{title}\nred: padj < {padj_threshold:g}", fontsize=10)
    fig.tight_layout()
    _annotate(ax, _labels(t, label_top, highlight), "baseMean", t[lfc_col])
    return fig
