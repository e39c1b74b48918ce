"""The raw counts of the QC'd nuclei, kept once: one compressed .h5ad per sample.

Every later step that needs counts reads these per-sample objects: integration and the
final annotated object merge them, annotation and figures take log-normalised values of a
few genes one sample at a time, pseudobulk sums them one sample at a time. So the counts
are stored once per stage (no second copy in the integrated object) and the steps that
only need a part of them never hold every nucleus x gene in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError

log = logging.getLogger(__name__)

#: Sample-sheet columns that are file locations, not covariates.
PATH_COLUMNS = ("path", "raw_path")


def read_qc_sample(path: str | Path, sample: str):
    """One sample's QC'd nuclei, named ``{sample}_{barcode}``, with ``obs["sample"]``.

    Parameters
    ----------
    path
        The .h5ad written by the per-sample QC.
    sample
        Its sample id.

    Returns
    -------
    anndata.AnnData
        Raw counts in ``X``.
    """
    import anndata as ad

    adata = ad.read_h5ad(path)
    adata.obs_names = [f"{sample}_{b}" for b in adata.obs_names]
    adata.obs["sample"] = sample
    return adata


def iter_qc_samples(paths: Mapping[str, str | Path]) -> Iterator[tuple[str, object]]:
    """``(sample, AnnData)`` of every sample in turn (see :func:`read_qc_sample`)."""
    for sample, path in paths.items():
        yield sample, read_qc_sample(path, sample)


def shared_genes(
    gene_ids: Mapping[str, Sequence[str]], allow_intersection: bool = False
) -> list[str]:
    """The gene ids every sample has, in the first sample's order.

    Samples quantified against different references do not share their genes. Cutting
    every sample down to the genes they share silently changes what is tested, so that is
    an error unless it is asked for.

    Parameters
    ----------
    gene_ids
        ``{sample: gene ids of its matrix}``.
    allow_intersection
        Keep the shared genes (with a warning) instead of stopping.

    Returns
    -------
    list
        Gene ids in every sample.

    Raises
    ------
    InputError
        When the samples' genes differ (and ``allow_intersection`` is false), naming the
        samples and how many genes differ; or when they share none.
    """
    samples = list(gene_ids)
    first = list(gene_ids[samples[0]])
    shared = set(first).intersection(*(set(g) for g in gene_ids.values()))
    union = set().union(*(set(g) for g in gene_ids.values()))
    if not shared:
        raise InputError(
            "the samples share no gene id; were they quantified with the same reference?",
            "snrna.samples",
        )
    if len(shared) == len(union):
        return first
    differ = {s: len(union - set(g)) for s, g in gene_ids.items()}
    detail = "; ".join(
        f"'{s}' has {len(gene_ids[s]):,} genes, {n:,} of all {len(union):,} missing"
        for s, n in differ.items()
        if n
    )
    if not allow_intersection:
        raise InputError(
            f"the samples were not quantified against the same genes ({detail}). Use one "
            "reference for every sample, or set snrna.allow_gene_intersection: true to "
            f"keep only the {len(shared):,} genes all samples share.",
            "snrna.samples",
        )
    log.warning(
        "samples differ in their genes (%s): %d of %d gene ids dropped, %d kept "
        "(snrna.allow_gene_intersection is true)",
        detail,
        len(union) - len(shared),
        len(union),
        len(shared),
    )
    return [g for g in first if g in shared]


def merge_samples(
    adatas: Mapping[str, object], sheet: pd.DataFrame, allow_intersection: bool = False
):
    """Concatenate per-sample objects; obs gets ``sample`` and every covariate.

    Parameters
    ----------
    adatas
        ``{sample: AnnData}`` as :func:`read_qc_sample` returns them.
    sheet
        The sample sheet (index: sample id).
    allow_intersection
        See :func:`shared_genes`.

    Returns
    -------
    anndata.AnnData
        Raw counts (CSR, int32) of every nucleus; ``var["gene"]`` symbols;
        ``uns["genes_dropped"]``: gene ids left out because not every sample has them.
    """
    import anndata as ad

    ids = {s: list(a.var_names) for s, a in adatas.items()}
    genes = shared_genes(ids, allow_intersection)
    parts = [a if a.n_vars == len(genes) else a[:, genes] for a in adatas.values()]
    merged = ad.concat(parts, join="inner", merge="first")
    merged.var["gene"] = parts[0].var.loc[merged.var_names, "gene"].to_numpy()
    samples = merged.obs["sample"].astype(str)
    for col in (c for c in sheet.columns if c not in PATH_COLUMNS):
        merged.obs[col] = sample_categories(samples, sheet, col)
    merged.obs["sample"] = sample_categories(samples, sheet)
    merged.X = sparse.csr_matrix(merged.X, dtype=np.int32)
    merged.uns["genes_dropped"] = len(set().union(*map(set, ids.values()))) - len(genes)
    return merged


def sample_categories(samples: pd.Series, sheet: pd.DataFrame, column: str | None = None):
    """A sample-sheet column for every nucleus, as a categorical.

    Parameters
    ----------
    samples
        Sample id of every nucleus.
    sheet
        The sample sheet (index: sample id).
    column
        The covariate; None gives the sample ids themselves.

    Returns
    -------
    pandas.Categorical
        Sample ids in sheet order, or the covariate's levels sorted.
    """
    if column is None:
        return pd.Categorical(samples.to_numpy(), categories=list(sheet.index))
    return pd.Categorical(
        sheet.loc[samples, column].to_numpy(), categories=sorted(sheet[column].unique())
    )


def lognorm_genes(
    paths: Mapping[str, str | Path], symbols: Sequence[str], genes: Sequence[str] | None = None
):
    """Log-normalised values of some genes for every nucleus, one sample at a time.

    The values equal those of :func:`acc_tiam1.snrna.normalise` on all genes (the
    normalisation is per nucleus), without holding every nucleus x gene in memory.

    Parameters
    ----------
    paths
        ``{sample: per-sample QC .h5ad}``.
    symbols
        Gene symbols to keep (every column with one of them).
    genes
        The gene ids of the analysis (the shared genes when samples differ); None: all.

    Returns
    -------
    anndata.AnnData
        Nuclei x kept genes, ``X`` log1p(counts per 10k) as float32, ``var["gene"]``.
    """
    import anndata as ad

    from ._integrate import normalise

    wanted = set(symbols)
    parts = []
    for _, adata in iter_qc_samples(paths):
        if genes is not None and adata.n_vars != len(genes):
            adata = adata[:, list(genes)].copy()
        normalise(adata)
        keep = adata.var["gene"].astype(str).isin(wanted).to_numpy()
        part = adata[:, keep].copy()
        del part.layers["counts"]
        parts.append(part)
    return ad.concat(parts, join="inner", merge="first")


def assemble(adata, integrated, umap: np.ndarray) -> None:
    """Complete the final object: integration results and UMAP next to the raw counts.

    Parameters
    ----------
    adata
        Merged raw counts of the integrated nuclei, in ``integrated``'s order, with the
        annotation applied (:func:`acc_tiam1.snrna.apply_annotation`).
    integrated
        The stored integration result (:func:`acc_tiam1.snrna.integration_result`).
    umap
        UMAP coordinates, nuclei x 2, in the same order.
    """
    for key in ("X_pca", "X_pca_harmony"):
        if key in integrated.obsm:
            adata.obsm[key] = integrated.obsm[key]
    adata.obsm["X_umap"] = np.asarray(umap)
    adata.varm.update(integrated.varm)
    extra = [c for c in integrated.var.columns if c not in adata.var.columns]
    adata.var[extra] = integrated.var[extra]
    adata.obsp.update(integrated.obsp)
    for key, value in integrated.uns.items():
        adata.uns.setdefault(key, value)
    adata.uns["X"] = (
        "raw UMI counts; log-normalise with sc.pp.normalize_total(adata, target_sum=1e4) "
        "and sc.pp.log1p(adata)"
    )
