"""The raw counts of the QC'd nuclei, kept once: one compressed .h5ad per sample.

Every later step that needs counts reads these per-sample objects: integration and the
final annotated object merge them, annotation and figures take log-normalised values of a
few genes one sample at a time, pseudobulk sums them one sample at a time. So the counts
are stored once per stage (no second copy in the integrated object) and the steps that
only need a part of them never hold every nucleus x gene in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError

if TYPE_CHECKING:
    from ._readers import CountsStore

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
    adatas: Mapping[str, object] | Iterable[tuple[str, object]],
    sheet: pd.DataFrame,
    allow_intersection: bool = False,
    counts: CountsStore | None = None,
):
    """Concatenate per-sample objects; obs gets ``sample`` and every covariate.

    Parameters
    ----------
    adatas
        ``{sample: AnnData}`` as :func:`read_qc_sample` returns them, or ``(sample,
        AnnData)`` pairs (e.g. :func:`iter_qc_samples`). Pairs are taken one at a time
        and only their matrices are kept, so that merging does not hold every sample's
        counts twice.
    sheet
        The sample sheet (index: sample id).
    allow_intersection
        See :func:`shared_genes`.
    counts
        Append every sample's matrices to this store as the sample comes (then written
        by :func:`acc_tiam1.snrna.write_h5ad`) instead of keeping them: one sample's
        counts are in memory at a time, and the result has no ``X`` and no layers. The
        samples must then have the same genes.

    Returns
    -------
    anndata.AnnData
        ``X`` and layers of every nucleus, as the samples had them (raw counts: CSR,
        int32); ``var["gene"]`` symbols; ``uns["genes_dropped"]``: gene ids left out
        because not every sample has them.
    """
    import anndata as ad

    pairs = adatas.items() if isinstance(adatas, Mapping) else adatas
    frames, blocks, first_genes = {}, {}, None
    for sample, adata in pairs:
        frames[sample] = ad.AnnData(obs=adata.obs, var=adata.var)
        first_genes = adata.var_names if first_genes is None else first_genes
        if counts is not None and not adata.var_names.equals(first_genes):
            raise InputError(
                f"sample '{sample}' does not have the genes of the first sample, which "
                "samples whose counts go to a store must have.",
                "snrna.samples",
            )
        for key, rows in _matrices(adata):
            if counts is None:
                blocks.setdefault(key, []).append(rows)
            else:
                counts.append(key, rows)
    ids = {s: list(f.var_names) for s, f in frames.items()}
    genes = shared_genes(ids, allow_intersection)
    parts = [f if f.n_vars == len(genes) else f[:, genes] for f in frames.values()]
    merged = ad.concat(parts, join="inner", merge="first")
    merged.var["gene"] = parts[0].var.loc[merged.var_names, "gene"].to_numpy()
    samples = merged.obs["sample"].astype(str)
    for col in (c for c in sheet.columns if c not in PATH_COLUMNS):
        merged.obs[col] = sample_categories(samples, sheet, col)
    merged.obs["sample"] = sample_categories(samples, sheet)
    columns = [pd.Index(f.var_names).get_indexer(genes) for f in frames.values()]
    for key, rows in blocks.items():
        stacked = stack_rows(rows, columns)
        if key == "X":
            merged.X = stacked
        else:
            merged.layers[key.removeprefix("layers/")] = stacked
    merged.uns["genes_dropped"] = len(set().union(*map(set, ids.values()))) - len(genes)
    return merged


def _matrices(adata) -> Iterator[tuple[str, object]]:
    """``X`` and every layer of an object, named by where they go in an .h5ad."""
    yield "X", adata.X
    for name, layer in adata.layers.items():
        yield f"layers/{name}", layer


def stack_rows(blocks: list, columns: Sequence[np.ndarray] | None = None) -> sparse.csr_matrix:
    """One CSR matrix from blocks of rows, emptying ``blocks``.

    A block's arrays are released as soon as they are copied (unless the caller still
    holds the block), so that the blocks and the result are never both whole in memory:
    the peak is the result plus its values or its column indices, not twice the result.

    Parameters
    ----------
    blocks
        Sparse blocks of rows, same dtype; the list is emptied.
    columns
        Per block, the positions of the result's columns in it (all the same length);
        None: every block has the result's columns.

    Returns
    -------
    scipy.sparse.csr_matrix
        The rows of every block, in order.
    """
    if columns is not None:
        blocks[:] = [
            b if np.array_equal(c, np.arange(b.shape[1])) else b[:, c]
            for b, c in zip(blocks, columns, strict=True)
        ]
    blocks[:] = [sparse.csr_matrix(b) for b in blocks]
    n_rows, n_cols = sum(b.shape[0] for b in blocks), blocks[0].shape[1]
    lengths = np.concatenate([np.diff(b.indptr) for b in blocks])
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    data, indices = [b.data for b in blocks], [b.indices for b in blocks]
    blocks.clear()
    data = _concatenate(data)
    indices = _concatenate(indices)
    return sparse.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate``, emptying the list as it goes (see :func:`stack_rows`)."""
    out = np.empty(sum(a.size for a in arrays), dtype=np.result_type(*arrays))
    start = 0
    while arrays:
        a = arrays.pop(0)
        out[start : start + a.size] = a
        start += a.size
    return out


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
        keep = adata.var["gene"].astype(str).isin(wanted).to_numpy()
        part = _with_rest(adata, keep)
        normalise(part, keep_counts=False)
        parts.append(part[:, :-1].copy())
    return ad.concat(parts, join="inner", merge="first")


def _with_rest(adata, keep: np.ndarray):
    """The ``keep`` columns of ``adata`` and one more with every nucleus's other counts.

    Normalising it gives the kept genes exactly the values normalising all genes gives:
    each nucleus has the same total (integer counts sum exactly in float32), and every
    value is divided by it the same way. It spares normalising the 20,000 genes of
    every nucleus to keep a few dozen.
    """
    import anndata as ad

    x = sparse.csr_matrix(adata.X)
    kept = x[:, np.flatnonzero(keep)]
    rest = np.asarray(x.sum(axis=1)).ravel() - np.asarray(kept.sum(axis=1)).ravel()
    matrix = sparse.hstack([kept, sparse.csr_matrix(rest[:, None])], format="csr")
    var = pd.concat([adata.var[keep], pd.DataFrame(index=["__rest__"])])
    return ad.AnnData(X=matrix, obs=adata.obs, var=var)


def assemble(adata, integrated, umap: np.ndarray) -> None:
    """Complete the final object: integration results and UMAP next to the raw counts.

    Parameters
    ----------
    adata
        The merged integrated nuclei (all of them, or fewer: co-expression doublets,
        found after integration, are not part of the result), with the annotation
        applied (:func:`acc_tiam1.snrna.apply_annotation`); their counts may be in a
        :class:`acc_tiam1.snrna.CountsStore`.
    integrated
        The stored integration result (:func:`acc_tiam1.snrna.integration_result`).
    umap
        UMAP coordinates, nuclei x 2, in ``adata``'s order.
    """
    integrated = integrated[adata.obs_names].copy()
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
