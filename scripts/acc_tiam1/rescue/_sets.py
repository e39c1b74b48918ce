"""Ketamine rescue of gene sets: set-score equivalence to control and the rescue class.

A set's pain effect and its reversal are CAMERA calls (see
:func:`acc_tiam1.enrichment.across_datasets`: focus sets by the FDR across datasets,
other sets by their table's FDR, direction from CAMERA). "Back at control level" is
the two one-sided tests of the set score (:func:`score_equivalence`) of pain + ketamine
vs the pain contrast's reference, from the DE design, with the margin in residual SDs of
the score; the focus sets' TOST p-values are adjusted across datasets with the same
procedure as the CAMERA calls, other sets' by BH within the dataset and gene-set file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..stats import adjust_across_datasets
from ._equivalence import RESCUE_CLASSES, classify_rescue, score_equivalence, set_scores

#: Columns of a set-equivalence table (:func:`set_equivalence`), in order.
SET_EQUIVALENCE_COLUMNS = [
    "source",
    "term",
    "genes_scored",
    "estimate",
    "se",
    "df",
    "sigma",
    "effect_size",
    "margin",
    "p_lower",
    "p_upper",
    "pvalue",
    "padj",
]

#: Columns of a gene-set rescue table (:func:`pathway_rescue`), in order.
PATHWAY_COLUMNS = [
    "source",
    "term",
    "focus",
    "NES_pain",
    "camera_pain",
    "FDR_pain",
    "NES_ketamine",
    "camera_ketamine",
    "FDR_ketamine",
    "equivalence_effect",
    "equivalence_margin",
    "equivalence_FDR",
    "class",
    "reversed",
    "direction_pain",
    "test",
    "genes_found_pain",
    "genes_found_ketamine",
    "tested_pain",
    "tested_ketamine",
]


def set_equivalence(
    expression: pd.DataFrame,
    design: pd.DataFrame,
    contrast: np.ndarray,
    sets: Sequence,
    margin: float,
    min_size: int = 5,
    max_size: int = 500,
) -> pd.DataFrame:
    """TOST of every gene set's score for one contrast of the DE design.

    Parameters
    ----------
    expression
        Log-expression of the dataset's tested genes, indexed by gene symbol (e.g. the
        rows :func:`acc_tiam1.enrichment.de_inputs` returns).
    design
        Design matrix of the DE fit, samples x coefficients.
    contrast
        Weights of the comparison (e.g. pain + ketamine vs sham).
    sets
        Gene sets (:class:`acc_tiam1.enrichment.GeneSet`).
    margin
        Equivalence margin in residual SDs of the score.
    min_size, max_size
        Sets with fewer or more genes in ``expression`` are not scored.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SET_EQUIVALENCE_COLUMNS`, one row per scored set; ``padj`` is BH
        within each gene-set file.
    """
    index = pd.Index(expression.index.astype(str))
    frames = []
    for source in dict.fromkeys(s.source for s in sets):
        members = {}
        sizes = {}
        for s in sets:
            if s.source != source:
                continue
            n = int(index.isin(list(s.genes)).sum())
            if min_size <= n <= max_size and n < len(index):
                members[s.term], sizes[s.term] = s.genes, n
        scores = set_scores(expression, members, min_size=min_size)
        if scores.empty:
            continue
        result = score_equivalence(scores, design, contrast, margin, scale="sd")
        result.insert(0, "source", source)
        result.insert(2, "genes_scored", result["term"].map(sizes))
        frames.append(result)
    if not frames:
        return pd.DataFrame(columns=SET_EQUIVALENCE_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out[SET_EQUIVALENCE_COLUMNS]


def equivalence_across(
    table: pd.DataFrame, focus: Sequence[str], method: str = "hierarchical", fdr: float = 0.05
) -> pd.DataFrame:
    """Adjust the focus sets' TOST p-values across datasets, as the CAMERA calls are.

    Parameters
    ----------
    table
        Set-equivalence tables of every dataset stacked (columns ``dataset``, ``term``,
        ``pvalue``, ``padj``).
    focus
        Focus set names.
    method
        ``hierarchical`` (Benjamini-Bogomolov, families = datasets) or ``global``.
    fdr
        Level of the family selection (Benjamini-Bogomolov).

    Returns
    -------
    pandas.DataFrame
        ``table`` with ``focus``, ``fdr_across`` (focus sets) and ``equivalence_FDR``:
        ``fdr_across`` for focus sets, ``padj`` for other sets.
    """
    if method not in ("hierarchical", "global"):
        raise InputError(f"must be hierarchical or global; got {method!r}.")
    out = table.copy()
    out["focus"] = out["term"].isin(list(focus))
    out["fdr_across"] = np.nan
    rows = out[out["focus"] & out["pvalue"].notna()]
    if len(rows):
        adj = adjust_across_datasets(rows, q=fdr, family="dataset", pvalue="pvalue")
        chosen = "bb_adjusted" if method == "hierarchical" else "fdr_global"
        out.loc[rows.index, "fdr_across"] = adj[chosen]
    out["equivalence_FDR"] = np.where(out["focus"], out["fdr_across"], out["padj"])
    return out


def pathway_test_text(focus: bool, method_label: str, fdr: float, margin: float | None) -> str:
    """Which tests and thresholds make a set's rescue class, in words (a table column)."""
    scope = f"FDR across datasets ({method_label})" if focus else "FDR within dataset"
    text = f"CAMERA {scope} < {fdr:g} (pain effect, ketamine reversal)"
    if margin is None:
        return f"{text}; equivalence not tested"
    return f"{text}; set-score TOST, margin {margin:g} residual SD, {scope} < {fdr:g}"


def pathway_rescue(
    pain: pd.DataFrame,
    ketamine: pd.DataFrame,
    equivalence: pd.DataFrame | None,
    fdr: float = 0.05,
    method_label: str = "Benjamini-Bogomolov",
) -> pd.DataFrame:
    """Rescue class of every gene set of one dataset.

    Parameters
    ----------
    pain, ketamine
        Rows of the enrichment summary (:func:`acc_tiam1.enrichment.across_datasets`)
        of this dataset for the pain and the ketamine contrast: ``source, term, NES,
        camera_direction, call_FDR, focus, genes_found, tested``.
    equivalence
        Set-equivalence rows of this dataset (:func:`equivalence_across`: ``source,
        term, effect_size, margin, equivalence_FDR``), or None / empty (not tested).
    fdr
        Threshold of every call.
    method_label
        Name of the across-dataset procedure, for the ``test`` column.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PATHWAY_COLUMNS`, by class (order of :data:`RESCUE_CLASSES`),
        focus sets first within a class. ``class`` is
        :func:`acc_tiam1.rescue.classify_rescue` of the pain call, the reversal call
        and the equivalence FDR; ``reversed`` is true for fully and partially rescued
        sets.
    """
    keep = ["source", "term", "NES", "camera_direction", "call_FDR", "genes_found", "tested"]
    for name, t in (("pain", pain), ("ketamine", ketamine)):
        missing = {*keep, "focus"} - set(t.columns)
        if missing:
            raise InputError(f"{name} enrichment rows lack column(s) {sorted(missing)}.")
    t = pain[[*keep, "focus"]].merge(
        ketamine[keep], on=["source", "term"], how="outer", suffixes=("_pain", "_ketamine")
    )
    t = t.rename(
        columns={
            "camera_direction_pain": "camera_pain",
            "camera_direction_ketamine": "camera_ketamine",
            "call_FDR_pain": "FDR_pain",
            "call_FDR_ketamine": "FDR_ketamine",
        }
    )
    t["focus"] = t["focus"].astype("boolean").fillna(False).astype(bool)
    for side in ("pain", "ketamine"):
        t[f"tested_{side}"] = _bool(t[f"tested_{side}"])
    margin = None
    if equivalence is not None and len(equivalence):
        margin = float(equivalence["margin"].iloc[0])
        e = equivalence[["source", "term", "effect_size", "equivalence_FDR"]].rename(
            columns={"effect_size": "equivalence_effect"}
        )
        t = t.merge(e, on=["source", "term"], how="left")
    else:
        t["equivalence_effect"] = np.nan
        t["equivalence_FDR"] = np.nan
    t["equivalence_margin"] = np.nan if margin is None else margin
    pain_p = t["FDR_pain"].where(t["tested_pain"] & t["tested_ketamine"])
    cls = classify_rescue(
        pain_p,
        _sign(t["camera_pain"]),
        t["FDR_ketamine"],
        _sign(t["camera_ketamine"]),
        t["equivalence_FDR"],
        alpha=fdr,
    )
    t["class"] = cls
    t["reversed"] = np.isin(cls, ["fully_rescued", "partially_rescued"])
    significant = (t["FDR_pain"] < fdr) & t["tested_pain"]
    t["direction_pain"] = np.where(significant, t["camera_pain"].fillna(""), "n.s.")
    t["test"] = [pathway_test_text(f, method_label, fdr, margin) for f in t["focus"]]
    t["_order"] = pd.Categorical(t["class"], categories=RESCUE_CLASSES)
    t = t.sort_values(
        ["_order", "focus", "FDR_pain", "source", "term"],
        ascending=[True, False, True, True, True],
        kind="mergesort",
        na_position="last",
    )
    return t.drop(columns="_order").reset_index(drop=True)[PATHWAY_COLUMNS]


def _sign(direction: pd.Series) -> np.ndarray:
    d = direction.fillna("").astype(str).to_numpy()
    return np.where(d == "up", 1.0, np.where(d == "down", -1.0, np.nan))


def _bool(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series
    return series.astype(str).str.lower().isin(["true", "1"])
