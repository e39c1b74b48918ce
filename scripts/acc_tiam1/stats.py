"""Statistics shared by every stage: Benjamini-Hochberg, and error control across datasets.

:func:`bh_adjust` is the library's one Benjamini-Hochberg adjustment.

Error control across datasets (bulk and every cell type) for the focus-set tests of one
contrast. Each DE table (bulk, or one cell type's pseudobulk) gives a p-value per focus
gene set. Testing ~20 cell types x several sets at once makes some false "where" claims
likely unless the error rate is controlled over all of them. Two procedures, on a long
table ``dataset, term, pvalue``:

Global Benjamini-Hochberg (:func:`global_bh`)
    BH over every dataset x set test with a p-value: controls the expected proportion
    of false claims among all "set S changes in dataset C" claims.

Benjamini-Bogomolov (:func:`benjamini_bogomolov`; Benjamini & Bogomolov 2014, JRSS-B
76:297)
    Families are datasets. (1) The family p-value is the Simes combination of the
    family's p-values (the global null "no focus set changes in C"); (2) BH over the
    ``m`` family p-values at level ``q`` selects ``R`` families; (3) within each
    selected family, BH at level ``q R / m``. This controls the false discovery rate of
    the selected datasets at ``q`` (for independent or positively dependent families)
    and the expected average, over the selected datasets, of the within-dataset false
    discovery proportion at ``q`` (independent families; Simes selection).

Recommended default for the claim "set S is changed in cell type C": Benjamini-
Bogomolov. The question the report answers is *where* (which cell types), and it is
the procedure that controls the error of that answer: the expected proportion of
reported cell types in which no focus set truly changes is at most ``q``, and so is the
average proportion of false sets within a reported cell type. Global BH controls the
proportion of false (cell type, set) pairs but lets null cell types in: when a few cell
types carry many true changes, every extra discovery raises BH's threshold for all
others, so a false pair in a null cell type costs little in the pooled proportion but
is a whole false cell type among few true ones. In the simulation of
``tests/test_stats.py`` (20 cell types x 6 sets, independent z-tests, effect 3 SD,
q = 0.05, 20,000 replicates) with all 6 sets changed in 2 cell types, the
cell-type-level false discovery rate is 0.104 for global BH and 0.044 for Benjamini-
Bogomolov, while both find the same true pairs (6.0 and 6.1 of 12 on average) and true
cell types (1.92 and 1.89 of 2). Under the global null both reject anything with
probability 0.051.

p-values that are NaN (set not tested in a dataset) stay NaN, are not counted among the
tests, and a dataset without any p-value is not a family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control

from .errors import InputError

#: Columns :func:`adjust_across_datasets` adds.
ACROSS_DATASET_COLUMNS = [
    "fdr_within",
    "fdr_global",
    "family_pvalue",
    "family_fdr",
    "family_selected",
    "bb_adjusted",
]


def bh_adjust(pvalues, axis: int | None = None) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values, with R's handling of missing values.

    scipy's :func:`~scipy.stats.false_discovery_control` does the adjustment. It rejects
    NaN, while R's ``p.adjust`` (and so DESeq2, whose genes removed by independent
    filtering or Cook's distance have NA p-values) leaves NA in place and counts only
    the non-missing p-values as tests; this wrapper does the same.

    Parameters
    ----------
    pvalues
        Array-like of p-values in [0, 1]; NaN where there is no test.
    axis
        None (default): all p-values are one family of tests. An axis: every 1-D slice
        along it is a family of its own (e.g. ``-1`` for one family per row).

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape, NaN where the input is NaN.

    Raises
    ------
    InputError
        For a p-value outside [0, 1].
    """
    p = np.asarray(pvalues, dtype=float)
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise InputError("p-values must lie between 0 and 1 (or be NaN).")
    out = np.full(p.shape, np.nan)
    if axis is None or p.ndim == 0:
        if ok.any():
            out[ok] = false_discovery_control(p[ok], method="bh")
        return out
    p, ok, view = (np.moveaxis(a, axis, -1) for a in (p, ok, out))
    width = p.shape[-1]
    rows, okrows, adjusted = p.reshape(-1, width), ok.reshape(-1, width), view.reshape(-1, width)
    # One scipy call per number of tests: rows with k p-values are adjusted together.
    counts = okrows.sum(axis=1)
    for k in np.unique(counts[counts > 0]):
        sel = np.flatnonzero(counts == k)
        mask = okrows[sel]
        cols = np.nonzero(mask)[1].reshape(-1, k)
        adjusted[sel[:, None], cols] = false_discovery_control(
            rows[sel][mask].reshape(-1, k), axis=-1, method="bh"
        )
    view[...] = adjusted.reshape(view.shape)
    return out


def simes(pvalues) -> np.ndarray:
    """Simes' combined p-value of each row (last axis).

    Parameters
    ----------
    pvalues
        Array-like of p-values, NaN where there is no test.

    Returns
    -------
    numpy.ndarray
        ``min_i p_(i) k / i`` over the ``k`` non-NaN p-values of each row (the smallest
        BH-adjusted value), shape ``pvalues.shape[:-1]``; NaN for a row without any.
    """
    adjusted = bh_adjust(pvalues, axis=-1)
    out = np.full(adjusted.shape[:-1], np.nan)
    some = (~np.isnan(adjusted)).any(axis=-1)
    out[some] = np.nanmin(adjusted[some], axis=-1)
    return out


def benjamini_bogomolov_array(p: np.ndarray) -> dict[str, np.ndarray]:
    """The Benjamini-Bogomolov procedure on arrays.

    Parameters
    ----------
    p
        ``p[..., family, test]``, NaN where there is no test. Leading axes are
        independent problems (e.g. simulation replicates).

    Returns
    -------
    dict
        ``fdr_within`` (shape of ``p``), ``family_pvalue`` and ``family_fdr`` (shape
        ``p.shape[:-1]``), ``bb_adjusted`` (shape of ``p``), ``fdr_global`` (BH over all
        families and tests of a problem). See :func:`benjamini_bogomolov`.
    """
    p = np.asarray(p, dtype=float)
    within = bh_adjust(p, axis=-1)
    family_p = simes(p)
    family_fdr = bh_adjust(family_p, axis=-1)
    flat = p.reshape(*p.shape[:-2], -1)
    fdr_global = bh_adjust(flat, axis=-1).reshape(p.shape)
    m = (~np.isnan(family_fdr)).sum(axis=-1)
    sorted_fdr = np.sort(family_fdr, axis=-1)  # NaN last
    k = np.arange(1, p.shape[-2] + 1)
    # At level q' the procedure selects R(q') = #{family_fdr <= q'} families and rejects
    # when own family_fdr <= q' and fdr_within <= q' R(q') / m. Rejection is monotone in
    # q', and the smallest rejecting q' is attained at some R = k in 1..m:
    # max(a_(k), own family_fdr, m * fdr_within / k).
    a = np.where(k <= m[..., None], sorted_fdr, np.inf)[..., None, None, :]
    own = family_fdr[..., :, None, None]
    ratio = (m[..., None, None, None] * within[..., None]) / k
    with np.errstate(invalid="ignore"):
        adjusted = np.min(np.maximum(np.maximum(a, own), ratio), axis=-1)
    adjusted[np.isnan(within)] = np.nan
    return {
        "fdr_within": within,
        "family_pvalue": family_p,
        "family_fdr": family_fdr,
        "bb_adjusted": np.minimum(adjusted, 1.0),
        "fdr_global": fdr_global,
    }


def global_bh(table: pd.DataFrame, pvalue: str = "pvalue") -> pd.Series:
    """BH over every row of ``table`` with a p-value (all datasets and sets at once).

    Parameters
    ----------
    table
        One row per test.
    pvalue
        Column of p-values (NaN: no test).

    Returns
    -------
    pandas.Series
        ``fdr_global``, indexed as ``table``.
    """
    _check_columns(table, [pvalue])
    values = bh_adjust(table[pvalue].to_numpy(dtype=float))
    return pd.Series(values, index=table.index, name="fdr_global")


def benjamini_bogomolov(
    table: pd.DataFrame, q: float = 0.05, family: str = "dataset", pvalue: str = "pvalue"
) -> pd.DataFrame:
    """The Benjamini-Bogomolov hierarchical procedure, families = ``family`` column.

    Parameters
    ----------
    table
        Long table, one row per test, with columns ``family`` and ``pvalue``.
    q
        Target level; it decides ``family_selected`` only (``bb_adjusted`` is
        level-free).
    family, pvalue
        Column names.

    Returns
    -------
    pandas.DataFrame
        Indexed as ``table``, columns:

        ``fdr_within``
            BH within the row's family.
        ``family_pvalue``
            Simes p-value of the family (NaN when it has no p-value).
        ``family_fdr``
            BH over the family p-values of the ``m`` families that have one.
        ``family_selected``
            ``family_fdr <= q``.
        ``bb_adjusted``
            The smallest level ``q'`` at which the procedure (run at ``q'``) rejects
            this hypothesis: ``min over k = 1..m of max(a_(k), family_fdr, m *
            fdr_within / k)``, ``a_(k)`` the k-th smallest family_fdr. The hypothesis
            is rejected at level ``q`` exactly when ``bb_adjusted <= q``, so it is
            compared with ``q`` like an adjusted p-value. It is never below the row's
            ``family_fdr`` or ``fdr_within``; NaN for a NaN p-value.
    """
    _check_columns(table, [family, pvalue])
    if not 0 < q < 1:
        raise InputError(f"the FDR level q must lie between 0 and 1; got {q}.")
    codes, _ = pd.factorize(table[family].astype(str))
    slot = pd.Series(codes).groupby(codes).cumcount().to_numpy()
    grid = np.full(
        (codes.max() + 1 if codes.size else 0, slot.max() + 1 if slot.size else 0), np.nan
    )
    grid[codes, slot] = table[pvalue].to_numpy(dtype=float)
    res = benjamini_bogomolov_array(grid)
    out = pd.DataFrame(index=table.index)
    out["fdr_within"] = res["fdr_within"][codes, slot]
    out["family_pvalue"] = res["family_pvalue"][codes]
    out["family_fdr"] = res["family_fdr"][codes]
    out["family_selected"] = out["family_fdr"].le(q)
    out["bb_adjusted"] = res["bb_adjusted"][codes, slot]
    return out


def adjust_across_datasets(
    table: pd.DataFrame, q: float = 0.05, family: str = "dataset", pvalue: str = "pvalue"
) -> pd.DataFrame:
    """Both procedures on the focus-set tests of one contrast.

    Parameters
    ----------
    table
        One row per dataset x set test: columns ``family`` (dataset), ``pvalue`` and any
        others (kept).
    q
        Level for ``family_selected``.
    family, pvalue
        Column names.

    Returns
    -------
    pandas.DataFrame
        ``table`` with :data:`ACROSS_DATASET_COLUMNS` (see :func:`global_bh` and
        :func:`benjamini_bogomolov`).
    """
    out = table.copy()
    bb = benjamini_bogomolov(table, q=q, family=family, pvalue=pvalue)
    out["fdr_within"] = bb["fdr_within"]
    out["fdr_global"] = global_bh(table, pvalue)
    for col in ACROSS_DATASET_COLUMNS[2:]:
        out[col] = bb[col]
    return out


def _check_columns(table: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"the table of tests lacks column(s) {', '.join(missing)}.")
