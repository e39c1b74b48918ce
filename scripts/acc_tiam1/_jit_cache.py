"""Keep the machine code pynndescent compiles at import between processes.

umap-learn imports pynndescent, and scanpy imports umap-learn to build the neighbour
graph and the UMAP. pynndescent compiles about 50 distance functions with explicit type
signatures as soon as it is imported: some 17 s of LLVM work, on every data size, in
every job that builds a graph or a UMAP (lmcinnes/pynndescent#111). numba can keep
compiled code on disk (``cache=True``), but pynndescent does not ask for it.

:func:`import_umap` imports umap-learn with ``cache=True`` as the default of
``numba.njit`` for functions given a signature (those have concrete argument types, so a
later process finds their code in the cache) and for the four umap-learn functions that
the neighbour graph and the Euclidean UMAP layout compile at their first call (another
11 s in the graph job, 3 s in the UMAP job; they take only arrays and numbers). Other
functions compiled at their first call are left as they are: some take other functions
as arguments, and those never hit a cache (pynndescent#226). numba stores the cache
beside the package (``__pycache__``), or in the user's cache folder when the package
folder is read-only (``NUMBA_CACHE_DIR`` overrides both). A cache that cannot be used is
recompiled, as before: results are the same.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager


def _has_signature(args: tuple) -> bool:
    from numba.core.typing.templates import Signature

    return bool(args) and isinstance(args[0], str | list | tuple | Signature)


#: Functions compiled at their first call that are safe to cache: (module, name).
CACHED_LAZY = {
    ("umap.umap_", "smooth_knn_dist"),
    ("umap.umap_", "compute_membership_strengths"),
    ("umap.layouts", "clip"),
    ("umap.layouts", "_optimize_layout_euclidean_single_epoch"),
}


def _cached(func, kwargs: dict) -> dict:
    if (getattr(func, "__module__", None), getattr(func, "__name__", None)) in CACHED_LAZY:
        return {"cache": True, **kwargs}
    return kwargs


@contextmanager
def _cache_eager_functions():
    import numba

    original = numba.njit

    def njit(*args, **kwargs):
        if _has_signature(args):
            return original(*args, **{"cache": True, **kwargs})
        if args and callable(args[0]):  # numba.njit(func, ...) or a bare @numba.njit
            return original(args[0], *args[1:], **_cached(args[0], kwargs))

        def decorate(func):
            return original(*args, **_cached(func, kwargs))(func)

        return decorate

    numba.njit = njit
    try:
        yield
    finally:
        numba.njit = original


def import_umap() -> None:
    """Import umap-learn (and pynndescent) with their eagerly compiled code cached.

    Call it before scanpy's ``pp.neighbors`` or ``tl.umap``; it does nothing when
    pynndescent is already imported.
    """
    if "pynndescent" in sys.modules:
        return
    with _cache_eager_functions():
        import umap  # noqa: F401


def warm(n_obs: int = 600, seed: int = 0) -> None:
    """Compile and cache the graph's and the UMAP's code once, at installation.

    Runs :func:`acc_tiam1.snrna.integrate` (with and without Harmony, exact neighbour
    search) and :func:`acc_tiam1.snrna.umap` on a small random study, so that the
    functions of :data:`CACHED_LAZY` are compiled with the argument types the workflow
    gives them and the first real job reads them from the cache (about 30 s on a new
    installation otherwise, paid inside the first integration job); and the ambient
    correction (our own kernel, cached the same way: 1.2 s to compile).

    Parameters
    ----------
    n_obs
        Random nuclei (two batches).
    seed
        Random state of the counts and of the steps.
    """
    import anndata as ad
    import numpy as np
    import pandas as pd
    from scipy import sparse

    from .snrna import integrate, normalise, umap
    from .snrna._ambient_correct import correct_counts

    rng = np.random.default_rng(seed)
    counts = sparse.csr_matrix(rng.poisson(2.0, size=(n_obs, 300)).astype(np.int32))
    obs = pd.DataFrame(
        {"batch": np.repeat(["a", "b"], [n_obs // 2, n_obs - n_obs // 2])},
        index=[f"n{i}" for i in range(n_obs)],
    )
    for harmony in (False, True):
        adata = ad.AnnData(counts.copy(), obs=obs.copy())
        normalise(adata, keep_counts=False)
        integrate(adata, n_top_genes=200, n_pcs=10, harmony=harmony, seed=seed)
        umap(adata, seed=seed)
    correct_counts(counts, rng.uniform(0, 50, n_obs), np.full(300, 1 / 300), obs["batch"])
