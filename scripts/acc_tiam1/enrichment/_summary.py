"""Summaries over datasets: coverage, long tables, NES matrices, bulk vs pseudobulk."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def coverage_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Genes of each set found in each dataset, from GSEA result tables.

    Parameters
    ----------
    tables
        ``{dataset label: GSEA table}``.

    Returns
    -------
    pandas.DataFrame
        One row per set (``source, term, set_size``), one column of genes found per
        dataset, and ``tested_in`` (how many datasets tested the set).
    """
    frames = []
    tested = []
    for label, t in tables.items():
        frames.append(t.set_index(["source", "term"])["genes_found"].rename(label))
        tested.append(t.set_index(["source", "term"])["tested"].astype(bool).rename(label))
    if not frames:
        return pd.DataFrame(columns=["source", "term", "set_size", "tested_in"])
    sizes = pd.concat([t.set_index(["source", "term"])["set_size"] for t in tables.values()])
    sizes = sizes[~sizes.index.duplicated()]
    found = pd.concat(frames, axis=1)
    out = found.copy()
    out.insert(0, "set_size", sizes.reindex(found.index))
    out["tested_in"] = pd.concat(tested, axis=1).sum(axis=1)
    return out.reset_index()


def long_results(tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Mapping]) -> pd.DataFrame:
    """Stack GSEA tables into one long table with dataset columns.

    Parameters
    ----------
    tables
        ``{key: GSEA table}``.
    meta
        ``{key: {"dataset": ..., "branch": ..., "cell_type": ..., "contrast": ...}}``.
    """
    frames = []
    for key, t in tables.items():
        t = t.copy()
        for col, value in reversed(list(meta[key].items())):
            t.insert(0, col, value)
        frames.append(t)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def select_sets(
    long: pd.DataFrame, focus: Sequence[str], top: int, fdr: float
) -> list[tuple[str, str]]:
    """Gene sets to show in a summary heatmap: the focus sets, then the most significant.

    Parameters
    ----------
    long
        Long table (:func:`long_results`) of one contrast.
    focus
        Set names always shown (matched by term, in any source), in this order.
    top
        How many more sets to add: those with the smallest FDR in any dataset (only sets
        reaching ``fdr`` somewhere), ties by |NES|.
    fdr
        Significance threshold.

    Returns
    -------
    list of (source, term)
    """
    tested = long[long["tested"].astype(bool)]
    chosen: list[tuple[str, str]] = []
    for name in focus:
        for key in tested.loc[tested["term"] == name, ["source", "term"]].itertuples(index=False):
            if tuple(key) not in chosen:
                chosen.append(tuple(key))
    if top > 0 and len(tested):
        best = (
            tested.assign(abs_nes=tested["NES"].abs())
            .sort_values(["FDR", "abs_nes"], ascending=[True, False], kind="mergesort")
            .drop_duplicates(["source", "term"])
        )
        best = best[best["FDR"] < fdr]
        for key in best[["source", "term"]].itertuples(index=False):
            if len(chosen) >= len(focus) + top:
                break
            if tuple(key) not in chosen:
                chosen.append(tuple(key))
    return chosen


def log_summary(result: pd.DataFrame, fdr: float, where: str) -> None:
    """Log how many sets were tested and significant (for rule logs)."""
    tested = result["tested"].astype(bool)
    sig = tested & (result["FDR"] < fdr)
    logging.info(
        "%s: %d of %d gene sets tested; %d up and %d down at FDR < %g",
        where,
        int(tested.sum()),
        len(result),
        int((sig & (result["NES"] > 0)).sum()),
        int((sig & (result["NES"] < 0)).sum()),
        fdr,
    )


def nes_matrix(
    long: pd.DataFrame,
    chosen: Sequence[tuple[str, str]],
    datasets: Sequence[str],
    column: str = "FDR",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """NES and another value (``column``, GSEA's FDR by default) of chosen sets.

    Columns are the chosen sets, rows the datasets of one contrast. Untested sets are
    NaN. Column labels are the terms, prefixed with the source when a term occurs in
    two sources.
    """
    tested = long[long["tested"].astype(bool)].set_index(["dataset", "source", "term"])
    terms = [t for _, t in chosen]
    labels = [t if terms.count(t) == 1 else f"{s}: {t}" for s, t in chosen]
    nes = pd.DataFrame(np.nan, index=list(datasets), columns=labels)
    fdr = nes.copy()
    for ds in datasets:
        for (source, term), label in zip(chosen, labels, strict=True):
            key = (ds, source, term)
            if key in tested.index:
                nes.loc[ds, label] = tested.loc[key, "NES"]
                fdr.loc[ds, label] = tested.loc[key, column]
    return nes, fdr


def bulk_vs_pseudobulk(long: pd.DataFrame, focus: Sequence[str], fdr: float) -> pd.DataFrame:
    """How pathway NES in each cell type's pseudobulk agrees with bulk, per contrast.

    Parameters
    ----------
    long
        Long GSEA table (:func:`long_results`) with dataset ``bulk`` and cell types.
    focus
        Focus set names; their NES in bulk and in the cell type are added as columns.
    fdr
        Threshold for counting sets significant in both with the same sign.

    Returns
    -------
    pandas.DataFrame
        One row per contrast and non-bulk dataset: sets tested in both, Pearson and
        Spearman correlation of NES, sets significant in both (same direction), and the
        focus sets' NES.
    """
    t = long[long["tested"].astype(bool)]
    rows = []
    for contrast, sub in t.groupby("contrast", sort=False):
        bulk = sub[sub["dataset"] == "bulk"].set_index(["source", "term"])
        for ds in pd.unique(sub["dataset"]):
            if ds == "bulk":
                continue
            cell = sub[sub["dataset"] == ds].set_index(["source", "term"])
            both = bulk[["NES", "FDR"]].join(
                cell[["NES", "FDR"]], how="inner", lsuffix="_bulk", rsuffix="_cell"
            )
            agree = (
                (both["FDR_bulk"] < fdr)
                & (both["FDR_cell"] < fdr)
                & (np.sign(both["NES_bulk"]) == np.sign(both["NES_cell"]))
            )
            row = {
                "contrast": contrast,
                "dataset": ds,
                "sets_in_both": len(both),
                "pearson_r": both["NES_bulk"].corr(both["NES_cell"]) if len(both) > 2 else np.nan,
                "spearman_r": (
                    both["NES_bulk"].corr(both["NES_cell"], method="spearman")
                    if len(both) > 2
                    else np.nan
                ),
                "significant_bulk": int((both["FDR_bulk"] < fdr).sum()),
                "significant_cell": int((both["FDR_cell"] < fdr).sum()),
                "significant_both_same_sign": int(agree.sum()),
            }
            terms = both.index.get_level_values("term")
            for name in focus:
                m = both[terms == name]
                row[f"{name}_NES_bulk"] = m["NES_bulk"].iloc[0] if len(m) else np.nan
                row[f"{name}_NES_cell"] = m["NES_cell"].iloc[0] if len(m) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)
