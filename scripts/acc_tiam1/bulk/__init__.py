"""Sample-level quality control of count matrices (bulk samples or pseudobulk samples).

Figures are in :mod:`acc_tiam1.bulk.plots`.
"""

from ._qc import (
    flag_outliers,
    library_stats,
    pca,
    robust_z,
    sample_distances,
    top_variable,
    vst,
    within_group_distance,
)

__all__ = [
    "flag_outliers",
    "library_stats",
    "pca",
    "robust_z",
    "sample_distances",
    "top_variable",
    "vst",
    "within_group_distance",
]
