"""Figures of the enrichment stage: NES heatmaps, running sums, bulk vs pseudobulk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..plotting import DOWN, GREY, UP, fmt_p, plt, short


def nes_heatmap(nes: pd.DataFrame, marks: pd.DataFrame, title: str, legend: str, n_focus: int = 0):
    """Heatmap of NES, datasets (rows) x gene sets (columns), with significance marks.

    Parameters
    ----------
    nes
        NES; NaN = not tested (drawn grey, ``n.t.``).
    marks
        Same shape and labels: the text drawn in each cell (e.g. ``*``), ``""`` for none.
    title
        Figure title.
    legend
        What the marks mean (second title line).
    n_focus
        The first ``n_focus`` columns are the focus sets; a line separates them.
    """
    n_rows, n_cols = nes.shape
    fig, ax = plt.subplots(figsize=(max(6.0, 0.42 * n_cols + 3.0), max(3.2, 0.45 * n_rows + 3.0)))
    values = nes.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    lim = max(2.5, float(np.abs(finite).max()) if finite.size else 2.5)
    cmap = plt.get_cmap("RdBu_r").copy()
    cmap.set_bad("#e0e0e0")
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    text = marks.reindex(index=nes.index, columns=nes.columns).fillna("").to_numpy(dtype=str)
    for i in range(n_rows):
        for j in range(n_cols):
            if not np.isfinite(values[i, j]):
                ax.text(j, i, "n.t.", ha="center", va="center", fontsize=6, color="#707070")
                continue
            if text[i, j]:
                colour = "white" if abs(values[i, j]) > 0.6 * lim else "black"
                ax.text(j, i, text[i, j], ha="center", va="center", fontsize=9, color=colour)
    if 0 < n_focus < n_cols:
        ax.axvline(n_focus - 0.5, color="black", linewidth=1.2)
    ax.set_xticks(
        range(n_cols), [short(c) for c in nes.columns], rotation=60, ha="right", fontsize=7
    )
    ax.set_yticks(range(n_rows), nes.index, fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.7, label="NES (GSEA)")
    ax.set_title(f"{title}\n{legend}", fontsize=8)
    fig.tight_layout()
    return fig


def running_sum_panels(panels: Sequence[Mapping], title: str):
    """Running-sum (enrichment) plots, one column per panel.

    Parameters
    ----------
    panels
        Each with ``title``, ``curve`` (running sum at every rank), ``hits`` (ranks of
        the set's genes), ``metric`` (ranking values, descending), ``es``, ``nes``,
        ``fdr`` and optionally ``fdr_label`` (what ``fdr`` is; default "FDR").
    title
        Figure title.
    """
    n = len(panels)
    ncol = min(n, 3)
    nrow = int(np.ceil(n / ncol))
    height = 3.9 * nrow
    fig = plt.figure(figsize=(4.2 * ncol, height))
    outer = fig.add_gridspec(
        nrow, ncol, hspace=0.55, wspace=0.3, top=1 - 0.85 / height, bottom=0.5 / height
    )
    for p, spec in zip(panels, outer, strict=False):
        inner = spec.subgridspec(3, 1, height_ratios=[3, 0.5, 1.2], hspace=0.05)
        ax_es = fig.add_subplot(inner[0])
        ax_hit = fig.add_subplot(inner[1], sharex=ax_es)
        ax_m = fig.add_subplot(inner[2], sharex=ax_es)
        x = np.arange(len(p["curve"]))
        colour = UP if p["es"] >= 0 else DOWN
        ax_es.plot(x, p["curve"], color=colour, linewidth=1.2)
        ax_es.axhline(0, color="black", linewidth=0.5)
        peak = int(np.argmax(p["curve"]) if p["es"] >= 0 else np.argmin(p["curve"]))
        ax_es.axvline(peak, color=colour, linestyle="--", linewidth=0.6)
        ax_es.set_ylabel("running sum", fontsize=7)
        label = p.get("fdr_label", "FDR")
        ax_es.set_title(f"{p['title']}\nNES {p['nes']:.2f}, {label} {fmt_p(p['fdr'])}", fontsize=8)
        ax_hit.vlines(p["hits"], 0, 1, color="black", linewidth=0.5)
        ax_hit.set_yticks([])
        ax_m.fill_between(x, p["metric"], 0, color=GREY, linewidth=0)
        ax_m.axhline(0, color="black", linewidth=0.4)
        ax_m.set_ylabel("Wald stat", fontsize=7)
        ax_m.set_xlabel("gene rank", fontsize=7)
        for ax in (ax_es, ax_hit):
            plt.setp(ax.get_xticklabels(), visible=False)
        for ax in (ax_es, ax_hit, ax_m):
            ax.tick_params(labelsize=6)
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / height)
    return fig


def bulk_vs_pseudobulk(
    long: pd.DataFrame, title: str, focus: Sequence[str] = (), threshold: float = 0.05
):
    """NES in bulk (x) vs NES in each cell type's pseudobulk (y), one panel per cell type.

    Parameters
    ----------
    long
        Long GSEA table of one contrast (columns ``dataset``, ``source``, ``term``,
        ``NES``, ``FDR``, ``tested``); dataset ``bulk`` plus the cell types.
    title
        Figure title.
    focus
        Set names drawn as labelled diamonds.
    threshold
        Sets with FDR below it in either dataset are drawn dark.
    """
    t = long[long["tested"].astype(bool)]
    bulk = t[t["dataset"] == "bulk"].set_index(["source", "term"])
    others = [d for d in pd.unique(t["dataset"]) if d != "bulk"]
    n = max(len(others), 1)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.5 * nrow), squeeze=False)
    for ax, ds in zip(axes.flat, others, strict=False):
        cell = t[t["dataset"] == ds].set_index(["source", "term"])
        both = bulk[["NES", "FDR"]].join(
            cell[["NES", "FDR"]], how="inner", lsuffix="_bulk", rsuffix="_cell"
        )
        sig = (both["FDR_bulk"] < threshold) | (both["FDR_cell"] < threshold)
        ax.scatter(
            both.loc[~sig, "NES_bulk"], both.loc[~sig, "NES_cell"], s=6, color=GREY, linewidths=0
        )
        ax.scatter(
            both.loc[sig, "NES_bulk"], both.loc[sig, "NES_cell"], s=8, color="#444444", linewidths=0
        )
        terms = both.index.get_level_values("term")
        fo = both[np.isin(terms, list(focus))]
        ax.scatter(
            fo["NES_bulk"],
            fo["NES_cell"],
            s=28,
            marker="D",
            color=UP,
            edgecolors="black",
            linewidths=0.6,
        )
        for (_, term), row in fo.iterrows():
            ax.annotate(
                short(term, 24),
                (row["NES_bulk"], row["NES_cell"]),
                fontsize=6,
                xytext=(3, 3),
                textcoords="offset points",
            )
        r = both["NES_bulk"].corr(both["NES_cell"]) if len(both) > 2 else np.nan
        ax.axhline(0, color="black", linewidth=0.4)
        ax.axvline(0, color="black", linewidth=0.4)
        ax.set_title(f"{ds}\nPearson r = {r:.2f} ({len(both)} sets)", fontsize=8)
        ax.set_xlabel("NES, bulk", fontsize=8)
        ax.set_ylabel("NES, pseudobulk", fontsize=8)
    for ax in list(axes.flat)[len(others) :]:
        ax.axis("off")
    if not others:
        axes.flat[0].text(0.5, 0.5, "no pseudobulk data", ha="center", va="center")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (3.5 * nrow)))
    return fig
