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
