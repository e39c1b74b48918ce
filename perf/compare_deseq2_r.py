"""Compare our DE results with R's DESeq2 on the same counts, design and contrast.

Runs ``DESeq()`` + ``results(contrast, alpha)`` in R (via ``Rscript`` in a temporary
folder) and :func:`acc_tiam1.de.fit_deseq` + :func:`acc_tiam1.de.contrast_table` in
Python, then prints how well they agree: Spearman correlation of the Wald statistic,
the genes significant at ``padj < alpha`` in each, their Jaccard index, and the genes
that differ most.

Example::

    python perf/compare_deseq2_r.py counts.tsv samples.tsv \\
        --design "~ batch + condition" --contrast condition treated control
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib
from acc_tiam1 import de, design, io

#: R side: one DESeq() fit and results() per contrast, timed without package loading and
#: file reading. spec.txt: design, alpha, minReplicatesForReplace, Cook's filtering
#: (TRUE/FALSE), independent filtering (TRUE/FALSE); contrasts.tsv: variable, target,
#: reference. Writes r_results_<i>.tsv per contrast and r_info.tsv.
R_SCRIPT = r"""
suppressMessages(library(DESeq2))
dir <- commandArgs(TRUE)[1]
counts <- as.matrix(read.delim(file.path(dir, "counts.tsv"), row.names = 1,
                               check.names = FALSE))
coldata <- read.delim(file.path(dir, "coldata.tsv"), row.names = 1, check.names = FALSE,
                      colClasses = "character")
levs <- read.delim(file.path(dir, "levels.tsv"), colClasses = "character")
for (v in unique(levs$variable)) {
  coldata[[v]] <- factor(coldata[[v]], levels = levs$level[levs$variable == v])
}
spec <- readLines(file.path(dir, "spec.txt"))
alpha <- as.numeric(spec[2])
contrasts <- read.delim(file.path(dir, "contrasts.tsv"), colClasses = "character")
dds <- DESeqDataSetFromMatrix(counts[, rownames(coldata), drop = FALSE], coldata,
                              as.formula(spec[1]))
t0 <- proc.time()[["elapsed"]]
dds <- DESeq(dds, quiet = TRUE, minReplicatesForReplace = as.numeric(spec[3]))
fit_seconds <- proc.time()[["elapsed"]] - t0
mc <- as.data.frame(mcols(dds))
extra <- intersect(c("dispGeneEst", "dispFit", "dispersion", "dispOutlier", "maxCooks",
                     "replace"), names(mc))
info <- data.frame(contrast = integer(0), fit_seconds = numeric(0),
                   results_seconds = numeric(0), filter_threshold = numeric(0))
for (i in seq_len(nrow(contrasts))) {
  t1 <- proc.time()[["elapsed"]]
  args <- list(dds, contrast = as.character(unlist(contrasts[i, c("variable", "target",
                                                                 "reference")])),
               alpha = alpha, independentFiltering = as.logical(spec[5]))
  if (!as.logical(spec[4])) args$cooksCutoff <- FALSE
  res <- do.call(results, args)
  results_seconds <- proc.time()[["elapsed"]] - t1
  out <- data.frame(gene_id = rownames(res),
                    as.data.frame(res)[, c("baseMean", "log2FoldChange", "lfcSE", "stat",
                                           "pvalue", "padj")],
                    mc[, extra, drop = FALSE], check.names = FALSE)
  write.table(out, file.path(dir, sprintf("r_results_%d.tsv", i)), sep = "\t",
              quote = FALSE, row.names = FALSE)
  threshold <- metadata(res)$filterThreshold
  info[i, ] <- list(i, fit_seconds, results_seconds,
                    if (is.null(threshold)) NA else unname(threshold))
}
write.table(info, file.path(dir, "r_info.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
"""


def r_available() -> str | None:
    """None when Rscript with DESeq2 can be run, else the reason it cannot."""
    try:
        proc = subprocess.run(
            ["Rscript", "-e", "suppressMessages(library(DESeq2))"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except FileNotFoundError:
        return "Rscript is not on PATH"
    except subprocess.TimeoutExpired:
        return "Rscript did not load DESeq2 within 5 minutes"
    if proc.returncode != 0:
        return f"R package DESeq2 does not load: {proc.stderr.strip()[-300:]}"
    return None


def run_r(
    counts: pd.DataFrame,
    coldata: pd.DataFrame,
    design_formula: str,
    contrast: design.Contrast,
    alpha: float = 0.1,
    workdir: str | Path | None = None,
) -> tuple[pd.DataFrame, dict]:
    """DESeq2 in R on genes x samples ``counts`` and ``coldata`` (categoricals).

    Returns
    -------
    results
        Indexed by gene id: baseMean ... padj, plus dispersion columns.
    info
        ``seconds`` (DESeq() + results()), ``filter_threshold``, ``peak_rss_mb`` and
        ``process_seconds`` of the R process (see :func:`run_r_contrasts`).
    """
    tables, info = run_r_contrasts(
        counts, coldata, design_formula, [contrast], alpha, workdir=workdir
    )
    info["filter_threshold"] = info["filter_thresholds"][contrast.name]
    return tables[contrast.name], info


def run_r_contrasts(
    counts: pd.DataFrame,
    coldata: pd.DataFrame,
    design_formula: str,
    contrasts: list[design.Contrast],
    alpha: float = 0.1,
    min_replicates_for_replace: int = 7,
    cooks_filter: bool = True,
    independent_filter: bool = True,
    workdir: str | Path | None = None,
) -> tuple[dict[str, pd.DataFrame], dict]:
    """One ``DESeq()`` fit in R, then ``results()`` for each contrast, as our fit + contrast
    jobs do. Reference levels are the first category of each ``coldata`` column.

    Returns
    -------
    results
        ``{contrast name: table indexed by gene id}`` (baseMean ... padj, dispersions).
    info
        ``seconds``: DESeq() + every results() (no package loading, no file reading);
        ``fit_seconds``; ``process_seconds``: the whole Rscript process (start, loading
        DESeq2, reading, fitting, writing); ``peak_rss_mb`` of the R process;
        ``filter_thresholds`` per contrast.
    """
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        _write_r_inputs(
            tmp,
            counts,
            coldata,
            design_formula,
            contrasts,
            alpha,
            min_replicates_for_replace,
            cooks_filter,
            independent_filter,
        )
        run = benchlib.run_measured(["Rscript", str(tmp / "run.R"), str(tmp)])
        if run.returncode != 0:
            raise RuntimeError(f"R's DESeq2 failed:\n{run.stderr[-3000:]}")
        tables = {}
        for i, c in enumerate(contrasts, start=1):
            res = pd.read_csv(
                tmp / f"r_results_{i}.tsv", sep="\t", index_col=0, dtype={"gene_id": str}
            )
            res.index = res.index.astype(str)
            tables[c.name] = res
        r_info = pd.read_csv(tmp / "r_info.tsv", sep="\t")
    info = {
        "seconds": float(r_info["fit_seconds"].iloc[0] + r_info["results_seconds"].sum()),
        "fit_seconds": float(r_info["fit_seconds"].iloc[0]),
        "process_seconds": run.seconds,
        "peak_rss_mb": run.peak_rss_mb,
        "filter_thresholds": {
            c.name: float(t) for c, t in zip(contrasts, r_info["filter_threshold"], strict=True)
        },
    }
    return tables, info


def _write_r_inputs(
    folder: Path,
    counts,
    coldata,
    design_formula,
    contrasts,
    alpha,
    min_replicates_for_replace,
    cooks_filter,
    independent_filter,
) -> None:
    counts.loc[:, coldata.index].rename_axis("gene_id").to_csv(folder / "counts.tsv", sep="\t")
    coldata.astype(str).rename_axis("sample").to_csv(folder / "coldata.tsv", sep="\t")
    levels = [
        {"variable": v, "level": str(level)}
        for v in coldata.columns
        for level in coldata[v].cat.categories
    ]
    pd.DataFrame(levels).to_csv(folder / "levels.tsv", sep="\t", index=False)
    pd.DataFrame(
        [{"variable": c.variable, "target": c.target, "reference": c.reference} for c in contrasts]
    ).to_csv(folder / "contrasts.tsv", sep="\t", index=False)
    (folder / "spec.txt").write_text(
        "\n".join(
            [
                design_formula,
                repr(alpha),
                str(int(min_replicates_for_replace)),
                str(bool(cooks_filter)).upper(),
                str(bool(independent_filter)).upper(),
            ]
        )
        + "\n"
    )
    (folder / "run.R").write_text(R_SCRIPT)


def run_ours(
    counts: pd.DataFrame,
    coldata: pd.DataFrame,
    design_formula: str,
    contrast: design.Contrast,
    alpha: float = 0.1,
) -> tuple[pd.DataFrame, dict]:
    """Our fit and Wald test (unshrunk, as R's results()), indexed by gene id."""
    genes = pd.DataFrame({"gene": counts.index}, index=counts.index)
    start = time.perf_counter()
    dds = de.fit_deseq(counts, coldata, design_formula)
    table = de.contrast_table(dds, contrast, genes, alpha=alpha, shrink=False)
    seconds = time.perf_counter() - start
    table = table.set_index("gene_id")
    table["dispGeneEst"] = dds.var["genewise_dispersions"]
    table["dispersion"] = dds.var["dispersions"]
    return table, {"seconds": seconds}


def agreement(r: pd.DataFrame, ours: pd.DataFrame, alpha: float = 0.1) -> dict:
    """Spearman of ``stat``, significant sets at ``padj < alpha``, Jaccard, differences."""
    ours = ours.reindex(r.index)
    both = r["stat"].notna() & ours["stat"].notna()
    rho = (
        r.loc[both, "stat"].rank().corr(ours.loc[both, "stat"].rank())
        if both.sum() > 2
        else float("nan")
    )
    sig_r = set(r.index[r["padj"] < alpha])
    sig_o = set(ours.index[ours["padj"] < alpha])
    union = sig_r | sig_o
    tested_r = r["pvalue"].notna()
    tested_o = ours["pvalue"].notna()
    return {
        "genes": len(r),
        "stat_both": int(both.sum()),
        "stat_only_one": int((r["stat"].notna() ^ ours["stat"].notna()).sum()),
        "spearman_stat": float(rho),
        "max_abs_stat_diff": float((r.loc[both, "stat"] - ours.loc[both, "stat"]).abs().max()),
        "pvalue_na_mismatch": int((tested_r ^ tested_o).sum()),
        "padj_na_mismatch": int((r["padj"].isna() ^ ours["padj"].isna()).sum()),
        "sig_r": len(sig_r),
        "sig_ours": len(sig_o),
        "sig_both": len(sig_r & sig_o),
        "jaccard": len(sig_r & sig_o) / len(union) if union else 1.0,
        "only_r": sorted(sig_r - sig_o),
        "only_ours": sorted(sig_o - sig_r),
    }


def differing_genes(r: pd.DataFrame, ours: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` genes whose statistics differ most, R's and ours side by side."""
    ours = ours.reindex(r.index)
    diff = (r["stat"] - ours["stat"]).abs()
    diff[r["stat"].isna() ^ ours["stat"].isna()] = np.inf
    top = diff.sort_values(ascending=False).index[:n]
    cols = ["baseMean", "log2FoldChange", "lfcSE", "stat", "padj", "dispGeneEst", "dispersion"]
    pairs = {(c, who): t.loc[top, c] for c in cols for who, t in (("R", r), ("ours", ours))}
    return pd.DataFrame(pairs)


def print_report(r, ours, info_r, info_o, alpha, n_show=10) -> dict:
    """Print the agreement summary and the most different genes; return the summary."""
    a = agreement(r, ours, alpha)
    print(
        f"genes: {a['genes']}; with a Wald statistic in both: {a['stat_both']} "
        f"(in only one: {a['stat_only_one']})"
    )
    print(
        f"Spearman correlation of stat: {a['spearman_stat']:.6f} "
        f"(largest |difference| {a['max_abs_stat_diff']:.3g})"
    )
    print(
        f"p-value missing in one only: {a['pvalue_na_mismatch']}; "
        f"padj missing in one only: {a['padj_na_mismatch']}"
    )
    print(
        f"significant at padj < {alpha:g}: R {a['sig_r']}, ours {a['sig_ours']}, "
        f"both {a['sig_both']}; Jaccard {a['jaccard']:.4f}"
    )
    print(f"only in R: {', '.join(a['only_r']) or '-'}")
    print(f"only in ours: {', '.join(a['only_ours']) or '-'}")
    print(
        f"time for DESeq()+results(): R {info_r['seconds']:.1f} s; "
        f"fit_deseq+contrast_table: ours {info_o['seconds']:.1f} s"
    )
    if n_show:
        with pd.option_context(
            "display.width", 200, "display.max_columns", 20, "display.precision", 4
        ):
            print(f"\n{n_show} genes with the largest difference in stat:")
            print(differing_genes(r, ours, n_show).to_string())
    return a


def load_inputs(counts_path, samples_path, design_formula, contrast, references=()):
    """Counts (genes x samples, sheet order) and coldata from user files.

    ``references`` are ``(variable, level)`` pairs that override the reference level
    :func:`acc_tiam1.design.make_coldata` would pick (the contrast's reference), e.g.
    to test a contrast of two non-reference levels as the workflow does.
    """
    counts, _ = io.read_count_matrix(counts_path)
    sheet = io.read_sample_sheet(samples_path)
    mapping = io.match_samples(counts.columns, sheet.index, str(counts_path), str(samples_path))
    counts = counts.rename(columns=mapping)[list(sheet.index)]
    coldata = design.make_coldata(sheet, design_formula, [contrast])
    for variable, level in references:
        cats = list(coldata[variable].cat.categories)
        cats.remove(level)
        coldata[variable] = coldata[variable].cat.reorder_categories([level, *cats])
    return counts, coldata


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("counts", help="genes x samples count matrix (TSV/CSV/featureCounts)")
    parser.add_argument("samples", help="sample sheet (column 'sample' + design variables)")
    parser.add_argument("--design", required=True, help='e.g. "~ batch + condition"')
    parser.add_argument(
        "--contrast", nargs=3, required=True, metavar=("VARIABLE", "TARGET", "REFERENCE")
    )
    parser.add_argument(
        "--reference",
        nargs=2,
        action="append",
        default=[],
        metavar=("VARIABLE", "LEVEL"),
        help="reference level of a design variable (default: the contrast's reference)",
    )
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--show", type=int, default=10, help="genes to list (0: none)")
    parser.add_argument("--save", help="write both result tables to this TSV prefix")
    args = parser.parse_args(argv)
    reason = r_available()
    if reason:
        print(f"cannot run R: {reason}", file=sys.stderr)
        return 2
    contrast = design.Contrast("cmp", *args.contrast)
    counts, coldata = load_inputs(args.counts, args.samples, args.design, contrast, args.reference)
    refs = {v: str(coldata[v].cat.categories[0]) for v in coldata.columns}
    print(
        f"{counts.shape[0]} genes x {counts.shape[1]} samples; design {args.design} "
        f"(reference levels {refs}); {contrast.variable} {contrast.target} vs "
        f"{contrast.reference}"
    )
    ours, info_o = run_ours(counts, coldata, args.design, contrast, args.alpha)
    r, info_r = run_r(
        counts, coldata, args.design, contrast, args.alpha, workdir=os.environ.get("TMPDIR")
    )
    if args.save:
        r.to_csv(f"{args.save}_r.tsv", sep="\t")
        ours.to_csv(f"{args.save}_ours.tsv", sep="\t")
    print_report(r, ours, info_r, info_o, args.alpha, args.show)
    return 0


if __name__ == "__main__":
    sys.exit(main())
