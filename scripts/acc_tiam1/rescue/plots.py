"""Figures of the rescue stage: gene and gene-set scatter plots of pain vs ketamine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..plotting import plt, short

#: Colour of each rescue class (genes and gene sets) in scatter plots.
CLASS_COLOURS = {
    "fully_rescued": "#1a9850",
    "partially_rescued": "#91cf60",
    "not_rescued": "#d73027",
    "aggravated": "#7b3294",
    "inconclusive": "#fdae61",
    "ketamine_only": "#4575b4",
    "unchanged": "#d9d9d9",
    "not_tested": "#f0f0f0",
}


def rescue_scatter(
    classified: pd.DataFrame,
    highlight: Mapping[str, Sequence[str]],
    title: str,
    label_top: int = 15,
    pain_label: str = "pain",
    ketamine_label: str = "ketamine",
    ax=None,
):
    """Pain log2FC vs ketamine log2FC per gene, coloured by rescue class.

    The dashed line ``y = -x`` is full rescue. Genes of the ``highlight`` sets (the
    Tiam1/Rac1 modules) are drawn as black-edged diamonds; of those called anything but
    unchanged, the ``label_top`` with the largest pain effect are labelled.

    Parameters
    ----------
    classified
        Output of :func:`acc_tiam1.rescue.classify_genes`.
    highlight
        ``{label: genes}`` to mark.
    title
        Panel title.
    label_top
        Highlighted genes to label.
    pain_label, ketamine_label
        Contrast names for the axes.
    ax
        Axes to draw on; a new figure when None.
    """
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 5.6))
    t = classified.dropna(subset=["pain_log2FC", "ketamine_log2FC"])
    marked = set().union(*[set(g) for g in highlight.values()]) if highlight else set()
    for cls in reversed(list(CLASS_COLOURS)):
        sub = t[(t["class"] == cls) & ~t["gene"].isin(marked)]
        n = int((t["class"] == cls).sum())
        if n == 0:
            continue
        ax.scatter(
            sub["pain_log2FC"],
            sub["ketamine_log2FC"],
            s=6 if cls in ("unchanged", "not_tested") else 10,
            color=CLASS_COLOURS[cls],
            linewidths=0,
            rasterized=True,
            label=f"{cls.replace('_', ' ')} ({n})",
        )
    hi = t[t["gene"].isin(marked)]
    if len(hi):
        ax.scatter(
            hi["pain_log2FC"],
            hi["ketamine_log2FC"],
            s=30,
            marker="D",
            c=[CLASS_COLOURS[c] for c in hi["class"]],
            edgecolors="black",
            linewidths=0.7,
            label=f"Tiam1/Rac1 program genes ({len(hi)})",
            zorder=3,
        )
        called = hi[~hi["class"].isin(["unchanged", "not_tested"])]
        top = called.reindex(called["pain_log2FC"].abs().sort_values(ascending=False).index)
        for _, row in top.head(label_top).iterrows():
            ax.annotate(
                row["gene"],
                (row["pain_log2FC"], row["ketamine_log2FC"]),
                fontsize=6.5,
                xytext=(3, 3),
                textcoords="offset points",
                zorder=4,
            )
    both = t[["pain_log2FC", "ketamine_log2FC"]].to_numpy()
    lim = float(np.nanmax(np.abs(both))) if len(t) else 1.0
    lim = min(max(lim, 1.0), 8.0) * 1.05
    ax.plot(
        [-lim, lim],
        [lim, -lim],
        color="black",
        linestyle="--",
        linewidth=0.7,
        label="full rescue (y = -x)",
    )
    ax.axhline(0, color="black", linewidth=0.4)
    ax.axvline(0, color="black", linewidth=0.4)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel(f"log2 fold change, {pain_label}")
    ax.set_ylabel(f"log2 fold change, {ketamine_label}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper right", frameon=False)
    if fig is not None:
        fig.tight_layout()
    return fig


def pathway_scatter(
    reversal: pd.DataFrame,
    title: str,
    focus: Sequence[str] = (),
    pain_label: str = "pain",
    ketamine_label: str = "ketamine",
    ax=None,
):
    """NES in the pain vs the ketamine contrast, one point per gene set, by rescue class.

    Parameters
    ----------
    reversal
        Output of :func:`acc_tiam1.rescue.pathway_rescue`.
    title
        Panel title.
    focus
        Set names to label.
    ax
        Axes to draw on; a new figure when None.
    """
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5.4))
    t = reversal.dropna(subset=["NES_pain", "NES_ketamine"])
    for status, colour in CLASS_COLOURS.items():
        sub = t[t["class"] == status]
        if len(sub):
            ax.scatter(
                sub["NES_pain"],
                sub["NES_ketamine"],
                s=14,
                color=colour,
                edgecolors="none",
                label=f"{status.replace('_', ' ')} ({len(sub)})",
            )
    for _, row in t[t["term"].isin(list(focus))].iterrows():
        ax.annotate(
            short(row["term"], 30),
            (row["NES_pain"], row["NES_ketamine"]),
            fontsize=6.5,
            xytext=(3, 3),
            textcoords="offset points",
        )
    lim = float(np.nanmax(np.abs(t[["NES_pain", "NES_ketamine"]].to_numpy()))) if len(t) else 1
    lim = max(lim, 1.0) * 1.1
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.plot([-lim, lim], [lim, -lim], color="black", linestyle="--", linewidth=0.6)
    ax.axhline(0, color="black", linewidth=0.4)
    ax.axvline(0, color="black", linewidth=0.4)
    ax.set_xlabel(f"NES, {pain_label}")
    ax.set_ylabel(f"NES, {ketamine_label}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper right", title="rescue class", title_fontsize=7)
    if fig is not None:
        fig.tight_layout()
    return fig
