"""acc_tiam1.camera against limma::camera (needs R with limma), and on data built to
break a gene-permutation test.

The R side runs ``camera(y, index, design, contrast, inter.gene.cor = NA)`` and exports
the z statistics camera tests internally (moderated t -> ``zscoreT``, recomputed with
camera's own code; that they are camera's is checked in R: ``cameraPR`` on them gives
camera's p-values exactly at a fixed correlation). Our :func:`camera` gets those
statistics and the same ``y`` and design.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import camera as cam
from acc_tiam1.errors import InputError
from scipy import stats

REPO = Path(__file__).resolve().parents[1]

#: camera() in R, and the statistics it tests. Inputs in the folder given as argument:
#: y.tsv (genes x samples), design.tsv (samples x coefficients), sets.tsv (term, gene),
#: contrast.txt (1-based column). Writes r_camera.tsv, r_stat.tsv, r_check.txt and
#: r_camera_fixed.tsv (inter.gene.cor = 0.05).
R_CAMERA = r"""
suppressMessages(library(limma))
dir <- commandArgs(TRUE)[1]
y <- as.matrix(read.delim(file.path(dir, "y.tsv"), row.names = 1, check.names = FALSE))
design <- as.matrix(read.delim(file.path(dir, "design.tsv"), row.names = 1,
                               check.names = FALSE))
long <- read.delim(file.path(dir, "sets.tsv"), colClasses = "character")
index <- split(long$gene, factor(long$term, levels = unique(long$term)))
contrast <- as.integer(readLines(file.path(dir, "contrast.txt")))
res <- camera(y, index, design, contrast = contrast, inter.gene.cor = NA, sort = FALSE)
out <- data.frame(term = rownames(res), res, check.names = FALSE)
write.table(out, file.path(dir, "r_camera.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE)
# camera's statistic, by camera's own steps (limma 3.54, no weights, contrast a column).
p <- ncol(design); n <- ncol(y); G <- nrow(y)
d <- design[, c((1:p)[-contrast], contrast)]
QR <- qr(d)
effects <- qr.qty(QR, t(y))
unscaledt <- effects[p, ]
if (QR$qr[p, p] < 0) unscaledt <- -unscaledt
U <- effects[-(1:p), , drop = FALSE]
sigma2 <- colMeans(U^2)
sv <- squeezeVar(sigma2, df = n - p)
modt <- unscaledt / sqrt(sv$var.post)
df.total <- min(n - p + sv$df.prior, G * (n - p))
Stat <- zscoreT(modt, df = df.total, approx = TRUE, method = "hill")
write.table(data.frame(gene = rownames(y), stat = sprintf("%.17g", Stat)),
            file.path(dir, "r_stat.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
fixed <- camera(y, index, design, contrast = contrast, inter.gene.cor = 0.05, sort = FALSE)
pr <- cameraPR(setNames(Stat, rownames(y)), index, inter.gene.cor = 0.05, sort = FALSE)
writeLines(format(max(abs(fixed$PValue - pr$PValue) / fixed$PValue)),
           file.path(dir, "r_check.txt"))
write.table(data.frame(term = rownames(fixed), fixed, check.names = FALSE),
            file.path(dir, "r_camera_fixed.tsv"), sep = "\t", quote = FALSE,
            row.names = FALSE)
"""


def _limma_available() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript is not on PATH"
    proc = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(limma))"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return f"R package limma does not load: {proc.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def need_limma():
    reason = _limma_available()
    if reason:
        pytest.skip(f"limma is not available: {reason}")


def run_r_camera(tmp: Path, y: pd.DataFrame, design: pd.DataFrame, sets: dict, contrast: int):
    """limma::camera on ``y``: R's table indexed by term, camera's statistic, and R's
    table at the fixed correlation 0.05."""
    y.to_csv(tmp / "y.tsv", sep="\t", float_format="%.17g")
    design.to_csv(tmp / "design.tsv", sep="\t")
    rows = [(term, g) for term, genes in sets.items() for g in genes]
    pd.DataFrame(rows, columns=["term", "gene"]).to_csv(tmp / "sets.tsv", sep="\t", index=False)
    (tmp / "contrast.txt").write_text(f"{contrast + 1}\n")
    (tmp / "camera.R").write_text(R_CAMERA)
    proc = subprocess.run(
        ["Rscript", str(tmp / "camera.R"), str(tmp)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # camera's own statistic: cameraPR on it reproduces camera at a fixed correlation.
    assert float((tmp / "r_check.txt").read_text()) < 1e-12
    table = pd.read_csv(tmp / "r_camera.tsv", sep="\t", index_col="term")
    stat = pd.read_csv(tmp / "r_stat.tsv", sep="\t", index_col="gene")["stat"]
    fixed = pd.read_csv(tmp / "r_camera_fixed.tsv", sep="\t", index_col="term")
    return table, stat.loc[y.index], fixed


def design_matrix(n_per_group: int = 6, seed: int = 0) -> pd.DataFrame:
    """~ sex + batch + condition (4 levels, sham reference), balanced, as the demo."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(["sham", "pain", "pain_ketamine", "sham_ketamine"], n_per_group)
    n = groups.size
    sex = np.tile([0.0, 1.0], n // 2)
    batch = rng.permutation(np.tile([0.0, 1.0], n // 2))
    x = pd.DataFrame(
        {"Intercept": 1.0, "sex[T.M]": sex, "batch[T.b2]": batch},
        index=[f"S{i:02d}" for i in range(n)],
    )
    for level in ("pain", "pain_ketamine", "sham_ketamine"):
        x[f"condition[T.{level}]"] = (groups == level).astype(float)
    return x


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


def _flat(sets: dict) -> dict[str, list[str]]:
    return {term: g for kind in sets.values() for term, g in kind.items()}


def _compare(r: pd.DataFrame, ours: pd.DataFrame) -> dict:
    ours = ours.set_index("term").loc[r.index]
    rel_p = np.abs(ours["pvalue"] - r["PValue"]) / r["PValue"]
    both = r["Correlation"].notna()
    cor_diff = np.abs(ours["correlation"][both] - r["Correlation"][both])
    assert ours["correlation"][~both].isna().all()
    directions = ours["direction"].str.capitalize().tolist() == r["Direction"].tolist()
    return {
        "max_rel_p": float(rel_p.max()),
        "max_abs_cor": float(cor_diff.max()),
        "directions_equal": directions,
        "n_genes_equal": bool((ours["n_genes"].to_numpy() == r["NGenes"].to_numpy()).all()),
    }


@pytest.mark.r
def test_agrees_with_limma_camera_on_camera_statistics(tmp_path, need_limma):
    design = design_matrix()
    y, sets = simulate_log_expression(design, 3000, seed=1)
    flat = _flat(sets)
    tables = {}
    for contrast in (3, design.shape[1] - 1):  # pain (a middle column), and the last
        folder = tmp_path / f"c{contrast}"
        folder.mkdir()
        r, stat, r_fixed = run_r_camera(folder, y, design, flat, contrast)
        ours = cam.camera(stat, y, design, flat, min_size=1)
        a = _compare(r, ours)
        print(contrast, a)
        assert a["max_rel_p"] < 1e-8, a
        assert a["max_abs_cor"] < 1e-10, a
        assert a["directions_equal"] and a["n_genes_equal"], a
        tables[contrast] = r
        fixed = cam.camera(stat, y, design, flat, min_size=1, inter_gene_cor=0.05)
        fixed = fixed.set_index("term").loc[r_fixed.index]
        np.testing.assert_allclose(fixed["pvalue"], r_fixed["PValue"], rtol=1e-8)
        assert fixed["direction"].str.capitalize().tolist() == r_fixed["Direction"].tolist()
    # The data exercise what they should: large correlations, and shifts called in pain.
    pain = tables[3]
    assert (pain.loc[list(sets["correlated"]), "Correlation"] > 0.3).all()
    assert (pain.loc[list(sets["shifted"])[1:], "PValue"] < 0.01).all()
    assert (pain.loc[list(sets["shifted"]), "Direction"] == "Up").all()


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


@pytest.mark.r
def test_demo_shape_matches_limma_spearman_and_calls(tmp_path, need_limma):
    """The issue's acceptance test: demo-shaped bulk data, same residuals and statistics."""
    counts, sheet, sets, sf = simulate_demo_counts(seed=5)
    counts = counts[(counts >= 10).sum(axis=1) >= 6]  # sparse genes filtered, as for DE
    y = cam.log_expression(counts, pd.Series(sf, index=sheet.index))
    x = pd.get_dummies(sheet[["sex", "batch", "condition"]], drop_first=False).astype(float)
    design = pd.concat(
        [
            pd.Series(1.0, index=sheet.index, name="Intercept"),
            x[
                [
                    "sex_M",
                    "batch_b2",
                    "condition_pain",
                    "condition_pain_ketamine",
                    "condition_sham_ketamine",
                ]
            ],
        ],
        axis=1,
    )
    r, stat, _ = run_r_camera(tmp_path, y, design, sets, 3)
    ours = cam.camera(stat, y, design, sets, min_size=1).set_index("term").loc[r.index]
    rho = stats.spearmanr(ours["pvalue"], r["PValue"]).statistic
    rel = np.abs(ours["pvalue"] / r["PValue"] - 1)
    print(f"spearman {rho:.12f}, max rel p {rel.max():.2e}, calls {(r['PValue'] < 0.05).sum()}")
    assert rho > 0.99
    assert ((ours["pvalue"] < 0.05) == (r["PValue"] < 0.05)).all()
    assert (r.loc[[f"pathway_{i}" for i in (0, 3, 5)], "PValue"] < 0.05).all()
    assert (r.loc[[f"correlated_{i}" for i in range(10)], "Correlation"] > 0.1).all()
    assert rel.max() < 1e-8


def per_gene_z(y: pd.DataFrame, design: pd.DataFrame, column: int) -> pd.Series:
    """Ordinary least-squares t of one coefficient per gene, as a z-score (t -> p -> z)."""
    x = design.to_numpy()
    xtx_inv = np.linalg.inv(x.T @ x)
    beta = y.to_numpy() @ x @ xtx_inv
    resid = y.to_numpy() - beta @ x.T
    df = x.shape[0] - x.shape[1]
    s2 = (resid**2).sum(axis=1) / df
    t = beta[:, column] / np.sqrt(s2 * xtx_inv[column, column])
    return pd.Series(stats.norm.isf(stats.t.sf(t, df)), index=y.index)


def test_shared_animal_effect_is_not_called_but_independence_would_call_it():
    """A set whose genes share an animal-level effect, with no condition effect, breaks a
    test that treats genes as independent (a gene-permutation test's assumption)."""
    design = design_matrix()
    n = len(design)
    reps, called_camera, called_naive, correlations = 300, 0, 0, []
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        y = rng.normal(0, 0.5, (2000, n)) + rng.normal(6, 2, (2000, 1))
        # 50 genes share the animal's state (e.g. activity), no condition effect at all.
        y[:50] += rng.normal(0, 0.5, n)[None, :]
        frame = pd.DataFrame(y, index=[f"G{i:04d}" for i in range(2000)], columns=design.index)
        z = per_gene_z(frame, design, 3)
        sets = {"shared_state": list(frame.index[:50])}
        ours = cam.camera(z, frame, design, sets).iloc[0]
        naive = cam.camera(z, frame, design, sets, inter_gene_cor=0.0).iloc[0]
        called_camera += ours["pvalue"] < 0.05
        called_naive += naive["pvalue"] < 0.05
        correlations.append(ours["correlation"])
    rate_camera, rate_naive = called_camera / reps, called_naive / reps
    print(
        f"called at 0.05: camera {rate_camera:.3f}, independence {rate_naive:.3f}, "
        f"mean correlation {np.mean(correlations):.2f}"
    )
    # Binomial(300, 0.05): 3 SD above 0.05 is 0.088.
    assert rate_camera <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)
    assert rate_naive > 0.5
    assert np.mean(correlations) > 0.3


def test_shifted_set_is_called_with_the_right_direction():
    design = design_matrix()
    rng = np.random.default_rng(3)
    y = rng.normal(0, 0.5, (2000, len(design))) + rng.normal(6, 2, (2000, 1))
    pain = design["condition[T.pain]"].to_numpy() == 1
    y[np.ix_(np.arange(40), pain)] -= 0.4
    frame = pd.DataFrame(y, index=[f"G{i:04d}" for i in range(2000)], columns=design.index)
    z = per_gene_z(frame, design, 3)
    out = cam.camera(
        z, frame, design, {"down": list(frame.index[:40]), "null": list(frame.index[100:140])}
    )
    assert out.loc[0, "pvalue"] < 1e-4 and out.loc[0, "direction"] == "down"
    assert out.loc[1, "pvalue"] > 0.01


def test_residual_space_only_design_order_and_sample_order_do_not_matter():
    design = design_matrix()
    y, sets = simulate_log_expression(design, 1500, seed=2)
    sets = _flat(sets)
    z = per_gene_z(y, design, 3)
    base = cam.camera(z, y, design, sets)
    shuffled = design.iloc[::-1, ::-1]  # DataFrame rows realigned to y's samples
    again = cam.camera(z, y, shuffled, sets)
    np.testing.assert_allclose(again["pvalue"], base["pvalue"], rtol=1e-10)
    np.testing.assert_allclose(again["correlation"], base["correlation"], rtol=1e-8, atol=1e-12)


def test_sizes_notes_fdr_and_bad_input():
    design = design_matrix()
    y, _ = simulate_log_expression(design, 1500, seed=4)
    z = per_gene_z(y, design, 3)
    sets = {
        "one": [y.index[0]],
        "none": ["nope"],
        "big": list(y.index[:200]),
        "all": list(y.index),
        "ok": list(y.index[10:30]),
        "ok2": list(y.index[40:70]),
    }
    out = cam.camera(z, y, design, sets, min_size=2, max_size=150).set_index("term")
    assert list(out.columns) == cam.CAMERA_COLUMNS[1:]
    assert not out.loc[["one", "none", "big", "all"], "tested"].any()
    assert out.loc[["one", "none", "big", "all"], "pvalue"].isna().all()
    assert "min_size" in out.loc["one", "note"] and "max_size" in out.loc["big", "note"]
    assert "above max_size" in out.loc["all", "note"]
    alone = cam.camera(z, y, design, {"all": list(y.index)}).iloc[0]
    assert not alone["tested"] and "every gene" in alone["note"]
    tested = out.loc[["ok", "ok2"], "pvalue"].to_numpy()
    np.testing.assert_allclose(out.loc[["ok", "ok2"], "FDR"], stats.false_discovery_control(tested))
    bad = z.copy()
    bad.iloc[3] = np.nan
    with pytest.raises(InputError, match="not finite"):
        cam.camera(bad, y, design, sets)
    with pytest.raises(InputError, match="no expression row"):
        cam.camera(z, y.iloc[1:], design, sets)
    with pytest.raises(InputError, match="full rank"):
        cam.camera(z, y, design.assign(extra=design["sex[T.M]"]), sets)
    with pytest.raises(InputError, match="residual"):
        cam.camera(z, y.iloc[:, :6], design.iloc[:6], sets)
    with pytest.raises(InputError, match="rows are not"):
        cam.camera(z, y, design.set_axis([f"X{i}" for i in range(len(design))]), sets)
    with pytest.raises(InputError, match="a string"):
        cam.camera(z, y, design, {"s": "G00001"})


def test_log_expression_and_de_inputs():
    counts = pd.DataFrame({"a": [0, 10, 3], "b": [4, 20, 0]}, index=["g1", "g2", "g3"])
    sf = pd.Series({"b": 2.0, "a": 0.5})
    out = cam.log_expression(counts, sf)
    np.testing.assert_allclose(out.to_numpy(), np.log2(np.array([[0, 2], [20, 10], [6, 0]]) + 1.0))
    with pytest.raises(InputError, match="size factor"):
        cam.log_expression(counts, [1.0])
    with pytest.raises(InputError, match="no size factor"):
        cam.log_expression(counts, pd.Series({"a": 1.0}))
    with pytest.raises(InputError, match="non-negative"):
        cam.log_expression(counts - 5, [1.0, 1.0])
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
    stat, rows = cam.de_inputs(table, expr)
    assert stat.to_dict() == {"B": 2.5, "A": 1.5}  # larger |stat| of B kept, C dropped
    np.testing.assert_array_equal(rows.loc["B"].to_numpy(), [4.0, 5.0])
    with pytest.raises(InputError, match="no expression row"):
        cam.de_inputs(table, expr.iloc[:2])
