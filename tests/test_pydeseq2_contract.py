"""The pydeseq2 internals that the R-faithful DESeq2 engine (acc_tiam1.deseq2) builds on.

The engine subclasses pydeseq2's DeseqDataSet, DeseqStats and Inference and replaces
their estimation steps. A new pydeseq2 may rename a hook (then pydeseq2 silently runs its
own step instead of ours and results drift from R's) or change a signature. These tests
fail with a message saying what changed, before any result does.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pydeseq2
import pytest
from acc_tiam1.deseq2 import RDeseqDataSet, RDeseqStats, VectorizedInference
from pydeseq2.dds import DeseqDataSet
from pydeseq2.ds import DeseqStats
from pydeseq2.inference import Inference

PINNED = "0.5.4"
WHY = (
    "acc_tiam1.deseq2 overrides pydeseq2 {pinned} internals (see its __init__ docstring). "
    "Before changing the pydeseq2 pin in pyproject.toml/constraints.txt, check every "
    "override against the new pydeseq2 and rerun tests/test_r_agreement.py."
)

#: pydeseq2 methods the engine overrides; pydeseq2 must still call them by these names.
OVERRIDES = {
    DeseqDataSet: (
        "deseq2",
        "fit_genewise_dispersions",
        "fit_dispersion_trend",
        "_fit_parametric_dispersion_trend",
        "_fit_mean_dispersion_trend",
        "fit_dispersion_prior",
        "fit_MAP_dispersions",
        "fit_LFC",
        "refit",
        "cooks_outlier",
    ),
    DeseqStats: (
        "run_wald_test",
        "_cooks_filtering",
        "_independent_filtering",
        "_p_value_adjustment",
        "summary",
    ),
    Inference: (
        "lin_reg_mu",
        "irls",
        "alpha_mle",
        "wald_test",
        "dispersion_trend_gamma_glm",
        "lfc_shrink_nbinom_glm",
    ),
}
OURS = {DeseqDataSet: RDeseqDataSet, DeseqStats: RDeseqStats, Inference: VectorizedInference}


def test_pydeseq2_is_the_pinned_version():
    assert pydeseq2.__version__ == PINNED, (
        f"pydeseq2 {pydeseq2.__version__} is installed, the engine is written against "
        f"{PINNED}. " + WHY.format(pinned=PINNED)
    )


@pytest.mark.parametrize("base", list(OVERRIDES), ids=lambda b: b.__name__)
def test_overridden_hooks_still_exist_with_the_same_arguments(base):
    ours = OURS[base]
    for name in OVERRIDES[base]:
        assert name in ours.__dict__, f"{ours.__name__} no longer overrides {name}"
        assert hasattr(base, name), (
            f"pydeseq2's {base.__name__}.{name} is gone: our override is never called. "
            + WHY.format(pinned=PINNED)
        )
        theirs = list(inspect.signature(getattr(base, name)).parameters)
        mine = list(inspect.signature(getattr(ours, name)).parameters)
        # Our overrides may drop pydeseq2-only options but never change the order of
        # the arguments pydeseq2 passes.
        assert mine == theirs[: len(mine)], (
            f"{base.__name__}.{name} takes {theirs}, our override {mine}. "
            + WHY.format(pinned=PINNED)
        )


def test_fit_leaves_the_fields_the_engine_reads():
    """The AnnData fields our steps read after pydeseq2's own steps wrote them."""
    rng = np.random.default_rng(0)
    mu = np.exp(rng.uniform(np.log(5), np.log(2000), size=300))
    size = 1 / (0.05 + 1 / mu)  # DESeq2's mean-dispersion trend
    counts = pd.DataFrame(
        rng.negative_binomial(size, size / (size + mu), size=(8, 300)),
        index=[f"s{i}" for i in range(8)],
        columns=[f"g{j}" for j in range(300)],
    )
    meta = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 4}, index=counts.index)
    dds = RDeseqDataSet(
        counts=counts, metadata=meta, design="~ group", inference=VectorizedInference(), quiet=True
    )
    dds.deseq2()
    for field, keys in {
        "obs": ("size_factors", "replaceable"),
        "obsm": ("design_matrix",),
        "var": ("non_zero", "genewise_dispersions", "fitted_dispersions", "dispersions"),
        "varm": ("LFC",),
        "layers": ("cooks",),
        "uns": ("trend_coeffs", "prior_disp_var", "disp_function_type", "_squared_logres"),
    }.items():
        store = getattr(dds, field)
        missing = [k for k in keys if k not in store]
        assert not missing, f"pydeseq2 no longer fills {field}{missing}. " + WHY.format(
            pinned=PINNED
        )
    stats = RDeseqStats(dds, contrast=["group", "b", "a"], quiet=True)
    stats.summary()
    assert {"log2FoldChange", "lfcSE", "stat", "pvalue", "padj"} <= set(stats.results_df)
