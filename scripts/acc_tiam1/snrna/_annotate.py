"""Cluster annotation from a marker table."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError
from ._assign import (
    annotation_warnings,
    assign_clusters,
    marker_evidence,
    nucleus_types,
    rules_from_config,
)
from ._integrate import leiden
from ._names import UNASSIGNED

log = logging.getLogger(__name__)


def marker_genes(markers: pd.DataFrame, symbols: Sequence[str]) -> dict[str, list[str]]:
    """Markers of each cell type that the data has (symbols, table order)."""
    present = set(map(str, symbols))
    return {row.cell_type: [g for g in row.markers if g in present] for row in markers.itertuples()}


def marker_scores(adata, markers: pd.DataFrame) -> pd.DataFrame:
    """Per-nucleus score of every cell type: mean z-score of its markers.

    Each marker's log-normalised expression is standardised over all nuclei (so rare
    types' markers count as much as abundant ones'); a type's score is the mean over
    its markers that the data has. Types with no marker in the data score NaN.

    Returns
    -------
    Nuclei x cell types (marker-table labels).
    """
    found = marker_genes(markers, adata.var["gene"])
    genes = sorted({g for gs in found.values() for g in gs})
    first = pd.Series(np.arange(adata.n_vars), index=adata.var["gene"].astype(str).to_numpy())
    first = first[~first.index.duplicated()]
    if not genes:
        raise InputError(
            "no marker gene of the marker table is in the data (are the gene "
            "symbols mouse symbols?).",
            "snrna.markers",
        )
    x = adata.X[:, first.loc[genes].to_numpy()]
    x = np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float64)
    sd = x.std(axis=0)
    z = np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)
    z = np.clip(z, -10, 10)
    col = {g: i for i, g in enumerate(genes)}
    scores = {}
    for cell_type, gs in found.items():
        if not gs:
            log.warning("cell type %s: none of its markers is in the data", cell_type)
            scores[cell_type] = np.full(adata.n_obs, np.nan)
            continue
        scores[cell_type] = z[:, [col[g] for g in gs]].mean(axis=1)
    return pd.DataFrame(scores, index=adata.obs_names)


def annotate(
    adata,
    markers: pd.DataFrame,
    resolution: float,
    seed: int,
    rules: Mapping | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leiden clusters, marker scores and cluster-level cell types, in place.

    Adds obs ``leiden``, ``cell_type`` (categories: marker-table order, then
    :data:`UNASSIGNED`), ``cell_type_nucleus`` (each nucleus' own best type by relative
    evidence, :data:`UNASSIGNED` when it has too little) and ``cell_type_score`` (its
    score for its cluster's type); ``obsm["marker_scores"]`` holds all scores.

    Parameters
    ----------
    adata
        Log-normalised nuclei with the neighbour graph.
    markers
        The marker table (:func:`acc_tiam1.io.read_markers`).
    resolution
        Leiden resolution.
    seed
        Leiden random state.
    rules
        Thresholds of :func:`acc_tiam1.snrna.assign_clusters` (``snrna.annotation``
        mapping; missing keys take their defaults).

    Returns
    -------
    clusters
        The cluster table of :func:`acc_tiam1.snrna.assign_clusters`.
    warnings
        :func:`acc_tiam1.snrna.annotation_warnings` of that table.
    """
    leiden(adata, resolution, seed)
    scores = marker_scores(adata, markers)
    rules = rules_from_config(rules)
    evidence = marker_evidence(scores, adata.obs["leiden"])
    classes = dict(zip(markers["cell_type"].astype(str), markers["class"].astype(str), strict=True))
    table = assign_clusters(scores, adata.obs["leiden"], classes, evidence=evidence, **rules)
    warnings = annotation_warnings(
        table, evidence, markers, marker_genes(markers, adata.var["gene"]), rules["min_evidence"]
    )
    categories = [*markers["cell_type"], UNASSIGNED]
    labels = adata.obs["leiden"].astype(str).map(table["cell_type"])
    adata.obs["cell_type"] = pd.Categorical(labels.to_numpy(), categories=categories)
    best = nucleus_types(evidence, rules["min_evidence"])
    adata.obs["cell_type_nucleus"] = pd.Categorical(best.to_numpy(), categories=categories)
    own = [
        scores.at[n, t] if t in scores.columns else np.nan
        for n, t in zip(scores.index, labels, strict=True)
    ]
    adata.obs["cell_type_score"] = np.asarray(own, dtype=float)
    adata.obsm["marker_scores"] = scores.to_numpy(dtype=np.float32)
    adata.uns["marker_score_types"] = list(scores.columns)
    return table, warnings


#: Columns of the per-nucleus annotation table, before the marker scores.
ANNOTATION_COLUMNS = ("sample", "leiden", "cell_type", "cell_type_nucleus", "cell_type_score")


def annotation_table(adata) -> pd.DataFrame:
    """Per-nucleus annotation (:data:`ANNOTATION_COLUMNS`, then ``score:<cell type>``)."""
    table = adata.obs[list(ANNOTATION_COLUMNS)].copy()
    scores = pd.DataFrame(
        adata.obsm["marker_scores"],
        index=adata.obs_names,
        columns=[f"score:{t}" for t in adata.uns["marker_score_types"]],
    )
    table = table.join(scores)
    table.index.name = "nucleus"
    return table


def read_annotation_table(path: str | Path) -> pd.DataFrame:
    """Read an :func:`annotation_table` written as TSV (labels kept as text)."""
    return pd.read_csv(
        path,
        sep="\t",
        index_col=0,
        dtype={c: str for c in ("nucleus", "sample", "leiden", "cell_type", "cell_type_nucleus")},
    )


def apply_annotation(adata, table: pd.DataFrame, cell_types: Sequence[str]) -> None:
    """Put an :func:`annotation_table` back into ``adata`` (obs, ``obsm["marker_scores"]``)."""
    table = table.loc[adata.obs_names]
    categories = [*cell_types, UNASSIGNED]
    adata.obs["leiden"] = pd.Categorical(
        table["leiden"].astype(str),
        categories=sorted(table["leiden"].astype(str).unique(), key=int),
    )
    for col in ("cell_type", "cell_type_nucleus"):
        adata.obs[col] = pd.Categorical(table[col].astype(str), categories=categories)
    adata.obs["cell_type_score"] = table["cell_type_score"].to_numpy(dtype=float)
    score_cols = [c for c in table.columns if c.startswith("score:")]
    adata.obsm["marker_scores"] = table[score_cols].to_numpy(dtype=np.float32)
    adata.uns["marker_score_types"] = [c.removeprefix("score:") for c in score_cols]


def marker_expression(adata, markers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Mean log-expression and detection rate of every marker per assigned cell type.

    The numbers behind the marker dot plot.

    Parameters
    ----------
    adata
        Annotated nuclei: log-normalised ``X``, ``var["gene"]`` symbols and
        ``obs["cell_type"]`` (categorical).
    markers
        The marker table (:func:`acc_tiam1.io.read_markers`).

    Returns
    -------
    mean, fraction
        Cell types present (rows, in category order) x marker genes found in the data
        (columns, in marker-table order): mean of ``X``, and fraction of nuclei with
        ``X > 0``.
    groups
        ``{cell type: its markers found}``, to group the columns.
    """
    found = marker_genes(markers, adata.var["gene"])
    symbols = adata.var["gene"].astype(str).to_numpy()
    first = pd.Series(np.arange(len(symbols)), index=symbols)
    first = first[~first.index.duplicated()]
    genes = list(dict.fromkeys(g for gs in found.values() for g in gs))
    x = adata.X[:, first.loc[genes].to_numpy()]
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    types = adata.obs["cell_type"]
    present = [t for t in types.cat.categories if (types == t).any()]
    rows = {t: (types == t).to_numpy() for t in present}
    mean = pd.DataFrame({t: x[r].mean(axis=0) for t, r in rows.items()}, index=genes).T
    fraction = pd.DataFrame({t: (x[r] > 0).mean(axis=0) for t, r in rows.items()}, index=genes).T
    return mean, fraction, dict(found)


def cluster_score_means(adata) -> pd.DataFrame:
    """Mean marker score of every cell type per Leiden cluster, clusters in numeric order.

    Parameters
    ----------
    adata
        Nuclei with ``obsm["marker_scores"]``, ``uns["marker_score_types"]`` (its column
        names) and ``obs["leiden"]``, as :func:`annotate` leaves them.

    Returns
    -------
    pandas.DataFrame
        Clusters (index, as strings) x cell types.
    """
    scores = pd.DataFrame(
        adata.obsm["marker_scores"], index=adata.obs_names, columns=adata.uns["marker_score_types"]
    )
    means = scores.groupby(adata.obs["leiden"].astype(str).to_numpy()).mean()
    return means.loc[sorted(means.index, key=int)]


def gene_values(adata, genes: Sequence[str]) -> dict[str, np.ndarray]:
    """Values of ``X`` for named genes, one array per nucleus, for feature plots.

    Parameters
    ----------
    adata
        Nuclei with ``var["gene"]`` symbols.
    genes
        Symbols; a symbol that occurs more than once takes its first column, one that
        is not in the data is left out.

    Returns
    -------
    dict
        ``{symbol: values}`` in the order of ``genes``.
    """
    symbols = adata.var["gene"].astype(str).to_numpy()
    values = {}
    for gene in genes:
        hits = np.flatnonzero(symbols == gene)
        if len(hits):
            col = adata.X[:, hits[0]]
            values[gene] = np.asarray(col.toarray() if sparse.issparse(col) else col).ravel()
    return values
