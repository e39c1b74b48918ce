"""CAMERA on the DE tables of the workflow, next to their GSEA results.

Every DE job writes its fitted model (design matrix, contrast vectors) and normalised
counts; CAMERA (:func:`acc_tiam1.enrichment.camera`, limma's moderated t on
``log2(normalised count + 1)``) then tests every gene set on the genes of the DE table,
with the same size limits as GSEA and the Benjamini-Hochberg FDR per gene-set file (as
GSEA's FDR), so that adding a collection never changes another file's results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ._camera import camera, de_inputs
from ._genesets import GeneSet

#: Columns :func:`add_camera` adds to a GSEA table, in order.
CAMERA_RESULT_COLUMNS = [
    "camera_direction",
    "camera_pvalue",
    "camera_FDR",
    "camera_correlation",
    "camera_vif",
]


def log_normalized(normalized: pd.DataFrame) -> pd.DataFrame:
    """``log2(normalised count + 1)`` of a DE job's normalised-count table.

    Parameters
    ----------
    normalized
        Genes x samples indexed by gene id, optionally with a ``gene`` (symbol) column
        first (as :func:`acc_tiam1.de.normalized_counts` writes it).

    Returns
    -------
    pandas.DataFrame
        Genes x samples, log2 scale: :func:`acc_tiam1.enrichment.log_expression` of the
        raw counts with the fit's size factors.
    """
    values = normalized.drop(columns=[c for c in ("gene",) if c in normalized.columns])
    y = values.to_numpy(dtype=float)
    if not np.isfinite(y).all() or (y < 0).any():
        raise InputError("normalised counts must be finite and non-negative.")
    return pd.DataFrame(np.log2(y + 1.0), index=values.index.astype(str), columns=values.columns)


def camera_de(
    table: pd.DataFrame,
    expression: pd.DataFrame,
    design: pd.DataFrame,
    contrast: np.ndarray,
    sets: Sequence[GeneSet],
    min_size: int = 5,
    max_size: int = 500,
) -> pd.DataFrame:
    """CAMERA of every gene set on the genes of one DE table.

    Parameters
    ----------
    table
        DE table (columns ``gene_id``, ``gene``, ``stat``): its genes with a Wald
        statistic, one row per symbol as in the GSEA ranking, are the universe.
    expression
        Log-expression indexed by gene id (:func:`log_normalized`).
    design
        Design matrix of the DE fit, samples x coefficients.
    contrast
        Contrast weights in the design's columns.
    sets
        Gene sets; CAMERA's FDR is computed per ``source``.
    min_size, max_size
        Sets with fewer or more genes in the universe are not tested.

    Returns
    -------
    pandas.DataFrame
        ``source, term`` and :data:`acc_tiam1.enrichment.CAMERA_COLUMNS` (without
        ``term``), one row per set in input order.
    """
    _, rows = de_inputs(table, expression)
    frames = []
    sources = list(dict.fromkeys(s.source for s in sets))
    for source in sources:
        members = [(i, s) for i, s in enumerate(sets) if s.source == source]
        result = camera(
            rows,
            design,
            {i: s.genes for i, s in members},
            contrast=np.asarray(contrast, dtype=float),
            min_size=min_size,
            max_size=max_size,
        )
        result["order"] = [i for i, _ in members]
        result["term"] = [s.term for _, s in members]
        result.insert(0, "source", source)
        frames.append(result)
    if not frames:
        return pd.DataFrame(columns=["source", "term"])
    out = pd.concat(frames, ignore_index=True).sort_values("order", kind="mergesort")
    return out.drop(columns="order").reset_index(drop=True)


def add_camera(gsea: pd.DataFrame, result: pd.DataFrame | None) -> pd.DataFrame:
    """A GSEA table with the CAMERA result of each set (:data:`CAMERA_RESULT_COLUMNS`).

    Parameters
    ----------
    gsea
        GSEA table (:data:`acc_tiam1.enrichment.GSEA_COLUMNS`).
    result
        Output of :func:`camera_de`, or None (nothing tested: the columns are empty).

    Returns
    -------
    pandas.DataFrame
        ``gsea`` in its order, with the CAMERA columns after the GSEA ones.
    """
    out = gsea.copy()
    if result is None or result.empty:
        for col in CAMERA_RESULT_COLUMNS:
            out[col] = np.nan if col != "camera_direction" else ""
        return out
    cam = result.set_index(["source", "term"])
    key = pd.MultiIndex.from_frame(out[["source", "term"]].astype(str))
    tested = cam["tested"].astype(bool).reindex(key, fill_value=False).to_numpy()
    for col in CAMERA_RESULT_COLUMNS:
        values = cam[col.removeprefix("camera_")].reindex(key).to_numpy()
        if col == "camera_direction":
            out[col] = np.where(tested, values, "")
        else:
            out[col] = np.where(tested, values.astype(float), np.nan)
    return out
