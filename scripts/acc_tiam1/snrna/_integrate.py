"""Merging samples, normalisation, HVGs, PCA, Harmony, the kNN graph, UMAP and Leiden."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import sparse

from .._jit_cache import import_umap
from ..errors import InputError

log = logging.getLogger(__name__)


def normalise(adata, target_sum: float = 1e4, keep_counts: bool = True) -> None:
    """``X`` becomes log1p(counts per 10k).

    Parameters
    ----------
    adata
        Raw counts in ``X``.
    target_sum
        Counts per nucleus after scaling.
    keep_counts
        Keep the raw counts in ``layers["counts"]``. Integration does not read them, and
        at 355,000 nuclei x 20,000 genes they are 4 GB of its peak memory.
    """
    import scanpy as sc

    if keep_counts:
        adata.layers["counts"] = adata.X
        adata.X = adata.X.astype(np.float32)  # a new matrix; the layer keeps the counts
    else:
        adata.X = _float32_values(adata.X)
    sc.pp.normalize_total(adata, target_sum=target_sum)
    sc.pp.log1p(adata)


def _float32_values(x):
    """``x`` as float32; a sparse matrix keeps its index arrays (shared, not copied).

    Only the values need a new array, so converting the counts of every nucleus costs
    half a matrix rather than a whole one, once ``x`` itself is dropped.
    """
    if not sparse.issparse(x):
        return np.asarray(x, dtype=np.float32)
    return type(x)((x.data.astype(np.float32), x.indices, x.indptr), shape=x.shape)


def batch_levels(obs: pd.DataFrame, batch_key: str | None) -> int:
    """Number of batches (0 when there is no such column)."""
    if not batch_key or batch_key not in obs.columns:
        return 0
    return int(obs[batch_key].nunique())


def integrate(
    adata,
    n_top_genes: int = 2000,
    n_pcs: int = 30,
    batch_key: str | None = "batch",
    harmony: bool | None = None,
    n_neighbors: int = 15,
    exact_neighbors_max: int = 120_000,
    seed: int = 0,
    threads: int = 1,
) -> dict:
    """Batch-aware HVGs, PCA, optional Harmony and the neighbour graph, in place.

    UMAP is a separate step (:func:`umap`), so that it can run while nuclei are
    annotated and tested.

    Parameters
    ----------
    adata
        Log-normalised (see :func:`normalise`).
    n_top_genes
        Highly variable genes (Seurat flavour, ranked across batches when there are
        several).
    n_pcs
        Principal components (eigenvectors of the HVGs' covariance matrix).
    batch_key
        obs column of the batch; HVGs and Harmony use it when it has two levels or more.
    harmony
        Harmony integration of the PCs; None means on when there is more than one batch.
    n_neighbors
        Neighbours of the kNN graph.
    exact_neighbors_max
        Up to this many nuclei the kNN search is exact (brute force, fastest there);
        above it, pynndescent's approximate search (seeded, single-threaded so that it is
        reproducible), whose cost grows linearly instead of quadratically with nuclei.
    seed
        Random state of Harmony and the neighbour search.
    threads
        Threads of the exact neighbour search (see :func:`search_threads`); every other
        step runs on one.

    Notes
    -----
    BLAS runs on one thread here whatever the machine offers: a different number of
    threads sums in a different order, which moves the PCs by rounding, and rounding is
    enough to change the kNN graph, the clusters and every table downstream. Results
    must not depend on the core count of the node a job lands on. The exact neighbour
    search is the exception, as its result does not depend on its threads.

    Returns
    -------
    What was done: ``{"batches", "harmony", "representation", "n_hvgs", "n_pcs",
    "neighbors"}``.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _integrate_steps(
            adata,
            n_top_genes,
            n_pcs,
            batch_key,
            harmony,
            n_neighbors,
            exact_neighbors_max,
            seed,
            threads,
        )


def _integrate_steps(
    adata, n_top_genes, n_pcs, batch_key, harmony, n_neighbors, exact_neighbors_max, seed, threads
) -> dict:
    import time

    import scanpy as sc
    from threadpoolctl import threadpool_limits

    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        log.info("%s: %.1f s", step, now - clock[0])
        clock[0] = now

    n_batches = batch_levels(adata.obs, batch_key)
    if harmony and n_batches < 2:
        raise InputError(
            f"snrna.integration.harmony is true but batch column '{batch_key}' "
            f"{'is missing' if n_batches == 0 else 'has one level'}; nothing to integrate.",
            "snrna.integration",
        )
    use_harmony = n_batches > 1 if harmony is None else bool(harmony)
    hvg_batch = batch_key if n_batches > 1 else None
    n_top = int(min(n_top_genes, adata.n_vars))
    sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat", batch_key=hvg_batch)
    lap("highly variable genes")
    hvg = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    hvg.X = hvg.X.toarray() if sparse.issparse(hvg.X) else hvg.X
    sc.pp.scale(hvg, max_value=10)
    n_comps = int(min(n_pcs, hvg.n_obs - 1, hvg.n_vars - 1))
    # The eigenvectors of the genes' covariance (a genes x genes product, then a small
    # eigenproblem) rather than ARPACK's iterations over the whole nuclei x genes matrix:
    # three times faster with nuclei >> genes, deterministic, and closer to a
    # double-precision PCA than ARPACK on these single-precision values (measured at
    # 88,000 nuclei: largest deviation 4e-5 vs 1.6e-4 of a component's range).
    sc.pp.pca(hvg, n_comps=n_comps, svd_solver="covariance_eigh")
    adata.obsm["X_pca"] = hvg.obsm["X_pca"]
    adata.uns["pca"] = hvg.uns["pca"]
    adata.varm["PCs"] = np.zeros((adata.n_vars, n_comps), dtype=np.float32)
    adata.varm["PCs"][adata.var["highly_variable"].to_numpy()] = hvg.varm["PCs"]
    del hvg
    lap("scale + PCA")
    rep = "X_pca"
    if use_harmony:
        from ._harmony import run_harmony  # harmonypy's import costs seconds

        corrected = run_harmony(adata.obsm["X_pca"], adata.obs, batch_key, seed)
        if corrected is None:
            log.warning("too few nuclei (%d) for Harmony; PCs left as they are", adata.n_obs)
            use_harmony = False
        else:
            adata.obsm["X_pca_harmony"] = corrected
            rep = "X_pca_harmony"
            lap("Harmony")
    transformer, method = neighbour_search(adata.n_obs, n_neighbors, exact_neighbors_max, seed)
    import_umap()  # the graph's weights come from umap-learn
    n_threads = search_threads(adata.n_obs, threads) if method == "exact" else 1
    with threadpool_limits(limits=n_threads, user_api="openmp"):
        sc.pp.neighbors(
            adata, n_neighbors=n_neighbors, use_rep=rep, random_state=seed, transformer=transformer
        )
    lap(f"neighbours ({method}, {n_threads} thread{'s' if n_threads > 1 else ''})")
    info = {
        "batches": n_batches,
        "harmony": use_harmony,
        "representation": rep,
        "n_hvgs": n_top,
        "n_pcs": n_comps,
        "neighbors": method,
    }
    adata.uns["integration"] = {k: str(v) for k, v in info.items()}
    return info


def neighbour_search(n_obs: int, n_neighbors: int, exact_max: int, seed: int):
    """Neighbour search for ``sc.pp.neighbors``: exact up to ``exact_max`` nuclei.

    Brute-force search (BLAS) is exact, deterministic and the faster one up to about
    130,000 nuclei on 2 cores, but its cost is quadratic; above ``exact_max`` the
    approximate search of pynndescent (scanpy's default, with scanpy's tree and iteration
    settings) is used, seeded and on one thread so that reruns give the same graph.

    Returns
    -------
    The transformer and a short name of the method (for the log and the Methods text).
    """
    if n_obs <= exact_max:
        from sklearn.neighbors import KNeighborsTransformer

        return (
            KNeighborsTransformer(n_neighbors=n_neighbors, algorithm="brute", n_jobs=1),
            "exact",
        )
    import_umap()
    from pynndescent import PyNNDescentTransformer

    return (
        PyNNDescentTransformer(
            n_neighbors=n_neighbors,
            metric="euclidean",
            random_state=seed,
            n_jobs=1,
            n_trees=min(64, 5 + round(n_obs**0.5 / 20.0)),
            n_iters=max(5, round(np.log2(n_obs))),
        ),
        "approximate (pynndescent)",
    )


def search_threads(n_obs: int, threads: int) -> int:
    """Threads for the exact neighbour search of ``n_obs`` nuclei: ``threads`` or 1.

    scikit-learn's brute-force search (``ArgKmin``) cuts the nuclei into chunks of
    ``pairwise_dist_chunk_size`` (256) and, when the queries are at least four chunks
    per thread, gives each thread whole chunks of queries ("parallel on X"): every
    nucleus's neighbours are then found by one thread, against the same fixed chunks of
    all nuclei, so the graph is the same with any number of threads. Below that size it
    would split the searched nuclei between the threads and merge their candidates, where
    equal distances could be resolved differently; there, one thread (a second is no gain
    on so few nuclei anyway).
    """
    from sklearn import get_config

    chunk = get_config().get("pairwise_dist_chunk_size", 256)
    threads = max(int(threads), 1)
    return threads if 4 * chunk * threads < n_obs else 1


def umap(adata, min_dist: float = 0.5, seed: int = 0) -> np.ndarray:
    """UMAP of the neighbour graph made by :func:`integrate` (seeded, so single-threaded).

    The layout starts from the first two components of the representation the graph was
    built on (Harmony-corrected PCs, else PCs), not from umap-learn's spectral layout:
    PCA initialisation keeps the global structure at least as well (Kobak & Linderman
    2021, Nat Biotechnol 39:156) and skips an eigen-decomposition of the whole graph,
    which took as long as the layout itself (12 s of 40 at 21,000 nuclei).

    Returns
    -------
    Nuclei x 2 coordinates (also stored in ``obsm["X_umap"]``).
    """
    import scanpy as sc

    import_umap()
    rep = adata.uns["neighbors"]["params"].get("use_rep", "X_pca")
    init = np.ascontiguousarray(adata.obsm[rep][:, :2], dtype=np.float64)
    sc.tl.umap(adata, min_dist=min_dist, random_state=seed, init_pos=init)
    return np.asarray(adata.obsm["X_umap"])


def leiden(adata, resolution: float, seed: int, key: str = "leiden") -> None:
    """Leiden clusters (igraph implementation, seeded), labels ordered by size."""
    import scanpy as sc

    sc.tl.leiden(
        adata,
        resolution=resolution,
        flavor="igraph",
        n_iterations=2,
        directed=False,
        random_state=seed,
        key_added=key,
    )


def integration_result(adata):
    """What integration made, without an expression matrix: the object to store.

    Parameters
    ----------
    adata
        Integrated nuclei (:func:`integrate`).

    Returns
    -------
    anndata.AnnData
        obs, var (with the highly variable genes), ``obsm`` (PCs, Harmony), ``varm``
        (loadings), ``obsp`` and ``uns`` (the kNN graph, integration settings); no ``X``:
        the counts are in the per-sample QC objects and in the final annotated object.
    """
    import anndata as ad

    return ad.AnnData(
        obs=adata.obs.copy(),
        var=adata.var.copy(),
        obsm=dict(adata.obsm),
        varm=dict(adata.varm),
        obsp=dict(adata.obsp),
        uns=dict(adata.uns),
    )
