"""Per-sample nucleus QC: metrics, MAD thresholds, filters and Scrublet doublets."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError
from ._doublets import scrublet_threshold

log = logging.getLogger(__name__)


#: Columns added to ``obs`` by the per-sample QC.
QC_COLUMNS = ("total_counts", "n_genes", "pct_mito")


def mito_mask(symbols: Sequence[str]) -> np.ndarray:
    """Mitochondrially encoded genes: symbols starting with ``mt-`` (any case)."""
    return np.asarray(pd.Index(symbols).astype(str).str.lower().str.startswith("mt-"), dtype=bool)


def qc_metrics(adata) -> pd.DataFrame:
    """Total counts, genes detected (count > 0) and mitochondrial percentage per nucleus."""
    x = sparse.csr_matrix(adata.X)
    total = np.asarray(x.sum(axis=1)).ravel().astype(np.int64)
    n_genes = np.diff(x.indptr).astype(np.int64)
    mito = mito_mask(adata.var["gene"])
    mt = np.asarray(x[:, mito].sum(axis=1)).ravel() if mito.any() else np.zeros(len(total))
    pct = np.divide(100.0 * mt, total, out=np.zeros(len(total)), where=total > 0)
    return pd.DataFrame(
        {"total_counts": total, "n_genes": n_genes, "pct_mito": pct}, index=adata.obs_names
    )


def mad_bounds(
    values: np.ndarray, n_mads: float, zero_mad_open: bool = True
) -> tuple[float, float]:
    """``median -/+ n_mads * MAD`` (MAD scaled by 1.4826 to a normal SD).

    With ``zero_mad_open``, a MAD of 0 (more than half the values equal) gives infinite
    bounds: no value is called an outlier on a metric that does not vary.
    """
    values = np.asarray(values, dtype=float)
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    if mad == 0 and zero_mad_open:
        return -np.inf, np.inf
    return med - n_mads * mad, med + n_mads * mad


def qc_thresholds(metrics: pd.DataFrame, params: Mapping) -> dict[str, float]:
    """QC thresholds of one sample: the configured ones, or MAD outliers where unset.

    Parameters
    ----------
    metrics
        Output of :func:`qc_metrics`.
    params
        The ``snrna.qc`` config section. ``min_counts``, ``max_counts``, ``min_genes``,
        ``max_genes`` and ``max_pct_mito`` replace the data-driven value when set.
        Otherwise counts and genes use ``n_mads`` MADs of their log, both directions,
        and mitochondrial percentage ``median + mito_n_mads * MAD`` kept within
        [``mito_pct_floor``, ``mito_pct_cap``] (nuclei carry little mitochondrial RNA,
        so a high fraction marks cytoplasmic contamination or damage).

    Returns
    -------
    ``{min_counts, max_counts, min_genes, max_genes, max_pct_mito}``.
    """
    n_mads = params.get("n_mads", 5.0)
    lo_c, hi_c = mad_bounds(np.log1p(metrics["total_counts"]), n_mads)
    lo_g, hi_g = mad_bounds(np.log1p(metrics["n_genes"]), n_mads)
    _, hi_m = mad_bounds(metrics["pct_mito"], params.get("mito_n_mads", 3.0), zero_mad_open=False)
    mito = float(np.clip(hi_m, params.get("mito_pct_floor", 1.0), params.get("mito_pct_cap", 5.0)))
    auto = {
        "min_counts": float(np.expm1(lo_c)),
        "max_counts": float(np.expm1(hi_c)),
        "min_genes": float(np.expm1(lo_g)),
        "max_genes": float(np.expm1(hi_g)),
        "max_pct_mito": mito,
    }
    return {k: float(params[k]) if params.get(k) is not None else v for k, v in auto.items()}


def qc_flags(metrics: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Boolean QC failures per nucleus (a nucleus may fail several)."""
    t = thresholds
    return pd.DataFrame(
        {
            "low_counts": metrics["total_counts"] < t["min_counts"],
            "high_counts": metrics["total_counts"] > t["max_counts"],
            "low_genes": metrics["n_genes"] < t["min_genes"],
            "high_genes": metrics["n_genes"] > t["max_genes"],
            "high_mito": metrics["pct_mito"] > t["max_pct_mito"],
        },
        index=metrics.index,
    )


def detect_doublets(
    adata, expected_rate: float, threshold: float | None, seed: int, max_genes: int = 3000
) -> tuple[pd.DataFrame, float | None]:
    """Scrublet (``sc.pp.scrublet``) doublet scores and calls for one sample.

    Parameters
    ----------
    adata
        Raw counts of the nuclei that passed QC.
    expected_rate
        Expected doublet fraction.
    threshold
        Score from which a nucleus is a doublet; None chooses it from the observed and
        simulated doublet scores as scDblFinder does
        (:func:`acc_tiam1.snrna._doublets.scrublet_threshold`). Scrublet's own choice,
        the minimum between two modes of the simulated-score histogram, sits far above
        the real doublets when brain nuclei give no second mode.
    seed
        Random state.
    max_genes
        Scrublet runs on this many most variable genes of the sample (memory).

    Returns
    -------
    scores
        Columns ``doublet_score`` and ``predicted_doublet``.
    threshold
        The threshold used (None when there were too few nuclei to score).
    """
    import scanpy as sc

    if adata.n_obs < 100:
        log.warning("only %d nuclei: doublet detection skipped", adata.n_obs)
        return pd.DataFrame(
            {"doublet_score": np.nan, "predicted_doublet": False}, index=adata.obs_names
        ), None
    tmp = adata.copy()
    tmp.X = tmp.X.astype(np.float32)
    if tmp.n_vars > max_genes:
        # Scrublet densifies observed + simulated nuclei x genes; on a full reference that
        # costs GBs per sample. Its own gene selection keeps the variable genes anyway, so
        # hand it the most variable ones (of this sample) only.
        lognorm = tmp.copy()
        sc.pp.normalize_total(lognorm, target_sum=1e4)
        sc.pp.log1p(lognorm)
        sc.pp.highly_variable_genes(lognorm, n_top_genes=max_genes, flavor="seurat")
        tmp = tmp[:, lognorm.var["highly_variable"].to_numpy()].copy()
        del lognorm
    n_pcs = int(min(30, tmp.n_obs - 1, tmp.n_vars - 1))
    # Exact neighbours (sklearn): scanpy's default above 4,096 nuclei is pynndescent,
    # whose numba compilation costs about a minute of CPU in every per-sample job.
    # A fixed threshold keeps Scrublet from looking for its own (histogram modes); the
    # calls are made below from the scores.
    sc.pp.scrublet(
        tmp,
        expected_doublet_rate=expected_rate,
        threshold=1.0 if threshold is None else threshold,
        n_prin_comps=n_pcs,
        use_approx_neighbors=False,
        random_state=seed,
        verbose=False,
    )
    out = tmp.obs[["doublet_score"]].copy()
    if threshold is None:
        chosen = scrublet_threshold(
            out["doublet_score"].to_numpy(),
            tmp.uns["scrublet"]["doublet_scores_sim"],
            expected_rate,
        )
        threshold = chosen.threshold
        log.info("doublet-score threshold %.4f (%s)", threshold, chosen.row())
    out["predicted_doublet"] = (out["doublet_score"] >= threshold).to_numpy()
    return out, float(threshold)


def removed_by(flags: pd.DataFrame, doublet: pd.Series) -> np.ndarray:
    """Which rules removed each nucleus: failed filters joined by ``;``, or ``scrublet``.

    Parameters
    ----------
    flags
        One boolean column per QC filter (:func:`qc_flags`).
    doublet
        Scrublet's call (only nuclei that passed every filter are scored).

    Returns
    -------
    numpy.ndarray
        One string per nucleus, empty for kept nuclei.
    """
    out = np.full(len(flags), "", dtype=object)
    for col in flags.columns:
        hit = flags[col].to_numpy(dtype=bool)
        out[hit] = np.where(out[hit] == "", col, out[hit] + ";" + col)
    out[doublet.to_numpy(dtype=bool)] = "scrublet"
    return out


def filter_summary(summaries: pd.DataFrame, coexpression: pd.Series | None = None) -> pd.DataFrame:
    """Nuclei removed by each filter per sample, the co-expression doublets included.

    Parameters
    ----------
    summaries
        The per-sample QC summaries stacked (:func:`sample_qc`).
    coexpression
        Co-expression doublets per sample (called after annotation), or None.

    Returns
    -------
    pandas.DataFrame
        ``summaries`` with ``coexpression_doublets`` after ``doublets``, and
        ``nuclei_kept``/``pct_kept`` counting the nuclei left for pseudobulk.
    """
    table = summaries.copy()
    n = coexpression.reindex(table["sample"]).fillna(0) if coexpression is not None else 0
    table.insert(
        table.columns.get_loc("doublets") + 1,
        "coexpression_doublets",
        np.asarray(n, dtype=int) if coexpression is not None else 0,
    )
    table["nuclei_kept"] = table["nuclei_kept"] - table["coexpression_doublets"]
    table["pct_kept"] = (100.0 * table["nuclei_kept"] / table["nuclei_in"]).round(2)
    return table


def sample_qc(adata, sample: str, params: Mapping, seed: int):
    """QC of one sample: metrics, thresholds, flags, doublets; returns the kept nuclei.

    Returns
    -------
    kept
        AnnData of the nuclei that pass every filter (raw counts, QC metrics in obs).
    nuclei
        One row per input nucleus: metrics, one boolean per filter, doublet score and
        call (doublets are called on QC-passing nuclei only), ``kept``, and
        ``removed_by`` (the filters it failed, or ``scrublet``).
    summary
        One row: nuclei in, nuclei failing each filter (a nucleus can fail several),
        failing any QC filter, doublets among those that passed, nuclei kept, and the
        thresholds used.
    """
    metrics = qc_metrics(adata)
    thresholds = qc_thresholds(metrics, params)
    flags = qc_flags(metrics, thresholds)
    passed = ~flags.any(axis=1).to_numpy()
    nuclei = metrics.join(flags)
    nuclei["doublet_score"] = np.nan
    nuclei["predicted_doublet"] = False
    doublet_threshold = None
    if params.get("doublets", True) and passed.sum() > 0:
        scores, doublet_threshold = detect_doublets(
            adata[passed],
            params.get("expected_doublet_rate", 0.05),
            params.get("doublet_threshold"),
            seed,
        )
        nuclei.loc[scores.index, "doublet_score"] = scores["doublet_score"]
        nuclei.loc[scores.index, "predicted_doublet"] = scores["predicted_doublet"]
    nuclei["kept"] = passed & ~nuclei["predicted_doublet"].to_numpy(dtype=bool)
    nuclei["removed_by"] = removed_by(flags, nuclei["predicted_doublet"])
    n_kept = int(nuclei["kept"].sum())
    if n_kept == 0:
        raise InputError(
            f"sample '{sample}': no nucleus passed QC ({len(nuclei)} in; thresholds "
            + ", ".join(f"{k} {v:.4g}" for k, v in thresholds.items())
            + "). Check the file, or set the snrna.qc thresholds."
        )
    kept = adata[nuclei["kept"].to_numpy()].copy()
    for col in QC_COLUMNS:
        kept.obs[col] = metrics.loc[kept.obs_names, col].to_numpy()
    kept.obs["doublet_score"] = nuclei.loc[kept.obs_names, "doublet_score"].to_numpy()
    summary = {"sample": sample, "nuclei_in": len(nuclei)}
    summary.update({k: int(flags[k].sum()) for k in flags.columns})
    summary["failed_qc"] = int((~passed).sum())
    summary["doublets"] = int(nuclei["predicted_doublet"].sum())
    summary["nuclei_kept"] = n_kept
    summary["pct_kept"] = round(100.0 * n_kept / len(nuclei), 2)
    summary.update({f"threshold_{k}": round(v, 4) for k, v in thresholds.items()})
    summary["threshold_doublet_score"] = (
        round(doublet_threshold, 4) if doublet_threshold is not None else np.nan
    )
    nuclei.index.name = "barcode"
    return kept, nuclei, pd.DataFrame([summary])
