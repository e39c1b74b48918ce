"""Figures of the single-nucleus branch; each function returns a matplotlib Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..plotting import GREY, log_scale, plt
from ..plotting import palette as base_palette

KEPT = "#2e6db4"
REMOVED = "#c0392b"
DOUBLET = "#e69f00"


def palette(levels: Sequence[str]) -> dict[str, tuple]:
    """Distinct colours for up to 40 levels (tab20 then tab20b), grey for Unassigned."""
    if len(levels) <= 10:
        return base_palette(levels)
    colours = [*plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors]
    out = {lvl: colours[i % len(colours)] for i, lvl in enumerate(levels)}
    if "Unassigned" in out:
        out["Unassigned"] = (0.6, 0.6, 0.6, 1.0)
    return out


def _stacked_hist(ax, groups, bins, colours, labels):
    """A stacked histogram drawn as one filled step outline per group.

    ``ax.hist`` draws one rectangle per bin and group: some 5,000 patches in a sample's
    QC figure, whose creation was a third of the time the figure took.
    """
    groups = [np.asarray(g, dtype=float) for g in groups]
    groups = [g[np.isfinite(g)] for g in groups]
    edges = np.histogram_bin_edges(np.concatenate(groups), bins)
    bottom = np.zeros(len(edges) - 1)
    for values, colour, label in zip(groups, colours, labels, strict=True):
        top = bottom + np.histogram(values, edges)[0]
        ax.stairs(top, edges, baseline=bottom, fill=True, color=colour, label=label)
        bottom = top


def _hist(ax, values, removed, bins, log=False, label=""):
    values = np.asarray(values, dtype=float)
    if log:
        values = np.log10(np.clip(values, 1, None))
    _stacked_hist(
        ax, [values[~removed], values[removed]], bins, [KEPT, REMOVED], ["kept", "removed"]
    )
    ax.set_xlabel(label)
    ax.set_ylabel("nuclei")


def qc_sample(nuclei: pd.DataFrame, summary: Mapping, sample: str):
    """Per-nucleus QC metrics of one sample with the thresholds used.

    Parameters
    ----------
    nuclei
        Per-nucleus table of :func:`acc_tiam1.snrna.sample_qc`.
    summary
        Its one-row summary (thresholds, counts per filter) as a mapping.
    sample
        Sample id (title).
    """
    removed = ~nuclei["kept"].to_numpy(dtype=bool)
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    ax = axes[0, 0]
    _hist(ax, nuclei["total_counts"], removed, 50, log=True, label="log10 UMIs per nucleus")
    for k in ("threshold_min_counts", "threshold_max_counts"):
        ax.axvline(np.log10(max(summary[k], 1)), color="black", ls="--", lw=0.8)
    ax.legend(fontsize=8, loc="upper right")
    ax = axes[0, 1]
    _hist(ax, nuclei["n_genes"], removed, 50, log=True, label="log10 genes detected")
    for k in ("threshold_min_genes", "threshold_max_genes"):
        ax.axvline(np.log10(max(summary[k], 1)), color="black", ls="--", lw=0.8)
    ax = axes[0, 2]
    _hist(ax, nuclei["pct_mito"], removed, 60, label="% mitochondrial UMIs")
    ax.axvline(summary["threshold_max_pct_mito"], color="black", ls="--", lw=0.8)
    log_scale(ax, y=True)
    ax = axes[1, 0]
    sc_ = ax.scatter(
        nuclei["total_counts"],
        nuclei["n_genes"],
        c=nuclei["pct_mito"].clip(0, 10),
        s=3,
        cmap="viridis",
        rasterized=True,
        linewidths=0,
    )
    ax.scatter(
        nuclei.loc[removed, "total_counts"],
        nuclei.loc[removed, "n_genes"],
        s=8,
        facecolors="none",
        edgecolors=REMOVED,
        linewidths=0.4,
        rasterized=True,
    )
    log_scale(ax, x=True, y=True)
    ax.set_xlabel("UMIs")
    ax.set_ylabel("genes detected")
    fig.colorbar(sc_, ax=ax, label="% mito (clipped at 10)")
    ax = axes[1, 1]
    scores = nuclei["doublet_score"].dropna()
    if len(scores):
        dbl = nuclei.loc[scores.index, "predicted_doublet"].to_numpy(dtype=bool)
        groups = [scores[~dbl], scores[dbl]]
        _stacked_hist(ax, groups, 50, [KEPT, DOUBLET], ["singlet", "doublet"])
        thr = summary.get("threshold_doublet_score")
        if thr is not None and np.isfinite(thr):
            ax.axvline(thr, color="black", ls="--", lw=0.8)
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(0.5, 0.5, "doublet detection off", ha="center", transform=ax.transAxes)
    ax.set_xlabel("Scrublet doublet score (QC-passing nuclei)")
    ax.set_ylabel("nuclei")
    ax = axes[1, 2]
    ax.axis("off")
    lines = [f"nuclei in: {summary['nuclei_in']}"]
    for k in ("low_counts", "high_counts", "low_genes", "high_genes", "high_mito"):
        lines.append(f"{k.replace('_', ' ')}: {summary[k]}")
    lines += [
        f"failed any QC filter: {summary['failed_qc']}",
        f"doublets (of QC-passing): {summary['doublets']}",
        f"kept: {summary['nuclei_kept']} ({summary['pct_kept']}%)",
    ]
    ax.text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=10)
    fig.suptitle(f"snRNA QC: {sample} (dashed: thresholds; red: removed)")
    fig.tight_layout()
    return fig


def qc_overview(summary: pd.DataFrame):
    """Nuclei kept, failing QC and called doublets per sample (stacked bars)."""
    s = summary.set_index("sample")
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(s) + 2), 4.5))
    x = np.arange(len(s))
    ax.bar(x, s["nuclei_kept"], color=KEPT, label="kept")
    ax.bar(x, s["failed_qc"], bottom=s["nuclei_kept"], color=REMOVED, label="failed QC")
    bottom = s["nuclei_kept"] + s["failed_qc"]
    ax.bar(x, s["doublets"], bottom=bottom, color=DOUBLET, label="doublets (Scrublet)")
    if "coexpression_doublets" in s:
        ax.bar(
            x,
            s["coexpression_doublets"],
            bottom=bottom + s["doublets"],
            color="#8e44ad",
            label="doublets (marker co-expression)",
        )
    ax.set_xticks(x, s.index, rotation=90)
    ax.set_ylabel("nuclei")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Nuclei per sample after QC and doublet removal")
    fig.tight_layout()
    return fig


def _order(n: int, seed: int = 0) -> np.ndarray:
    # Random drawing order so that no group hides another.
    return np.random.default_rng(seed).permutation(n)


def umap_categorical(
    coords: np.ndarray,
    labels: pd.Series,
    title: str,
    label_on_data: bool = False,
    max_legend: int = 40,
):
    """UMAP coloured by a categorical variable."""
    levels = list(labels.cat.categories if hasattr(labels, "cat") else sorted(labels.unique()))
    levels = [lvl for lvl in levels if (labels == lvl).any()]
    colours = palette(levels)
    order = _order(len(labels))
    fig, ax = plt.subplots(figsize=(8.5, 7))
    point = max(0.3, min(6.0, 12000 / max(len(labels), 1)))
    c = [colours[v] for v in np.asarray(labels)[order]]
    ax.scatter(coords[order, 0], coords[order, 1], c=c, s=point, linewidths=0, rasterized=True)
    if label_on_data:
        for lvl in levels:
            m = np.asarray(labels == lvl)
            x, y = np.median(coords[m, 0]), np.median(coords[m, 1])
            ax.text(
                x,
                y,
                lvl,
                fontsize=8,
                ha="center",
                va="center",
                weight="bold",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.6, "lw": 0},
            )
    if len(levels) <= max_legend:
        handles = [plt.Line2D([], [], marker="o", ls="", color=colours[lvl]) for lvl in levels]
        ax.legend(
            handles, levels, fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left"
        )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def umap_genes(coords: np.ndarray, values: Mapping[str, np.ndarray], title: str):
    """UMAP coloured by the log-normalised expression of genes, one panel per gene."""
    names = list(values) or ["(no gene found)"]
    n = len(names)
    ncol = min(n, 2)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.5 * ncol, 6.5 * nrow), squeeze=False)
    point = max(0.3, min(6.0, 12000 / max(len(coords), 1)))
    for ax, gene in zip(axes.flat, names, strict=False):
        v = np.asarray(values.get(gene, np.zeros(len(coords))), dtype=float)
        order = np.argsort(v, kind="stable")  # expressing nuclei on top
        im = ax.scatter(
            coords[order, 0],
            coords[order, 1],
            c=v[order],
            s=point,
            cmap="viridis",
            linewidths=0,
            rasterized=True,
        )
        fig.colorbar(im, ax=ax, shrink=0.7, label="log1p(counts per 10k)")
        ax.set_title(f"{gene} ({(v > 0).mean():.0%} of nuclei detect it)")
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def dotplot(
    mean: pd.DataFrame, fraction: pd.DataFrame, groups: Mapping[str, Sequence[str]], title: str
):
    """Marker dot plot: colour = mean expression scaled per gene, size = fraction detecting.

    Parameters
    ----------
    mean, fraction
        Cell types (rows) x genes (columns).
    groups
        ``{cell type: markers}`` in display order; genes are drawn in this order, with
        the marker set of each type bracketed.
    """
    genes = [g for gs in groups.values() for g in gs if g in mean.columns]
    genes = list(dict.fromkeys(genes))
    rows = list(mean.index)
    m = mean.loc[rows, genes]
    scaled = (m - m.min()) / (m.max() - m.min()).replace(0, 1)
    f = fraction.loc[rows, genes]
    fig, ax = plt.subplots(figsize=(0.22 * len(genes) + 3.5, 0.3 * len(rows) + 2.2))
    yy, xx = np.meshgrid(np.arange(len(rows)), np.arange(len(genes)), indexing="ij")
    sc_ = ax.scatter(
        xx.ravel(),
        yy.ravel(),
        s=(f.to_numpy().ravel() * 60),
        c=scaled.to_numpy().ravel(),
        cmap="Reds",
        vmin=0,
        vmax=1,
        edgecolors="grey",
        linewidths=0.2,
    )
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlim(-0.7, len(genes) - 0.3)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    pos = 0
    for ct, gs in groups.items():
        k = len([g for g in gs if g in genes])
        if k:
            ax.annotate(
                "",
                xy=(pos - 0.4, -0.9),
                xytext=(pos + k - 0.6, -0.9),
                arrowprops={"arrowstyle": "-", "lw": 0.8},
                annotation_clip=False,
            )
            ax.text(pos + (k - 1) / 2, -1.1, ct, rotation=90, ha="center", va="bottom", fontsize=6)
        pos += k
    fig.colorbar(sc_, ax=ax, shrink=0.5, label="mean expression (scaled per gene)")
    for frac in (0.25, 0.5, 1.0):
        ax.scatter([], [], s=frac * 60, color="grey", label=f"{frac:.0%}")
    ax.legend(
        title="detected in",
        fontsize=7,
        title_fontsize=7,
        frameon=False,
        bbox_to_anchor=(1.12, 0.0),
        loc="lower left",
    )
    ax.set_title(title, pad=70)
    fig.tight_layout()
    return fig


def cluster_scores(means: pd.DataFrame, assigned: pd.Series):
    """Heatmap of mean marker score per Leiden cluster (rows) and cell type (columns)."""
    rows = [f"{c} -> {assigned[c]}" for c in means.index]
    fig, ax = plt.subplots(figsize=(0.35 * means.shape[1] + 3, 0.28 * means.shape[0] + 2))
    v = means.to_numpy(dtype=float)
    lim = np.nanmax(np.abs(v)) if np.isfinite(v).any() else 1
    im = ax.imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(means.shape[1]), means.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(means.shape[0]), rows, fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.6, label="mean marker score (z)")
    ax.set_title("Marker scores per Leiden cluster (row label: assigned type)")
    fig.tight_layout()
    return fig


def composition_bars(props: pd.DataFrame, groups: pd.Series, title: str):
    """Stacked bars of each sample's cell-type proportions, samples grouped."""
    order = groups.sort_values(kind="stable").index
    p = props.loc[order]
    colours = palette(list(p.columns))
    fig, ax = plt.subplots(figsize=(max(7, 0.45 * len(p) + 4), 5.5))
    bottom = np.zeros(len(p))
    for ct in p.columns:
        ax.bar(range(len(p)), p[ct], bottom=bottom, color=colours[ct], label=ct, width=0.85)
        bottom += p[ct].to_numpy()
    labels = [f"{s} ({groups[s]})" for s in p.index]
    ax.set_xticks(range(len(p)), labels, rotation=90, fontsize=7)
    ax.set_ylabel("fraction of nuclei")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _strip(
    ax,
    values: pd.DataFrame,
    x_levels: Sequence[str],
    group_col: str,
    group_levels: Sequence[str],
    value_col: str = "value",
):
    colours = base_palette(list(group_levels))
    width = 0.8 / max(len(group_levels), 1)
    rng = np.random.default_rng(0)
    for i, xl in enumerate(x_levels):
        for j, gl in enumerate(group_levels):
            v = values.loc[(values["x"] == xl) & (values[group_col] == gl), value_col]
            pos = i - 0.4 + width * (j + 0.5)
            if len(v):
                ax.scatter(
                    pos + rng.uniform(-width / 4, width / 4, len(v)),
                    v,
                    s=14,
                    color=colours[gl],
                    edgecolor="black",
                    linewidths=0.3,
                    zorder=3,
                )
                ax.hlines(
                    v.mean(), pos - width / 2.5, pos + width / 2.5, color="black", lw=1.2, zorder=4
                )
    ax.set_xticks(range(len(x_levels)), x_levels, rotation=90, fontsize=7)
    ax.set_xlim(-0.6, len(x_levels) - 0.4)
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[g]) for g in group_levels]
    return handles


def composition_strips(
    props: pd.DataFrame,
    groups: pd.Series,
    group_levels: Sequence[str],
    tests: pd.DataFrame | None = None,
):
    """Per-sample proportion of every cell type by group (one point per animal)."""
    long = (
        props.rename_axis("sample")
        .reset_index()
        .melt(id_vars="sample", var_name="x", value_name="value")
    )
    long["group"] = long["sample"].map(groups)
    fig, ax = plt.subplots(figsize=(max(8, 0.55 * props.shape[1] + 3), 5))
    handles = _strip(ax, long, list(props.columns), "group", group_levels)
    log_scale(ax, y=True)
    ax.set_ylabel("fraction of nuclei (log scale)")
    ax.legend(
        handles, group_levels, fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left"
    )
    title = "Cell-type proportions per animal (bar: group mean)"
    if tests is not None and len(tests):
        sig = tests[tests["padj"] < 0.05]
        if len(sig):
            title += "\npadj < 0.05: " + "; ".join(
                f"{r.cell_type} ({r.contrast})" for r in sig.itertuples()
            )
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def per_animal(
    table: pd.DataFrame,
    features: Sequence[str],
    cell_types: Sequence[str],
    group_col: str,
    group_levels: Sequence[str],
    ylabel: str,
    title: str,
    zero_line: bool = False,
):
    """One row per feature: per-animal values by cell type (x) and group (colour)."""
    n = max(len(features), 1)
    fig, axes = plt.subplots(
        n, 1, figsize=(max(9, 0.6 * len(cell_types) + 3), 3.3 * n), squeeze=False
    )
    handles = []
    for ax, feat in zip(axes[:, 0], features, strict=False):
        sub = table[table["feature"] == feat].rename(columns={"cell_type": "x"})
        present = [c for c in cell_types if (sub["x"] == c).any()]
        handles = _strip(ax, sub, present, group_col, group_levels)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_title(feat, fontsize=10)
        if zero_line:
            ax.axhline(0, color=GREY, lw=0.5, zorder=0)
    if handles:
        axes[0, 0].legend(
            handles,
            group_levels,
            fontsize=7,
            frameon=False,
            bbox_to_anchor=(1.01, 1),
            loc="upper left",
        )
    if not len(features):
        axes[0, 0].text(
            0.5, 0.5, "no feature found in the data", ha="center", transform=axes[0, 0].transAxes
        )
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    return fig


def barcode_ranks(
    curves: Mapping[str, pd.DataFrame], summaries: Mapping[str, Mapping], rho: Mapping[str, float]
):
    """Barcode-rank curve of every sample with its empty-droplet range and contamination.

    Parameters
    ----------
    curves
        ``{sample: rank/total table}`` (empty for a sample without raw droplets).
    summaries
        ``{sample: QC summary row}`` with the soup basis and the empty-droplet range.
    rho
        ``{sample: estimated contamination}``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per sample, log-log.
    """
    n = max(len(curves), 1)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.9 * nrow), squeeze=False)
    for ax, (sample, curve) in zip(axes.flat, curves.items(), strict=False):
        row = summaries.get(sample, {})
        title = f"{sample}: contamination {rho.get(sample, np.nan):.3f}"
        if len(curve):
            ax.plot(curve["rank"], curve["total"], color=KEPT, lw=1.2)
            lo, hi = row.get("empty_floor", np.nan), row.get("empty_cutoff", np.nan)
            ax.axhspan(max(lo, 0.5), hi, color=GREY, alpha=0.35, label="empty droplets (soup)")
            log_scale(ax, x=True, y=True)
            ax.set(xlabel="barcode rank", ylabel="UMIs")
            ax.legend(fontsize=6, frameon=False, loc="lower left")
        else:
            ax.text(
                0.5,
                0.5,
                "no raw droplets:\nsoup from the nuclei",
                ha="center",
                va="center",
                fontsize=8,
                transform=ax.transAxes,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(title, fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def contamination(table: pd.DataFrame):
    """Estimated contamination per sample with its 95% bootstrap interval.

    Parameters
    ----------
    table
        The contamination table (``sample``, ``rho``, ``rho_low``, ``rho_high``,
        ``soup_basis``).

    Returns
    -------
    matplotlib.figure.Figure
        Points with intervals, hollow where the soup came from the nuclei.
    """
    fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(table) + 2), 3.6))
    x = np.arange(len(table))
    rho = table["rho"].to_numpy(dtype=float)
    low = table.get("rho_low", pd.Series(rho)).to_numpy(dtype=float)
    high = table.get("rho_high", pd.Series(rho)).to_numpy(dtype=float)
    ax.errorbar(x, rho, yerr=[rho - low, high - rho], fmt="none", ecolor=GREY, capsize=3)
    droplets = (table.get("soup_basis", "") == "empty_droplets").to_numpy()
    if droplets.any():
        ax.scatter(x[droplets], rho[droplets], color=KEPT, zorder=3, label="soup: empty droplets")
    if (~droplets).any():
        ax.scatter(
            x[~droplets],
            rho[~droplets],
            facecolors="white",
            edgecolors=KEPT,
            zorder=3,
            label="soup: nuclei (no raw droplets)",
        )
    ax.set_xticks(x, table["sample"], rotation=90)
    ax.set_ylabel("ambient share of the nuclei's UMIs")
    ax.set_ylim(bottom=0)
    ax.set_title("Ambient RNA contamination per sample")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
