"""The R-faithful, vectorised DESeq2 engine (acc_tiam1.deseq2), without R.

Reference numbers were computed with R 4.x / DESeq2 1.38.3 on the same inputs (the
R calls are quoted next to them), so these tests pin R's behaviour without needing R.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import de, deseq2, design
from scipy.stats import f as scipy_f


def test_lowess_is_r_lowess():
    # x <- seq(0.1, 0.95, length = 50); y <- round(100 * sin(3 * x) + 20 * cos(17 * x))
    # lowess(y ~ x, f = 1/5)$y[c(1, 10, 25, 40, 50)]
    x = np.linspace(0.1, 0.95, 50)
    y = np.round(100 * np.sin(3 * x) + 20 * np.cos(17 * x))
    fitted = deseq2.r_lowess(x, y, f=1 / 5)
    expected = [23.7925131291, 63.1507880167, 86.032647655, 85.9812385177, 7.18522779287]
    np.testing.assert_allclose(fitted[[0, 9, 24, 39, 49]], expected, rtol=1e-10)


# DESeq2:::fitDispWrapper(Y, X, mu, la, prior_mean, prior_var, log(1e-9), 1, 1e-6, 100,
#                         use_prior, matrix(1, 4, 6), FALSE, 0.01, TRUE)
DISP_Y = np.array(
    [
        [10, 14, 8, 25, 31, 22],
        [0, 1, 0, 3, 0, 2],
        [1500, 1720, 1310, 1650, 2400, 1990],
        [5, 0, 60, 3, 2, 1],
    ],
    dtype=float,
)
DISP_X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1]]).astype(float)
DISP_MU = np.maximum(
    np.array(
        [
            [32 / 3] * 3 + [78 / 3] * 3,
            [1 / 3] * 3 + [5 / 3] * 3,
            [4530 / 3] * 3 + [6040 / 3] * 3,
            [65 / 3] * 3 + [2] * 3,
        ]
    ),
    0.5,
)
DISP_START = np.log([0.1, 0.5, 0.01, 1.0])


def test_dispersion_line_search_is_r_fitdisp():
    gw = deseq2.fit_disp(
        DISP_Y,
        DISP_MU,
        DISP_X,
        DISP_START,
        DISP_START,
        1.0,
        False,
        min_log_alpha=np.log(1e-9),
    )
    np.testing.assert_allclose(
        gw["log_alpha"],
        [-5.36491518148, -0.160448261666, -3.64762599223, 0.828474220602],
        rtol=1e-9,
    )
    # R's iteration counts, including the first gene that never converges.
    assert gw["iter"].tolist() == [100, 56, 8, 8]
    post = deseq2.fit_disp(
        DISP_Y,
        DISP_MU,
        DISP_X,
        DISP_START,
        np.log([0.05, 0.4, 0.02, 0.3]),
        0.5,
        True,
        min_log_alpha=np.log(1e-9),
    )
    np.testing.assert_allclose(
        post["log_alpha"],
        [-3.2132560022, -0.876608880317, -3.77780859653, -0.046103095938],
        rtol=1e-9,
    )
    assert post["iter"].tolist() == [8, 4, 9, 9]


def test_dispersion_grid_is_r_fitdispgrid():
    # DESeq2:::fitDispGridWrapper(Y, X, mu, rep(0, 4), 1, FALSE, ...)
    alpha = deseq2.fit_disp_grid(DISP_Y, DISP_MU, DISP_X, 0.0, 1.0, False, 6)
    np.testing.assert_allclose(
        alpha, [4.2270635896e-09, 0.847184183926, 0.0255389016743, 2.2480219841], rtol=1e-8
    )


def test_coefficients_and_standard_errors_are_r_nbinomwaldtest():
    # sizeFactors(dds) <- SF; dispersions(dds) <- c(12, 0.1, 0.02, 2.5)
    # nbinomWaldTest(dds); results(dds, cooksCutoff = FALSE, independentFiltering = FALSE)
    Y = np.array(
        [
            [0, 0, 0, 0, 0, 0, 0, 0, 196, 0, 341, 0],
            [5, 8, 3, 6, 4, 7, 15, 22, 18, 11, 25, 19],
            [1200, 1500, 900, 1100, 1300, 1000, 1400, 1900, 1700, 1600, 1800, 2100],
            [0, 1, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0],
        ],
        dtype=float,
    )
    sf = np.array([1.1, 0.9, 1.0, 1.2, 0.8, 1.05, 0.95, 1.0, 1.15, 0.85, 1.0, 0.98])
    X = np.column_stack([np.ones(12), [0] * 6 + [1] * 6]).astype(float)
    disp = np.array([12, 0.1, 0.02, 2.5])
    fit = deseq2.fit_nbinom_glms(Y, sf, X, disp)
    lfc = fit["beta"][:, 1] / np.log(2)
    se = deseq2.wald_se(fit["beta"], disp, sf, X, np.array([0.0, 1.0])) / np.log(2)
    assert fit["iters"].tolist() == [100, 3, 3, 16]  # gene 1 leaves IRLS for optim
    # Gene 1 (zero in group a) goes through R's optim; its end point depends on the
    # L-BFGS-B build, hence the looser tolerance.
    np.testing.assert_allclose(lfc[0], 23.09548442, atol=1e-3)
    np.testing.assert_allclose(lfc[1:], [1.756129375, 0.5798481349, -1.010216033], rtol=1e-7)
    np.testing.assert_allclose(
        se, [3.003865172, 0.3894152472, 0.1198686035, 1.750545518], rtol=1e-6
    )


def _simulate(n_per_group, levels=("ctrl", "treated"), n_genes=300, seed=3, batch=False):
    rng = np.random.default_rng(seed)
    cond = [lv for lv in levels for _ in range(n_per_group)]
    sheet = pd.DataFrame({"condition": cond}, index=[f"s{i:02d}" for i in range(len(cond))])
    if batch:
        sheet["batch"] = ["b1", "b2"] * (len(cond) // 2)
    base = np.exp(rng.normal(4, 1.5, n_genes))
    disp = 0.05 + 1 / base
    mu = np.outer(base, np.ones(len(cond)))
    mu[:20, sheet["condition"].eq(levels[1]).to_numpy()] *= 4
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + disp[:, None] * mu))
    ids = [f"g{i:03d}" for i in range(n_genes)]
    counts = pd.DataFrame(counts, index=pd.Index(ids, name="gene_id"), columns=sheet.index)
    return counts, sheet


def _fit(counts, sheet, formula, contrast):
    coldata = design.make_coldata(sheet, formula, [contrast])
    return de.fit_deseq(counts.loc[:, coldata.index], coldata, formula)


def _genes(counts):
    return pd.DataFrame({"gene": counts.index}, index=counts.index)


def test_fit_is_deterministic_and_pickles():
    counts, sheet = _simulate(4)
    contrast = design.Contrast("t", "condition", "treated", "ctrl")
    first = de.contrast_table(
        _fit(counts, sheet, "~ condition", contrast), contrast, _genes(counts)
    )
    dds = _fit(counts, sheet, "~ condition", contrast)
    again = de.contrast_table(pickle.loads(pickle.dumps(dds)), contrast, _genes(counts))
    pd.testing.assert_frame_equal(first, again, check_exact=True)
    assert isinstance(dds, deseq2.RDeseqDataSet)


def test_no_replicates_is_an_error_as_in_r():
    counts, sheet = _simulate(1)
    contrast = design.Contrast("t", "condition", "treated", "ctrl")
    with pytest.raises(ValueError, match="no replicates"):
        _fit(counts, sheet, "~ condition", contrast)


def test_zero_genes_follow_r():
    counts, sheet = _simulate(3, levels=("a", "b", "c"))
    counts.iloc[0] = 0  # all zero: no test
    counts.iloc[1] = 0
    counts.iloc[1, :3] = [4, 9, 2]  # zero in b and c only
    contrast = design.Contrast("cb", "condition", "c", "b")
    coldata = design.make_coldata(sheet, "~ condition", [contrast])
    coldata["condition"] = coldata["condition"].cat.reorder_categories(["a", "b", "c"])
    dds = de.fit_deseq(counts, coldata, "~ condition")
    table = de.contrast_table(dds, contrast, _genes(counts), shrink=False).set_index("gene_id")
    assert np.isnan(table.loc["g000", "pvalue"]) and table.loc["g000", "baseMean"] == 0
    # R's contrastAllZero: fold change 0, statistic 0, p-value 1.
    assert table.loc["g001", ["log2FoldChange", "stat", "pvalue"]].tolist() == [0, 0, 1]


def test_cooks_exemption_only_for_one_two_level_factor():
    counts, sheet = _simulate(6, batch=True)
    # One count among zeros: the largest Cook's distance sits at a count below six
    # others, which R exempts only in a design with one two-level factor.
    counts.iloc[5] = [100, 110, 95, 105, 100, 98, 0, 0, 0, 0, 0, 90]
    contrast = design.Contrast("t", "condition", "treated", "ctrl")
    one = _fit(counts, sheet, "~ condition", contrast)
    two = _fit(counts, sheet, "~ batch + condition", contrast)
    cutoff = scipy_f.ppf(0.99, 2, 10)
    assert one.var["_max_cooks"].iloc[5] > cutoff
    assert not one.cooks_outlier().iloc[5]
    assert two.cooks_outlier().iloc[5]


def test_outliers_are_replaced_and_refitted_with_seven_replicates():
    counts, sheet = _simulate(8)
    contrast = design.Contrast("t", "condition", "treated", "ctrl")
    clean = de.contrast_table(
        _fit(counts, sheet, "~ condition", contrast), contrast, _genes(counts), shrink=False
    ).set_index("gene_id")
    counts.iloc[50, 2] = counts.iloc[50].max() * 30 + 1000  # an unchanged gene
    dds = _fit(counts, sheet, "~ condition", contrast)
    assert dds.var["replaced"].iloc[50] and dds.var["refitted"].iloc[50]
    assert dds.obs["replaceable"].all()
    # Every sample replaceable: R records no maximum Cook's distance, filters nothing.
    assert dds.var["_max_cooks"].isna().all()
    table = de.contrast_table(dds, contrast, _genes(counts), shrink=False).set_index("gene_id")
    assert np.isfinite(table.loc["g050", "pvalue"])
    # The replaced count no longer drives the fold change.
    assert table.loc["g050", "log2FoldChange"] == pytest.approx(
        clean.loc["g050", "log2FoldChange"], abs=0.3
    )


def test_shrinkage_reaches_pydeseq2s_optimum_or_better():
    from pydeseq2.utils import nbinomFn, nbinomGLM

    counts, _ = _simulate(4, n_genes=40)
    X = np.column_stack([np.ones(8), [0] * 4 + [1] * 4]).astype(float)
    Y = counts.to_numpy(dtype=float)
    size = np.full(40, 1 / 0.08)
    offset = np.zeros(8)
    beta, inv_h, conv = deseq2.shrink_nbinom_glm(X, Y, size, offset, 15, 0.5, 1)
    assert conv.all()
    for g in range(0, 40, 4):
        ref, _, _ = nbinomGLM(X, Y[g], size[g], offset, 15, 0.5, shrink_index=1)
        ours_f = nbinomFn(beta[g], X, Y[g], size[g], offset, 15, 0.5, 1)
        ref_f = nbinomFn(ref, X, Y[g], size[g], offset, 15, 0.5, 1)
        assert ours_f <= ref_f + 1e-8 * abs(ref_f)
        np.testing.assert_allclose(beta[g], ref, atol=5e-3)
    assert np.all(np.diagonal(inv_h, axis1=1, axis2=2) > 0)


def test_vectorised_inference_keeps_pydeseq2_interface():
    counts, _ = _simulate(4, n_genes=50)
    sf = np.ones(8)
    X = np.column_stack([np.ones(8), [0] * 4 + [1] * 4]).astype(float)
    inf = deseq2.VectorizedInference()
    Y = counts.to_numpy().T  # pydeseq2's samples x genes
    beta, mu, hat, _ = inf.irls(Y, sf, X, np.full(50, 0.1), 0.5, 1e-8)
    assert beta.shape == (50, 2) and mu.shape == (8, 50) and hat.shape == (8, 50)
    disp, ok = inf.alpha_mle(Y, X, mu, np.full(50, 0.1), 1e-8, 10.0)
    assert disp.shape == (50,) and ok.dtype == bool
