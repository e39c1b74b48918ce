"""Calibration of CAMERA on null counts: which per-gene statistic keeps it at its level.

Simulates RNA-seq counts shaped as the bulk demo (its 24 samples and ``~ sex + batch +
condition`` design; ``--samples``/``--formula`` for others, e.g. the snRNA demo's 12
pseudobulk samples; negative binomial with DESeq2's mean-dispersion trend) with no
condition effect in any gene of a null set. Gene sets of 30 genes share a per-sample
random effect of SD 0 (independent genes), 0.1, 0.3 or 0.5 log2 (an animal's activity
state, dissection time), ten sets per level; ten more sets carry a pain effect of 0.15
log2 in 70% of their genes (power). Each replicate filters sparse genes (>= 10 counts in as many
samples as the smallest condition group), fits the workflow's DESeq2 engine, and runs
:func:`acc_tiam1.enrichment.camera` on ``log2(count / s + 1)`` (DESeq2's size factors)
for pain vs sham with three per-gene statistics:

``limma``    limma's moderated t as camera computes it (the default of ``camera``);
``deseq2``   DESeq2's Wald ``stat`` of the same contrast;
``ols``      the ordinary least-squares t of each gene with its own residual variance
             (no moderation), as an exact normal quantile (a reference, not an option).

Printed (and written to ``--out``): the rate of calls at 0.05 per level and statistic
with its binomial standard error, and the mean squared statistic of the set genes
relative to the genes outside sets (1 when their null spread is that of the others;
CAMERA's VIF only corrects for correlation, not for a larger spread).

Example::

    .venv/bin/python perf/camera_calibration.py --reps 200 --out /tmp/camera_calibration.tsv
    .venv/bin/python perf/camera_calibration.py --samples config/demo/snrna_samples.tsv \\
        --formula "~ sex + condition"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from acc_tiam1 import de, design, enrichment  # noqa: E402

CONTRAST = design.Contrast("pain_vs_sham", "condition", "pain", "sham")
COLUMN = "condition[T.pain]"
LEVELS = (0.0, 0.1, 0.3, 0.5)
SET_SIZE, SETS_PER_KIND = 30, 10


def simulate(sheet: pd.DataFrame, genes: int, rng) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """Null counts with sets sharing a per-sample effect, and shifted sets.

    Returns counts (genes x samples), ``{term: genes}`` and the size factors.
    """
    n = len(sheet)
    mu = np.exp(rng.normal(5.0, 1.5, genes))
    disp = (0.03 + 1.0 / mu) * np.exp(rng.normal(0, 0.4, genes))
    names = np.array([f"G{i:05d}" for i in range(genes)])
    lfc = np.zeros((genes, n))
    pain = (sheet["condition"] == "pain").to_numpy()
    pool = rng.permutation(genes)
    sets, start = {}, 0
    for sd in LEVELS:
        for k in range(SETS_PER_KIND):
            idx = pool[start : start + SET_SIZE]
            start += SET_SIZE
            lfc[idx] += rng.normal(0, sd, n)[None, :]
            sets[f"shared{sd}_{k}"] = names[idx].tolist()
    for k in range(SETS_PER_KIND):
        idx = pool[start : start + SET_SIZE]
        start += SET_SIZE
        hit = idx[rng.random(SET_SIZE) < 0.7]
        lfc[np.ix_(hit, pain)] += 0.15
        sets[f"shifted_{k}"] = names[idx].tolist()
    sf = np.exp(rng.normal(0, 0.2, n))
    m = mu[:, None] * sf[None, :] * np.exp2(lfc)
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + disp[:, None] * m))
    return pd.DataFrame(counts, index=names, columns=sheet.index), sets, sf


def ols_z(y: np.ndarray, x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Per-gene OLS t of ``c' beta`` with the gene's own variance, as a z-score."""
    unscaled, resid = enrichment.contrast_fit(y, x, c)
    df = resid.shape[1]
    t = unscaled / np.sqrt(np.mean(resid**2, axis=1))
    return np.where(t > 0, stats.norm.isf(stats.t.sf(t, df)), stats.norm.ppf(stats.t.cdf(t, df)))


def one_replicate(
    sheet: pd.DataFrame, coldata: pd.DataFrame, formula: str, genes: int, seed: int
) -> list:
    """CAMERA with each statistic on one simulated study; one row per set and statistic."""
    rng = np.random.default_rng(seed)
    counts, sets, _ = simulate(sheet, genes, rng)
    counts = counts[(counts >= 10).sum(axis=1) >= sheet["condition"].value_counts().min()]
    dds = de.fit_deseq(counts, coldata, formula)
    table = de.contrast_table(
        dds, CONTRAST, pd.DataFrame({"gene": counts.index}, index=counts.index), shrink=False
    )
    x = dds.obsm["design_matrix"]
    y = enrichment.log_expression(counts, dds.obs["size_factors"])
    wald = table.set_index("gene_id")["stat"].dropna()
    c = (x.columns == COLUMN).astype(float)
    statistics = {
        "limma": enrichment.moderated_t(y.to_numpy(), x.to_numpy(), c)["z"],
        "deseq2": wald.reindex(y.index).to_numpy(),
        "ols": ols_z(y.to_numpy(), x.to_numpy(), c),
    }
    in_set = y.index.isin([g for members in sets.values() for g in members])
    rows = []
    for name, z in statistics.items():
        keep = np.isfinite(z)
        stat = pd.Series(z[keep], index=y.index[keep], name=name)
        if name == "limma":
            out = enrichment.camera(y, x, sets, contrast=COLUMN)
        else:
            out = enrichment.camera(y, x, sets, statistic=stat)
        spread_out = float(np.mean(stat[~in_set[keep]] ** 2))
        for term, p, members in zip(out["term"], out["pvalue"], sets.values(), strict=True):
            genes_in = stat.index.intersection(members)
            rows.append(
                {
                    "seed": seed,
                    "statistic": name,
                    "kind": term.rsplit("_", 1)[0],
                    "pvalue": p,
                    "spread": float(np.mean(stat[genes_in] ** 2)) / spread_out,
                }
            )
    return rows


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Call rate at 0.05 (and its SE) and relative spread per kind of set and statistic."""
    grouped = frame.groupby(["kind", "statistic"])
    out = pd.DataFrame(
        {
            "sets": grouped["pvalue"].count(),
            "called_0.05": grouped["pvalue"].apply(lambda p: float(np.mean(p < 0.05))),
            "spread": grouped["spread"].mean(),
        }
    )
    rate = out["called_0.05"]
    out["se"] = np.sqrt(rate * (1 - rate) / out["sets"])
    return out.reset_index()


def main(argv=None) -> int:
    """Run the simulation and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--genes", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=Path, default=REPO / "config/demo/bulk_samples.tsv")
    parser.add_argument("--formula", default="~ sex + batch + condition")
    parser.add_argument("--out", type=Path, help="TSV of every set test")
    args = parser.parse_args(argv)
    sheet = pd.read_csv(args.samples, sep="\t", index_col=0)
    coldata = design.make_coldata(sheet, args.formula, [CONTRAST])
    sheet = sheet.loc[coldata.index]
    rows, start = [], time.time()
    for rep in range(args.reps):
        rows += one_replicate(sheet, coldata, args.formula, args.genes, args.seed * 100000 + rep)
        if (rep + 1) % 10 == 0:
            print(f"{rep + 1}/{args.reps} replicates, {time.time() - start:.0f} s", flush=True)
            if args.out:
                pd.DataFrame(rows).to_csv(args.out, sep="\t", index=False)
    frame = pd.DataFrame(rows)
    if args.out:
        frame.to_csv(args.out, sep="\t", index=False)
    with pd.option_context("display.width", 120):
        print(summarise(frame).round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
