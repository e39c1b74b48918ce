"""numba's on-disk cache for the functions pynndescent compiles at import (_jit_cache)."""

import importlib
import sys

import numba
from acc_tiam1 import _jit_cache

MODULE = """
import numba

@numba.njit("f8(f8)")
def eager(x):
    return x + 1.0

@numba.njit
def lazy(x):
    return x + 2.0

@numba.njit(["f8(f8)"], fastmath=True)
def eager_list(x):
    return x * 2.0

def smooth_knn_dist(x):
    return x * 3.0

# As if umap-learn had defined it: one of the lazily compiled functions cached by name.
smooth_knn_dist.__module__ = "umap.umap_"
smooth_knn_dist = numba.njit(fastmath=True)(smooth_knn_dist)
"""


def _import_fresh(tmp_path, name):
    (tmp_path / f"{name}.py").write_text(MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop(name, None)


def test_functions_with_a_signature_are_cached_the_others_not(tmp_path):
    original = numba.njit
    with _jit_cache._cache_eager_functions():
        module = _import_fresh(tmp_path, "jit_cache_probe")
    assert numba.njit is original
    assert type(module.eager._cache).__name__ == "FunctionCache"
    assert type(module.eager_list._cache).__name__ == "FunctionCache"
    assert type(module.lazy._cache).__name__ == "NullCache"
    assert type(module.smooth_knn_dist._cache).__name__ == "FunctionCache"
    assert module.eager(1.0) == 2.0 and module.lazy(1.0) == 3.0
    assert module.smooth_knn_dist(1.0) == 3.0
    assert list((tmp_path / "__pycache__").glob("jit_cache_probe.eager-*.nbi"))


def test_without_the_context_nothing_is_cached(tmp_path):
    module = _import_fresh(tmp_path, "jit_cache_plain")
    assert type(module.eager._cache).__name__ == "NullCache"
    assert type(module.smooth_knn_dist._cache).__name__ == "NullCache"


def test_import_umap_leaves_numba_as_it_was():
    original = numba.njit
    _jit_cache.import_umap()
    assert "pynndescent" in sys.modules and "umap" in sys.modules
    assert numba.njit is original
