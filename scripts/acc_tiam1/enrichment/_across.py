"""Focus-set calls with error control across datasets (bulk and every cell type).

Each DE table's CAMERA FDR controls errors within that table only; the report's "where"
claims ("set S is up in pain in cell types C1 and C2") are made over all datasets of a
contrast at once. :func:`across_datasets` adjusts the focus sets' CAMERA p-values over
all datasets of each contrast, by the Benjamini-Bogomolov procedure (families =
datasets; ``hierarchical``, the default) or by BH over all dataset x set tests
(``global``); :mod:`acc_tiam1.stats` says why the hierarchical one is the default. Then
every row gets the call the report uses: focus sets by the across-dataset FDR, other
sets by their table's CAMERA FDR, direction from CAMERA.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..stats import adjust_across_datasets

#: ``enrichment.across_datasets`` values and the procedure each names.
ACROSS_METHODS = {"hierarchical": "Benjamini-Bogomolov", "global": "global BH"}

#: Columns :func:`across_datasets` adds, in order.
ACROSS_COLUMNS = [
    "focus",
    "camera_fdr_global",
    "camera_family_pvalue",
    "camera_family_fdr",
    "camera_bb_adjusted",
    "camera_fdr_across",
    "call_FDR",
    "call",
    "call_test",
]


def across_datasets(
    long: pd.DataFrame, focus: Sequence[str], method: str = "hierarchical", fdr: float = 0.05
) -> pd.DataFrame:
    """Across-dataset FDR of the focus sets' CAMERA p-values, and the call of every row.

    Parameters
    ----------
    long
        Enrichment tables of every dataset and contrast stacked (columns ``dataset``,
        ``contrast``, ``source``, ``term``, ``tested``, ``camera_pvalue``,
        ``camera_FDR``, ``camera_direction``).
    focus
        Focus set names (matched by term, in any source).
    method
        ``hierarchical`` (Benjamini-Bogomolov, families = datasets) or ``global`` (BH
        over all datasets and focus sets of the contrast).
    fdr
        Level of the calls (and of Benjamini-Bogomolov's family selection).

    Returns
    -------
    pandas.DataFrame
        ``long`` with :data:`ACROSS_COLUMNS`: ``focus``; for focus sets, the global BH
        value, the dataset's Simes p-value and its FDR over datasets, the
        Benjamini-Bogomolov adjusted value and ``camera_fdr_across`` (the one of
        ``method``); ``call_FDR`` (``camera_fdr_across`` for focus sets, ``camera_FDR``
        for other sets), ``call`` (``up``/``down`` when ``call_FDR < fdr``, direction
        from CAMERA; ``n.s.``; ``not tested``) and ``call_test`` (which test and
        threshold made the call).
    """
    if method not in ACROSS_METHODS:
        raise InputError(
            f"must be one of {', '.join(ACROSS_METHODS)}; got {method!r}.",
            "enrichment.across_datasets",
        )
    missing = {"dataset", "contrast", "term", "tested", "camera_pvalue", "camera_FDR"}
    missing -= set(long.columns)
    if missing:
        raise InputError(f"the enrichment table lacks column(s) {', '.join(sorted(missing))}.")
    out = long.copy()
    tested = _bool(out["tested"]) & out["camera_pvalue"].notna()
    out["focus"] = out["term"].isin(list(focus))
    for col in ACROSS_COLUMNS[1:6]:
        out[col] = np.nan
    rows = out[out["focus"] & tested]
    for _, sub in rows.groupby("contrast", sort=False):
        adj = adjust_across_datasets(sub, q=fdr, family="dataset", pvalue="camera_pvalue")
        out.loc[sub.index, "camera_fdr_global"] = adj["fdr_global"]
        out.loc[sub.index, "camera_family_pvalue"] = adj["family_pvalue"]
        out.loc[sub.index, "camera_family_fdr"] = adj["family_fdr"]
        out.loc[sub.index, "camera_bb_adjusted"] = adj["bb_adjusted"]
    chosen = "camera_bb_adjusted" if method == "hierarchical" else "camera_fdr_global"
    out["camera_fdr_across"] = out[chosen]
    out["call_FDR"] = np.where(out["focus"], out["camera_fdr_across"], out["camera_FDR"])
    out["call_FDR"] = out["call_FDR"].where(tested)
    direction = out["camera_direction"].fillna("").astype(str)
    significant = out["call_FDR"] < fdr
    out["call"] = np.where(~tested, "not tested", np.where(significant, direction, "n.s."))
    across = f"CAMERA, FDR across datasets ({ACROSS_METHODS[method]}) < {fdr:g}"
    out["call_test"] = np.where(out["focus"], across, f"CAMERA, FDR within dataset < {fdr:g}")
    return out


def call_marks(values: pd.DataFrame, fdr: float) -> pd.DataFrame:
    """Significance marks of a matrix of FDRs: ``**`` below fdr / 10, ``*`` below fdr.

    Parameters
    ----------
    values
        FDRs (NaN: no test).
    fdr
        Threshold.

    Returns
    -------
    pandas.DataFrame
        Same shape and labels, strings (``""`` for no mark).
    """
    v = values.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        marks = np.where(v < fdr / 10, "**", np.where(v < fdr, "*", ""))
    return pd.DataFrame(marks, index=values.index, columns=values.columns)


def _bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.astype(str).str.lower().isin(["true", "1"])
