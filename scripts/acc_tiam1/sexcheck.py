"""Sex of every animal from its counts, against the sample sheet.

Females express Xist (X-inactivation); males express the chrY genes Ddx3y, Eif2s3y, Uty
and Kdm5d, which females lack. Counts per million of Xist and of the chrY genes summed
separate the sexes by orders of magnitude in mouse brain, bulk or pseudobulk. A sample is
called only when the evidence is clear; otherwise it is "undetermined", never a guess:

- ``female``: at least ``min_count`` Xist counts, Xist >= ``min_cpm`` CPM and >= ``ratio``
  times the chrY CPM;
- ``male``: at least ``min_count`` chrY counts, chrY >= ``min_cpm_y`` CPM and >= ``ratio``
  times the Xist CPM;
- ``undetermined`` otherwise: both expressed (a mixed or contaminated sample), neither,
  too few counts (the library is so small that a sample at the calling level would have
  fewer than ``min_count`` counts), or Xist or the chrY genes not in the data.

Defaults: ``min_cpm`` 5, ``min_cpm_y`` 2, ``ratio`` 10, ``min_count`` 10. In mouse cortex
Xist is ~50-300 CPM in females and < 1 in males, and the four chrY genes together ~20-60
CPM in males and ~0 in females, so a call is at least a 10-fold margin from either sex.

The sheet's ``sex`` column (female/male, F/M, any case) is compared with the call; a
sample without a sheet value, or without a call, has an undetermined comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from .errors import InputError

XIST = "Xist"
CHRY = ("Ddx3y", "Eif2s3y", "Uty", "Kdm5d")
SEX_WORDS = {
    "f": "female",
    "female": "female",
    "m": "male",
    "male": "male",
    "w": "female",
    "woman": "female",
    "man": "male",
}
#: Default calling thresholds (counts per million, counts, fold).
THRESHOLDS = {"min_cpm": 5.0, "min_cpm_y": 2.0, "ratio": 10.0, "min_count": 10}


def sex_gene_counts(counts: pd.DataFrame, symbols: Sequence[str] | None = None) -> pd.DataFrame:
    """Xist and chrY counts per sample of a bulk genes x samples matrix.

    Parameters
    ----------
    counts
        Genes x samples raw counts.
    symbols
        Gene symbol of every row (default: the row names).

    Returns
    -------
    Samples x [``library_size``, ``Xist``, chrY genes found].
    """
    sym = pd.Index(counts.index if symbols is None else symbols).astype(str)
    out = pd.DataFrame({"library_size": counts.sum(axis=0).astype(float)})
    for g in (XIST, *CHRY):
        hit = np.asarray(sym == g)
        if hit.any():
            out[g] = counts.loc[hit].sum(axis=0).astype(float).to_numpy()
    out.index.name = "sample"
    return out


def sex_gene_counts_nuclei(x, symbols: Sequence[str], samples: Sequence[str]) -> pd.DataFrame:
    """The same from nuclei: pseudobulk per sample of a nuclei x genes count matrix."""
    x = sparse.csr_matrix(x)
    sym = pd.Index(symbols).astype(str)
    labels, code = np.unique(np.asarray(samples).astype(str), return_inverse=True)
    ind = sparse.csr_matrix(
        (np.ones(code.size), (code, np.arange(code.size))), shape=(labels.size, code.size)
    )
    out = pd.DataFrame(
        {"library_size": np.asarray(ind @ x.sum(axis=1)).ravel()},
        index=pd.Index(labels, name="sample"),
    )
    for g in (XIST, *CHRY):
        cols = np.flatnonzero(sym == g)
        if cols.size:
            out[g] = np.asarray(ind @ x[:, cols].sum(axis=1)).ravel()
    return out


def infer_sex(
    table: pd.DataFrame,
    min_cpm: float = THRESHOLDS["min_cpm"],
    min_cpm_y: float = THRESHOLDS["min_cpm_y"],
    ratio: float = THRESHOLDS["ratio"],
    min_count: int = THRESHOLDS["min_count"],
) -> pd.DataFrame:
    """Inferred sex per sample from :func:`sex_gene_counts` (rules in the module doc).

    Returns
    -------
    ``table`` plus ``xist_counts``, ``xist_cpm``, ``chrY_counts``, ``chrY_cpm``,
    ``chrY_genes``, ``inferred_sex`` and ``reason``.
    """
    out = table.copy()
    lib = out["library_size"].to_numpy(dtype=float)
    ygenes = [g for g in CHRY if g in out.columns]
    xc = out[XIST].to_numpy(dtype=float) if XIST in out else np.full(len(out), np.nan)
    yc = out[ygenes].sum(axis=1).to_numpy(dtype=float) if ygenes else np.full(len(out), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(lib > 0, xc / lib * 1e6, np.nan)
        y = np.where(lib > 0, yc / lib * 1e6, np.nan)
    out["xist_counts"], out["xist_cpm"] = xc, np.round(x, 3)
    out["chrY_counts"], out["chrY_cpm"] = yc, np.round(y, 3)
    out["chrY_genes"] = ",".join(ygenes)
    calls, reasons = [], []
    for lib_i, xc_i, yc_i, x_i, y_i in zip(lib, xc, yc, x, y, strict=True):
        call, reason = "undetermined", ""
        if XIST not in out or not ygenes:
            reason = "Xist or the chrY genes are not in the data"
        elif xc_i >= min_count and x_i >= min_cpm and x_i >= ratio * y_i:
            call = "female"
        elif yc_i >= min_count and y_i >= min_cpm_y and y_i >= ratio * x_i:
            call = "male"
        elif x_i >= min_cpm and y_i >= min_cpm_y:
            reason = "both Xist and chrY genes expressed (mixed or contaminated?)"
        elif lib_i * min(min_cpm, min_cpm_y) / 1e6 < min_count:
            reason = f"too few counts (library {lib_i:,.0f})"
        else:
            reason = "neither Xist nor chrY genes clearly expressed"
        calls.append(call)
        reasons.append(reason)
    out["inferred_sex"], out["reason"] = calls, reasons
    return out


def normalise_sex(value) -> str | None:
    """``"female"``, ``"male"`` or None for a sheet value (F/M/female/male, any case)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return SEX_WORDS.get(str(value).strip().lower())


def compare_with_sheet(
    inferred: pd.DataFrame, sheet: pd.DataFrame | None, column: str = "sex"
) -> tuple[pd.DataFrame, list[str]]:
    """Add the sheet's sex and the comparison; list the mismatching samples.

    ``status`` is ``match``, ``mismatch`` or ``undetermined`` (no call, no sheet column,
    or a sheet value that is not female/male).
    """
    out = inferred.copy()
    if sheet is None or column not in sheet.columns:
        out["sheet_sex"] = None
    else:
        missing = sorted(set(out.index) - set(sheet.index))
        if missing:
            raise InputError(f"samples {', '.join(missing)} are not in the sample sheet.")
        out["sheet_sex"] = [normalise_sex(v) for v in sheet.loc[out.index, column]]
    status = []
    for call, given in zip(out["inferred_sex"], out["sheet_sex"], strict=True):
        if call == "undetermined" or given is None:
            status.append("undetermined")
        else:
            status.append("match" if call == given else "mismatch")
    out["status"] = status
    return out, out.index[out["status"] == "mismatch"].tolist()


def sex_check(
    table: pd.DataFrame,
    sheet: pd.DataFrame | None = None,
    column: str = "sex",
    thresholds: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`infer_sex` then :func:`compare_with_sheet`: the table and the mismatches."""
    inferred = infer_sex(table, **dict(thresholds or {}))
    return compare_with_sheet(inferred, sheet, column)


def act_on_mismatches(mismatches: Sequence[str], table: pd.DataFrame, mode: str, where: str):
    """Warn about, or stop on, samples whose data disagree with the sheet's sex.

    Parameters
    ----------
    mismatches
        The mismatching samples (:func:`sex_check`).
    table
        The sex-check table.
    mode
        ``"warn"`` (log a warning naming them) or ``"error"`` (raise).
    where
        The sample sheet, named in the message.

    Raises
    ------
    InputError
        With ``mode="error"`` when a sample mismatches.
    """
    import logging

    if not len(mismatches):
        return
    detail = ", ".join(
        f"{s} (sheet: {table.at[s, 'sheet_sex']}, data: {table.at[s, 'inferred_sex']})"
        for s in mismatches
    )
    message = (
        f"sex check: {len(mismatches)} sample(s) disagree with the sheet's sex column: "
        f"{detail}. A swapped or mislabelled sample? Check the sheet."
    )
    if mode == "error":
        raise InputError(message + " (qc.sex_mismatch: error)", where)
    logging.getLogger(__name__).warning("%s (%s)", message, where)


def plot_sex_check(
    table: pd.DataFrame,
    title: str = "Sex check",
    thresholds: Mapping[str, float] | None = None,
):
    """Xist against chrY (CPM, log scale) per sample, coloured by the sheet's sex.

    Mismatching samples are labelled; the dashed lines are the calling levels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    from .plotting import log_scale, plt

    levels = {**THRESHOLDS, **dict(thresholds or {})}
    fig, ax = plt.subplots(figsize=(5, 4.5))
    colours = {"female": "#c2185b", "male": "#1565c0", None: "#9e9e9e"}
    sheet = table["sheet_sex"] if "sheet_sex" in table else pd.Series(None, index=table.index)
    for sex, colour in colours.items():
        rows = sheet.isna() if sex is None else sheet.eq(sex)
        if rows.any():
            ax.scatter(
                table.loc[rows, "xist_cpm"] + 0.1,
                table.loc[rows, "chrY_cpm"] + 0.1,
                c=colour,
                label=sex or "not in sheet",
                s=36,
                edgecolors="white",
            )
    if "status" in table:
        for name, row in table[table["status"] == "mismatch"].iterrows():
            ax.annotate(
                f"{name} (sheet {row['sheet_sex']})",
                (row["xist_cpm"] + 0.1, row["chrY_cpm"] + 0.1),
                fontsize=8,
                xytext=(4, 4),
                textcoords="offset points",
                color="#b71c1c",
            )
    ax.axvline(levels["min_cpm"], ls="--", c="grey", lw=0.8)
    ax.axhline(levels["min_cpm_y"], ls="--", c="grey", lw=0.8)
    log_scale(ax, x=True, y=True)
    ax.set(
        xlabel="Xist (CPM + 0.1)",
        ylabel="Ddx3y + Eif2s3y + Uty + Kdm5d (CPM + 0.1)",
        title=title,
    )
    ax.legend(title="sheet sex", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
