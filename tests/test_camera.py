"""CAMERA (acc_tiam1.enrichment.camera) against limma::camera, and on data built to break
a gene-permutation test.

The R side gets the same log-expression, design, sets and contrast and returns only its
results: camera's table, squeezeVar's prior of ``lmFit``'s variances, cameraPR on a
statistic we give it, and trigammaInverse / zscoreT on a grid. Nothing computed inside
R's camera is fed to ours.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers import REPO, design_matrix, r_package_missing
from acc_tiam1 import enrichment as en
from acc_tiam1.errors import InputError
from scipy import special, stats

#: limma in R. Inputs in the folder given as argument: y.tsv (genes x samples),
#: design.tsv (samples x coefficients), sets.tsv (term, gene), contrasts.tsv (one column
#: of weights per contrast; a single weight of 1 is passed as a column number), stat.tsv
#: (gene, stat), grid.tsv (x, t, df). Writes r_camera.tsv, r_fixed.tsv, r_squeeze.tsv,
#: r_camera_pr.tsv, r_grid.tsv, all numbers with 17 significant digits.
R_LIMMA = r"""
suppressMessages(library(limma))
dir <- commandArgs(TRUE)[1]
put <- function(df, name) {
  num <- vapply(df, is.numeric, TRUE)
  df[num] <- lapply(df[num], function(v) sprintf("%.17g", v))
  write.table(df, file.path(dir, name), sep = "\t", quote = FALSE, row.names = FALSE)
}
y <- as.matrix(read.delim(file.path(dir, "y.tsv"), row.names = 1, check.names = FALSE))
design <- as.matrix(read.delim(file.path(dir, "design.tsv"), row.names = 1,
                               check.names = FALSE))
long <- read.delim(file.path(dir, "sets.tsv"), colClasses = "character")
index <- split(long$gene, factor(long$term, levels = unique(long$term)))
contrasts <- read.delim(file.path(dir, "contrasts.tsv"), check.names = FALSE)
out <- NULL
fixed <- NULL
for (name in colnames(contrasts)) {
  w <- contrasts[[name]]
  contrast <- if (sum(w != 0) == 1 && any(w == 1)) which(w == 1) else w
  res <- camera(y, index, design, contrast = contrast, inter.gene.cor = NA, sort = FALSE)
  out <- rbind(out, data.frame(contrast = name, term = rownames(res), res))
  res <- camera(y, index, design, contrast = contrast, inter.gene.cor = 0.05, sort = FALSE)
  fixed <- rbind(fixed, data.frame(contrast = name, term = rownames(res), res))
}
put(out, "r_camera.tsv")
put(fixed, "r_fixed.tsv")
fit <- lmFit(y, design)
sv <- squeezeVar(fit$sigma^2, fit$df.residual)
put(data.frame(df_prior = sv$df.prior, var_prior = sv$var.prior), "r_squeeze.tsv")
st <- read.delim(file.path(dir, "stat.tsv"), colClasses = c("character", "numeric"))
pr <- cameraPR(setNames(st$stat, st$gene), index, inter.gene.cor = 0.05, sort = FALSE)
put(data.frame(term = rownames(pr), pr), "r_camera_pr.tsv")
g <- read.delim(file.path(dir, "grid.tsv"))
put(data.frame(trigamma_inverse = trigammaInverse(g$x),
               z = zscoreT(g$t, df = g$df, approx = TRUE, method = "hill")), "r_grid.tsv")
"""


@pytest.fixture(scope="module")
def need_limma():
    reason = r_package_missing("limma")
    if reason:
        pytest.skip(f"limma is not available: {reason}")


def unit(design: pd.DataFrame, column: str) -> np.ndarray:
    """Contrast weights selecting one design column."""
    return (design.columns == column).astype(float)


def run_r_limma(
    tmp: Path,
    y: pd.DataFrame,
    design: pd.DataFrame,
    sets: dict,
    contrasts: dict[str, np.ndarray],
    stat: pd.Series,
) -> dict[str, pd.DataFrame]:
    """Run :data:`R_LIMMA` on these inputs; R's outputs as DataFrames."""
    y.to_csv(tmp / "y.tsv", sep="\t", float_format="%.17g")
    design.to_csv(tmp / "design.tsv", sep="\t")
    rows = [(term, g) for term, genes in sets.items() for g in genes]
    pd.DataFrame(rows, columns=["term", "gene"]).to_csv(tmp / "sets.tsv", sep="\t", index=False)
    pd.DataFrame(contrasts).to_csv(tmp / "contrasts.tsv", sep="\t", index=False)
    stat.rename("stat").rename_axis("gene").reset_index().to_csv(
        tmp / "stat.tsv", sep="\t", index=False, float_format="%.17g"
    )
    grid().to_csv(tmp / "grid.tsv", sep="\t", index=False, float_format="%.17g")
    (tmp / "limma.R").write_text(R_LIMMA)
    proc = subprocess.run(
        ["Rscript", str(tmp / "limma.R"), str(tmp)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = ("camera", "fixed", "squeeze", "camera_pr", "grid")
    return {n: pd.read_csv(tmp / f"r_{n}.tsv", sep="\t") for n in names}


def grid() -> pd.DataFrame:
    """Arguments for trigammaInverse (every branch) and zscoreT (small to huge df)."""
    x = np.r_[1e-8, 5e-7, 1e-6, 1e-3, 0.05, 0.3, 1, 2.5, 10, 1e3, 1e6, 1e7, 2e7]
    t = np.r_[-40, -8, -3, -1.2, -1e-3, 0, 1e-3, 0.7, 2, 4.5, 9, 25, 60]
    df = np.r_[1, 2, 3, 4.5, 7, 12, 20, 35, 80, 200, 1e3, 1e5, 1e8]
    return pd.DataFrame({"x": x, "t": t, "df": df})


def simulate_log_expression(design: pd.DataFrame, n_genes: int, seed: int):
    """Normal log-expression with correlated, shifted and null sets of genes.

    Returns ``y`` (genes x samples) and ``{kind: {term: genes}}``: ``correlated`` sets
    share a per-sample random effect (no condition effect), ``shifted`` sets move in
    pain, ``null`` sets do neither.
    """
    rng = np.random.default_rng(seed)
    n = len(design)
    genes = np.array([f"G{i:05d}" for i in range(n_genes)])
    x = design.to_numpy()
    beta = rng.normal(0, 0.3, (n_genes, x.shape[1]))
    beta[:, 0] = rng.normal(6, 2, n_genes)
    beta[:, 3:] = 0.0
    de = rng.choice(n_genes, n_genes // 20, replace=False)
    beta[de, 3] = rng.normal(0, 1.0, de.size)
    y = beta @ x.T + rng.normal(0, 0.5, (n_genes, n))
    pool = rng.permutation(np.setdiff1d(np.arange(n_genes), de))
    sets: dict[str, dict[str, list[str]]] = {"correlated": {}, "shifted": {}, "null": {}}
    start = 0
    for kind, sizes in (
        ("correlated", (10, 25, 50, 80, 120)),
        ("shifted", (10, 25, 50, 80, 120)),
        ("null", (3, 10, 25, 50, 80, 120, 200)),
    ):
        for k, size in enumerate(sizes):
            idx = pool[start : start + size]
            start += size
            if kind == "correlated":
                y[idx] += rng.normal(0, 0.6 + 0.1 * k, n)[None, :]
            elif kind == "shifted":
                y[np.ix_(idx, (x[:, 3] == 1))] += 0.25
            sets[kind][f"{kind}_{k}"] = genes[idx].tolist()
    sets["null"]["one_gene"] = [genes[pool[start]]]
    frame = pd.DataFrame(y, index=genes, columns=design.index)
    return frame, sets


def simulate_demo_counts(seed: int):
    """Counts shaped as the bulk demo: 10,000 genes, the demo's 24 samples and design.

    Negative binomial with DESeq2's mean-dispersion trend; six pathway-like sets with a
    pain effect in 70% of their genes, ten sets sharing a per-sample effect, 150 single
    DE genes, and 300 random sets. Returns counts, sample sheet, sets.
    """
    rng = np.random.default_rng(seed)
    n_genes = 10000
    sheet = pd.read_csv(REPO / "config" / "demo" / "bulk_samples.tsv", sep="\t", index_col=0)
    n = len(sheet)
    mu = np.exp(rng.normal(4.5, 1.8, n_genes))
    disp = (0.03 + 1.2 / mu) * np.exp(rng.normal(0, 0.4, n_genes))
    genes = np.array([f"G{i:05d}" for i in range(n_genes)])
    pain = (sheet["condition"] == "pain").to_numpy()
    lfc = np.zeros((n_genes, n))
    pool = rng.permutation(np.flatnonzero(mu > 20))
    sets, start = {}, 0
    for i, (size, effect) in enumerate(
        [(15, 0.5), (20, 0.3), (24, 0.2), (9, 0.6), (24, 0.15), (59, 0.25)]
    ):
        idx = pool[start : start + size]
        start += size
        hit = idx[rng.random(size) < 0.7]
        lfc[np.ix_(hit, pain)] += effect
        sets[f"pathway_{i}"] = genes[idx].tolist()
    for i in range(10):
        idx = pool[start : start + 40]
        start += 40
        lfc[idx] += rng.normal(0, 0.2 + 0.05 * i, n)[None, :]
        sets[f"correlated_{i}"] = genes[idx].tolist()
    single = rng.choice(pool[start:], 150, replace=False)
    lfc[np.ix_(single, pain)] += (rng.uniform(0.8, 2, 150) * rng.choice([-1, 1], 150))[:, None]
    for i in range(300):
        sets[f"random_{i:03d}"] = rng.choice(
            genes, int(rng.integers(5, 300)), replace=False
        ).tolist()
    sf = np.exp(rng.normal(0, 0.2, n))
    m = mu[:, None] * sf[None, :] * np.exp2(lfc)
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + disp[:, None] * m))
    return pd.DataFrame(counts, index=genes, columns=sheet.index), sheet, sets, sf


def _flat(sets: dict) -> dict[str, list[str]]:
    return {term: g for kind in sets.values() for term, g in kind.items()}


def _compare(r: pd.DataFrame, ours: pd.DataFrame, estimated: bool = True) -> dict:
    r = r.set_index("term")
    ours = ours.set_index("term").loc[r.index]
    rel_p = np.abs(ours["pvalue"] / r["PValue"] - 1)
    out = {
        "max_rel_p": float(rel_p.max()),
        "max_rel_fdr": float(np.abs(ours["FDR"] / r["FDR"] - 1).max()),
        "directions_equal": ours["direction"].str.capitalize().tolist() == r["Direction"].tolist(),
        "n_genes_equal": bool((ours["n_genes"].to_numpy() == r["NGenes"].to_numpy()).all()),
    }
    if estimated:
        both = r["Correlation"].notna()
        assert ours["correlation"][~both].isna().all()
        out["max_abs_cor"] = float(np.abs(ours["correlation"][both] - r["Correlation"][both]).max())
    return out


@pytest.mark.r
def test_agrees_with_limma_camera(tmp_path, need_limma):
    """camera(y, index, design, contrast, inter.gene.cor = NA): same y, same p-values."""
    design = design_matrix()
    y, sets = simulate_log_expression(design, 3000, seed=1)
    flat = _flat(sets)
    pk_vs_pain = unit(design, "condition[T.pain_ketamine]") - unit(design, "condition[T.pain]")
    contrasts = {
        "pain": unit(design, "condition[T.pain]"),  # a middle column
        "last": unit(design, design.columns[-1]),
        "pk_vs_pain": pk_vs_pain,  # a contrast vector: limma rotates the design
    }
    ours_stat = en.moderated_t(y.to_numpy(), design.to_numpy(), contrasts["pain"])["z"]
    stat = pd.Series(ours_stat, index=y.index)
    r = run_r_limma(tmp_path, y, design, flat, contrasts, stat)
    for name, weights in contrasts.items():
        contrast = "condition[T.pain]" if name == "pain" else weights  # by name, by weights
        ours = en.camera(y, design, flat, contrast=contrast, min_size=1)
        a = _compare(r["camera"][r["camera"]["contrast"] == name], ours)
        print(name, a)
        assert a["max_rel_p"] < 1e-8 and a["max_rel_fdr"] < 1e-8, a
        assert a["max_abs_cor"] < 1e-10, a
        assert a["directions_equal"] and a["n_genes_equal"], a
        assert (ours["statistic"] == en.MODERATED_T).all()
        fixed = en.camera(y, design, flat, contrast=contrast, min_size=1, inter_gene_cor=0.05)
        a = _compare(r["fixed"][r["fixed"]["contrast"] == name], fixed, estimated=False)
        assert a["max_rel_p"] < 1e-8 and a["directions_equal"], a
    # The data exercise what they should: large correlations, and shifts called in pain.
    pain = r["camera"][r["camera"]["contrast"] == "pain"].set_index("term")
    assert (pain.loc[list(sets["correlated"]), "Correlation"] > 0.3).all()
    assert (pain.loc[list(sets["shifted"])[1:], "PValue"] < 0.01).all()
    assert (pain.loc[list(sets["shifted"]), "Direction"] == "Up").all()
    # A statistic given from outside: R's cameraPR at a fixed correlation on it.
    given = en.camera(y, design, flat, statistic=stat, min_size=1, inter_gene_cor=0.05)
    a = _compare(r["camera_pr"], given, estimated=False)
    assert a["max_rel_p"] < 1e-10 and a["directions_equal"] and a["n_genes_equal"], a
    # squeezeVar's prior on lmFit's residual variances.
    fit = en.moderated_t(y.to_numpy(), design.to_numpy(), contrasts["pain"])
    print("squeezeVar", fit["df_prior"], fit["var_prior"], r["squeeze"].iloc[0].to_dict())
    assert 2 < fit["df_prior"] < 1000  # a finite prior: the shrinkage is exercised
    assert fit["df_prior"] == pytest.approx(r["squeeze"].loc[0, "df_prior"], rel=1e-10)
    assert fit["var_prior"] == pytest.approx(r["squeeze"].loc[0, "var_prior"], rel=1e-12)
    g = grid()
    np.testing.assert_allclose(
        en.trigamma_inverse(g["x"]), r["grid"]["trigamma_inverse"], rtol=1e-12
    )
    np.testing.assert_allclose(
        en.zscore_t_hill(g["t"], g["df"]), r["grid"]["z"], rtol=1e-12, atol=1e-300
    )


@pytest.mark.r
def test_demo_shape_matches_limma_spearman_and_calls(tmp_path, need_limma):
    """The issue's acceptance test on demo-shaped bulk counts: same y, design, contrast."""
    counts, sheet, sets, sf = simulate_demo_counts(seed=5)
    counts = counts[(counts >= 10).sum(axis=1) >= 6]  # sparse genes filtered, as for DE
    y = en.log_expression(counts, pd.Series(sf, index=sheet.index))
    x = pd.get_dummies(sheet[["sex", "batch", "condition"]], drop_first=False).astype(float)
    columns = ["sex_M", "batch_b2", "condition_pain", "condition_pain_ketamine"]
    design = pd.concat(
        [pd.Series(1.0, index=sheet.index, name="Intercept"), x[columns]], axis=1
    ).assign(condition_sham_ketamine=x["condition_sham_ketamine"])
    contrasts = {"pain": unit(design, "condition_pain")}
    stat = pd.Series(0.0, index=y.index)
    r = run_r_limma(tmp_path, y, design, sets, contrasts, stat)["camera"].set_index("term")
    ours = en.camera(y, design, sets, contrast="condition_pain", min_size=1)
    ours = ours.set_index("term").loc[r.index]
    rho = stats.spearmanr(ours["pvalue"], r["PValue"]).statistic
    rel = np.abs(ours["pvalue"] / r["PValue"] - 1)
    print(f"spearman {rho:.12f}, max rel p {rel.max():.2e}, calls {(r['PValue'] < 0.05).sum()}")
    assert rho > 0.99
    assert ((ours["pvalue"] < 0.05) == (r["PValue"] < 0.05)).all()
    assert (r.loc[[f"pathway_{i}" for i in (0, 3, 5)], "PValue"] < 0.05).all()
    assert (r.loc[[f"correlated_{i}" for i in range(10)], "Correlation"] > 0.1).all()
    assert rel.max() < 1e-8


def test_squeeze_var_edge_cases_and_trigamma_inverse():
    # Variances that vary less than chance allows: infinite prior df, every gene at the mean.
    d = 6.0
    var = stats.chi2.ppf(np.linspace(0.3, 0.7, 200), d) / d
    sv = en.squeeze_var(var, d)
    assert np.isinf(sv["df_prior"]) and sv["var_prior"] == pytest.approx(var.mean())
    np.testing.assert_allclose(sv["var_post"], var.mean())
    one = en.squeeze_var([2.0], d)
    assert one["df_prior"] == 0 and one["var_post"].tolist() == [2.0]
    # Scaled F data: the prior is recovered (d0 = 8, s0^2 = 0.3).
    rng = np.random.default_rng(0)
    s2 = 0.3 * stats.f.rvs(d, 8, size=200000, random_state=rng)
    sv = en.squeeze_var(s2, d)
    assert sv["df_prior"] == pytest.approx(8, rel=0.05)
    assert sv["var_prior"] == pytest.approx(0.3, rel=0.02)
    x = np.array([1e-3, 0.2, 1.0, 3.0, 100.0, 1e5])
    np.testing.assert_allclose(special.polygamma(1, en.trigamma_inverse(x)), x, rtol=1e-8)


def test_moderated_z_is_the_t_quantile_transform():
    """Hill's approximation is close to qnorm(pt(t, df)) where both are accurate."""
    t = np.linspace(-6, 6, 41)
    for df in (3.0, 8.0, 40.0):
        exact = stats.norm.ppf(stats.t.cdf(t, df))
        np.testing.assert_allclose(en.zscore_t_hill(t, df), exact, atol=2e-3 * (3 / df))


def test_moderated_t_is_the_ols_t_with_the_squeezed_variance():
    """The unscaled t is the OLS t times the residual SD, for a contrast vector too."""
    design = design_matrix()
    rng = np.random.default_rng(8)
    y = rng.normal(0, 1, (500, len(design))) * np.exp(rng.normal(0, 2, (500, 1)))
    x = design.to_numpy()
    c = unit(design, "condition[T.pain]") - unit(design, "condition[T.sham_ketamine]")
    fit = en.moderated_t(y, x, c)
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = y @ x @ xtx_inv
    s2 = ((y - beta @ x.T) ** 2).sum(axis=1) / (x.shape[0] - x.shape[1])
    ols_t = beta @ c / np.sqrt(s2 * (c @ xtx_inv @ c))
    assert 0 < fit["df_prior"] < 5  # finite: variances are moderated, a little
    w = fit["df_prior"] / (fit["df_residual"] + fit["df_prior"])  # weight of the prior
    expected = ols_t * np.sqrt(s2 / ((1 - w) * s2 + w * fit["var_prior"]))
    np.testing.assert_allclose(fit["t"], expected, rtol=1e-10)
    np.testing.assert_allclose(fit["sigma2"], s2, rtol=1e-10)


def own_variance_z(y: pd.DataFrame, design: pd.DataFrame, contrast: np.ndarray) -> pd.Series:
    """Per-gene OLS t with the gene's own residual variance, as an exact z-score."""
    unscaled, resid = en.contrast_fit(y.to_numpy(), design.to_numpy(), contrast)
    df = resid.shape[1]
    t = unscaled / np.sqrt(np.mean(resid**2, axis=1))
    z = np.where(t > 0, stats.norm.isf(stats.t.sf(t, df)), stats.norm.ppf(stats.t.cdf(t, df)))
    return pd.Series(z, index=y.index, name="ols_z")


def test_shared_animal_effect_is_not_called_but_independence_would_call_it():
    """A set whose genes share an animal-level effect, with no condition effect, breaks a
    test that treats genes as independent (a gene-permutation test's assumption).

    The data are the hard case for limma's statistic: every other gene has the same
    variance, so squeezeVar's prior is strong and pulls the set's larger variances
    (noise plus the shared effect) back to the common one; the set's moderated
    statistics then spread more than the others', which the VIF does not see. R's
    camera does the same (same arithmetic, test above). With each gene's own variance
    the test holds its level.
    """
    design = design_matrix()
    n = len(design)
    c = unit(design, "condition[T.pain]")
    reps, correlations = 300, []
    called = {"limma": 0, "own_variance": 0, "independence": 0}
    spread = {"limma": [], "own_variance": []}
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        y = rng.normal(0, 0.5, (2000, n)) + rng.normal(6, 2, (2000, 1))
        # 50 genes share the animal's state (e.g. activity), no condition effect at all.
        y[:50] += rng.normal(0, 0.5, n)[None, :]
        frame = pd.DataFrame(y, index=[f"G{i:04d}" for i in range(2000)], columns=design.index)
        sets = {"shared_state": list(frame.index[:50])}
        z = own_variance_z(frame, design, c)
        runs = {
            "limma": en.camera(frame, design, sets, contrast=c).iloc[0],
            "own_variance": en.camera(frame, design, sets, statistic=z).iloc[0],
            "independence": en.camera(frame, design, sets, statistic=z, inter_gene_cor=0.0),
        }
        runs["independence"] = runs["independence"].iloc[0]
        for name, row in runs.items():
            called[name] += row["pvalue"] < 0.05
        correlations.append(runs["limma"]["correlation"])
        limma_z = en.moderated_t(y, design.to_numpy(), c)["z"]
        spread["limma"].append(np.mean(limma_z[:50] ** 2) / np.mean(limma_z[50:] ** 2))
        spread["own_variance"].append(np.mean(z[:50] ** 2) / np.mean(z[50:] ** 2))
    rate = {k: v / reps for k, v in called.items()}
    spread = {k: float(np.mean(v)) for k, v in spread.items()}
    print(f"called at 0.05: {rate}, relative spread {spread}, cor {np.mean(correlations):.2f}")
    # Binomial(300, 0.05): 3 SD above 0.05 is 0.088.
    assert rate["own_variance"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    assert rate["independence"] > 0.5
    assert np.mean(correlations) > 0.3
    # limma's statistic: far better than independence, not at the level (R: the same).
    assert rate["limma"] < 0.2
    assert spread["limma"] > 1.5 and abs(spread["own_variance"] - 1) < 0.1


def test_counts_with_a_shared_per_sample_effect():
    """Negative binomial counts, log2(count / s + 1), sets sharing a per-sample effect of
    0.5 log2 (the strongest level of perf/camera_calibration.py), no condition effect.

    With each gene's own variance CAMERA holds its level. With limma's moderated t (the
    default, as R) the set's genes keep part of their extra variance out of the
    statistic's denominator (squeezeVar's prior weighs d0 / (d + d0), ~0.2 here), so
    their statistics spread more than the others' and the rate exceeds the level a
    little (0.05-0.065 in the perf simulation); far from what ignoring the correlation
    gives (test above).
    """
    design = design_matrix()
    c = unit(design, "condition[T.pain]")
    n, genes, size = len(design), 3000, 30
    reps, tests = 200, 0
    calls = {"limma": 0, "own_variance": 0}
    spread = {"limma": [], "own_variance": []}
    for rep in range(reps):
        rng = np.random.default_rng(500 + rep)
        mu = np.exp(rng.normal(5, 1.5, genes))
        disp = (0.03 + 1.0 / mu) * np.exp(rng.normal(0, 0.4, genes))
        lfc = np.zeros((genes, n))
        sets = {}
        for k in range(10):
            idx = np.arange(k * size, (k + 1) * size)
            lfc[idx] += rng.normal(0, 0.5, n)[None, :]
            sets[f"shared_{k}"] = [f"G{i:04d}" for i in idx]
        sf = np.exp(rng.normal(0, 0.2, n))
        m = mu[:, None] * sf[None, :] * np.exp2(lfc)
        counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + disp[:, None] * m))
        frame = pd.DataFrame(
            counts, index=[f"G{i:04d}" for i in range(genes)], columns=design.index
        )
        frame = frame[(frame >= 10).sum(axis=1) >= 6]
        y = en.log_expression(frame, pd.Series(sf, index=design.index))
        in_sets = y.index < f"G{10 * size:04d}"
        z = {
            "limma": pd.Series(en.moderated_t(y.to_numpy(), design.to_numpy(), c)["z"], y.index),
            "own_variance": own_variance_z(y, design, c),
        }
        for name, stat in z.items():
            if name == "limma":
                out = en.camera(y, design, sets, contrast=c)
            else:
                out = en.camera(y, design, sets, statistic=stat)
            calls[name] += int((out["pvalue"] < 0.05).sum())
            spread[name].append(np.mean(stat[in_sets] ** 2) / np.mean(stat[~in_sets] ** 2))
        tests += int(out["tested"].sum())
    rate = {k: v / tests for k, v in calls.items()}
    spread = {k: float(np.mean(v)) for k, v in spread.items()}
    print(f"null sets called at 0.05 of {tests}: {rate}; relative spread {spread}")
    assert tests > 1500
    assert rate["own_variance"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / tests)
    assert abs(spread["own_variance"] - 1) < 0.05
    assert 1.05 < spread["limma"] < 1.4
    assert rate["limma"] < 2 * 0.05


def test_shifted_set_is_called_with_the_right_direction():
    design = design_matrix()
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.5, (2000, len(design))) + rng.normal(6, 2, (2000, 1))
    pain = design["condition[T.pain]"].to_numpy() == 1
    y[np.ix_(np.arange(40), pain)] -= 0.4
    frame = pd.DataFrame(y, index=[f"G{i:04d}" for i in range(2000)], columns=design.index)
    sets = {"down": list(frame.index[:40]), "null": list(frame.index[100:140])}
    out = en.camera(frame, design, sets, contrast="condition[T.pain]")
    assert out.loc[0, "pvalue"] < 1e-4 and out.loc[0, "direction"] == "down"
    assert out.loc[1, "pvalue"] > 0.01


def test_design_order_and_sample_order_do_not_matter():
    design = design_matrix()
    y, sets = simulate_log_expression(design, 1500, seed=2)
    sets = _flat(sets)
    base = en.camera(y, design, sets, contrast="condition[T.pain]")
    shuffled = design.iloc[::-1, ::-1]  # DataFrame rows realigned to y's samples
    again = en.camera(y, shuffled, sets, contrast="condition[T.pain]")
    np.testing.assert_allclose(again["pvalue"], base["pvalue"], rtol=1e-10)
    np.testing.assert_allclose(again["correlation"], base["correlation"], rtol=1e-8, atol=1e-12)
    weights = en.camera(y, design, sets, contrast=unit(design, "condition[T.pain]"))
    np.testing.assert_allclose(weights["pvalue"], base["pvalue"], rtol=1e-12)
    # The statistic camera computes, given from outside, gives the same test.
    z = en.moderated_t(y.to_numpy(), design.to_numpy(), unit(design, "condition[T.pain]"))["z"]
    given = en.camera(y, design, sets, statistic=pd.Series(z, index=y.index, name="z"))
    np.testing.assert_allclose(given["pvalue"], base["pvalue"], rtol=1e-12)
    assert (given["statistic"] == "z").all()


def test_sizes_notes_fdr_and_bad_input():
    design = design_matrix()
    y, _ = simulate_log_expression(design, 1500, seed=4)
    sets = {
        "one": [y.index[0]],
        "none": ["nope"],
        "big": list(y.index[:200]),
        "all": list(y.index),
        "ok": list(y.index[10:30]),
        "ok2": list(y.index[40:70]),
    }
    out = en.camera(y, design, sets, contrast=3, min_size=2, max_size=150).set_index("term")
    assert list(out.columns) == en.CAMERA_COLUMNS[1:]
    assert not out.loc[["one", "none", "big", "all"], "tested"].any()
    assert out.loc[["one", "none", "big", "all"], "pvalue"].isna().all()
    assert "min_size" in out.loc["one", "note"] and "max_size" in out.loc["big", "note"]
    assert "above max_size" in out.loc["all", "note"]
    alone = en.camera(y, design, {"all": list(y.index)}, contrast=3).iloc[0]
    assert not alone["tested"] and "every gene" in alone["note"]
    tested = out.loc[["ok", "ok2"], "pvalue"].to_numpy()
    np.testing.assert_allclose(out.loc[["ok", "ok2"], "FDR"], stats.false_discovery_control(tested))
    z = pd.Series(np.linspace(-2, 2, len(y)), index=y.index)
    bad = z.copy()
    bad.iloc[3] = np.nan
    with pytest.raises(InputError, match="not finite"):
        en.camera(y, design, sets, statistic=bad)
    with pytest.raises(InputError, match="no expression row"):
        en.camera(y.iloc[1:], design, sets, statistic=z)
    with pytest.raises(InputError, match="not both"):
        en.camera(y, design, sets, contrast=3, statistic=z)
    with pytest.raises(InputError, match="needs the contrast"):
        en.camera(y, design, sets)
    with pytest.raises(InputError, match="not a column"):
        en.camera(y, design, sets, contrast="condition[T.nope]")
    with pytest.raises(InputError, match="outside"):
        en.camera(y, design, sets, contrast=6)
    with pytest.raises(InputError, match="weights"):
        en.camera(y, design, sets, contrast=[0, 1])
    with pytest.raises(InputError, match="full rank"):
        en.camera(y, design.assign(extra=design["sex[T.M]"]), sets, contrast=3)
    with pytest.raises(InputError, match="residual"):
        en.camera(y.iloc[:, :6], design.iloc[:6], sets, contrast=3)
    with pytest.raises(InputError, match="rows are not"):
        en.camera(y, design.set_axis([f"X{i}" for i in range(len(design))]), sets, contrast=3)
    with pytest.raises(InputError, match="a string"):
        en.camera(y, design, {"s": "G00001"}, contrast=3)
    with pytest.raises(InputError, match="duplicated"):
        en.camera(y.set_axis(["G"] * len(y)), design, sets, contrast=3)
    with pytest.raises(InputError, match="missing or infinite"):
        en.camera(y.replace(y.iloc[0, 0], np.inf), design, sets, contrast=3)


def test_log_expression_and_de_inputs():
    counts = pd.DataFrame({"a": [0, 10, 3], "b": [4, 20, 0]}, index=["g1", "g2", "g3"])
    sf = pd.Series({"b": 2.0, "a": 0.5})
    out = en.log_expression(counts, sf)
    np.testing.assert_allclose(out.to_numpy(), np.log2(np.array([[0, 2], [20, 10], [6, 0]]) + 1.0))
    with pytest.raises(InputError, match="size factor"):
        en.log_expression(counts, [1.0])
    with pytest.raises(InputError, match="no size factor"):
        en.log_expression(counts, pd.Series({"a": 1.0}))
    with pytest.raises(InputError, match="non-negative"):
        en.log_expression(counts - 5, [1.0, 1.0])
    table = pd.DataFrame(
        {
            "gene_id": ["id1", "id2", "id3", "id4"],
            "gene": ["A", "B", "B", "C"],
            "stat": [1.5, -0.5, 2.5, np.nan],
        }
    )
    expr = pd.DataFrame(
        np.arange(8.0).reshape(4, 2), index=["id1", "id2", "id3", "id4"], columns=["a", "b"]
    )
    stat, rows = en.de_inputs(table, expr)
    assert stat.to_dict() == {"B": 2.5, "A": 1.5}  # larger |stat| of B kept, C dropped
    np.testing.assert_array_equal(rows.loc["B"].to_numpy(), [4.0, 5.0])
    with pytest.raises(InputError, match="no expression row"):
        en.de_inputs(table, expr.iloc[:2])
