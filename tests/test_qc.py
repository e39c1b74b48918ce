"""Sample QC: PCA and outlier flags."""

import numpy as np
import pandas as pd
from acc_tiam1 import bulk


def _study(seed=0):
    rng = np.random.default_rng(seed)
    samples = [f"s{i}" for i in range(12)]
    groups = pd.Series(["a"] * 6 + ["b"] * 6, index=samples)
    base = rng.normal(6, 2, 400)
    vst = np.outer(base, np.ones(12)) + rng.normal(0, 0.2, (400, 12))
    vst[:100, 6:] += 3.0  # strong group difference: biology, not a quality problem
    # Counts drawn apart from the VST values so that library sizes do not follow groups.
    counts = pd.DataFrame(rng.poisson(np.exp(np.outer(base, np.ones(12)))), columns=samples)
    return pd.DataFrame(vst, columns=samples), counts, groups


def test_group_differences_are_not_outliers():
    vst, counts, groups = _study()
    d = bulk.sample_distances(vst)
    flags = bulk.flag_outliers(bulk.library_stats(counts), d, 3.5, groups=groups)
    assert not flags["outlier"].any(), flags


def test_bad_samples_are_flagged_with_a_reason():
    vst, counts, groups = _study()
    vst["s3"] = vst["s3"] + np.random.default_rng(1).normal(0, 2.0, 400)
    counts["s8"] = counts["s8"] // 10
    d = bulk.sample_distances(vst)
    flags = bulk.flag_outliers(bulk.library_stats(counts), d, 3.5, groups=groups)
    assert flags.index[flags["outlier"]].tolist() == ["s3", "s8"]
    assert "far from the other samples of its group" in flags.loc["s3", "outlier_reason"]
    assert "low library size" in flags.loc["s8", "outlier_reason"]


def test_pca_is_deterministic_and_sign_fixed():
    vst, _, _ = _study()
    a, ev = bulk.pca(bulk.top_variable(vst, 200))
    b, _ = bulk.pca(bulk.top_variable(vst, 200))
    pd.testing.assert_frame_equal(a, b)
    assert ev[0] > 0.5  # the group difference dominates PC1
    assert abs(a.loc[["s0", "s1"], "PC1"].mean() - a.loc[["s6", "s7"], "PC1"].mean()) > 5
