"""numba's on-disk cache for the functions pynndescent compiles at import (_jit_cache)."""

import sys

import numba
import pytest
from acc_tiam1 import _jit_cache


class _Recorder:
    """Stands in for ``numba.njit``: records the options each function is compiled with
    (compiling for real costs numba's start-up, 20 s, and says nothing more)."""

    def __init__(self):
        self.calls = {}

    def __call__(self, *args, **kwargs):
        if args and callable(args[0]):
            self.calls[args[0].__name__] = kwargs
            return args[0]

        def decorate(func):
            self.calls[func.__name__] = {"signature": args[0] if args else None, **kwargs}
            return func

        return decorate


def _define(njit):
    @njit("f8(f8)")
    def eager(x):
        return x + 1.0

    @njit(["f8(f8)"], fastmath=True)
    def eager_list(x):
        return x * 2.0

    @njit
    def lazy(x):
        return x + 2.0

    @njit(fastmath=True)
    def lazy_options(x):
        return x + 3.0

    def smooth_knn_dist(x):
        return x

    # As if umap-learn had defined it: a lazily compiled function cached by its name.
    smooth_knn_dist.__module__ = "umap.umap_"
    njit(fastmath=True)(smooth_knn_dist)

    def _optimize_layout_euclidean_single_epoch(x):
        return x

    _optimize_layout_euclidean_single_epoch.__module__ = "umap.layouts"
    njit(_optimize_layout_euclidean_single_epoch, fastmath=True, parallel=False)


@pytest.fixture
def recorder(monkeypatch):
    fake = _Recorder()
    monkeypatch.setattr(numba, "njit", fake)
    return fake


def test_functions_with_a_signature_or_on_the_list_are_cached(recorder):
    with _jit_cache._cache_eager_functions():
        _define(numba.njit)
    assert numba.njit is recorder  # put back as it was
    calls = recorder.calls
    assert calls["eager"]["cache"] is True and calls["eager"]["signature"] == "f8(f8)"
    assert calls["eager_list"] == {"signature": ["f8(f8)"], "cache": True, "fastmath": True}
    assert calls["smooth_knn_dist"] == {"signature": None, "cache": True, "fastmath": True}
    assert calls["_optimize_layout_euclidean_single_epoch"] == {
        "cache": True,
        "fastmath": True,
        "parallel": False,
    }
    assert "cache" not in calls["lazy"]
    assert calls["lazy_options"] == {"signature": None, "fastmath": True}


def test_an_explicit_cache_false_is_kept(recorder):
    with _jit_cache._cache_eager_functions():

        @numba.njit("f8(f8)", cache=False)
        def eager(x):
            return x

    assert recorder.calls["eager"]["cache"] is False


def test_without_the_context_nothing_is_cached(recorder):
    _define(numba.njit)
    assert not any("cache" in kwargs for kwargs in recorder.calls.values())


def test_import_umap_leaves_numba_as_it_was():
    original = numba.njit
    _jit_cache.import_umap()
    assert "pynndescent" in sys.modules and "umap" in sys.modules
    assert numba.njit is original


@pytest.mark.e2e
def test_warm_fills_the_cache_of_every_listed_function(tmp_path):
    """What bootstrap runs at installation: afterwards numba's cache holds the four
    lazily compiled umap-learn functions and pynndescent's eager ones. A fresh process
    with its own cache folder, because numba caches per process once imported."""
    import os
    import subprocess

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = "from acc_tiam1._jit_cache import warm; warm(n_obs=200)"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    index = {p.name.split(".")[1].split("-")[0] for p in tmp_path.rglob("*.nbi")}
    for module, name in _jit_cache.CACHED_LAZY:
        assert name in index, (module, name, sorted(index))
    assert len(list(tmp_path.glob("pynndescent_*/*.nbi"))) >= 20
