"""Time our bulk DE against R's DESeq2 on simulated data of increasing size.

For each sample count (default 12, 24 and 48) the demo simulator
(:func:`acc_tiam1.demo.simulate_bulk`: negative binomial counts with DESeq2's
mean-dispersion trend, four groups, two sexes, two batches) makes a 30,000-gene matrix.
Each engine then runs in its own fresh process on the same matrix with the project's
design ``~ sex + batch + condition`` and the contrast pain vs sham:

- ours: :func:`acc_tiam1.de.fit_deseq` + :func:`acc_tiam1.de.contrast_table` (unshrunk,
  like R's ``results()``), and separately the apeGLM-shrunk table the workflow writes;
- R: ``DESeq()`` + ``results()`` (DESeq2 as installed);
- optionally (``--pydeseq2``) plain pydeseq2 0.5.4 with two worker processes.

Wall times exclude reading the matrix and loading packages (R's ``library(DESeq2)``,
Python's imports), which are reported separately for ours. Peak memory is the maximum
resident set size of each engine's process. Agreement: the Spearman correlation of the
Wald statistic between ours and R's (genes with a statistic in both), and the Jaccard
index of the genes with padj < 0.1 in each.

Printed: the machine, one JSON line per size as it finishes, then a table (one row per
size) with the load average at the start and end of each size. The same goes to a JSON
result file (``--json``, default ``$TMPDIR/acc_tiam1_benchmarks/bulk_de.json``; format
in ``benchlib.py``) that ``run_all.py`` reads.

Usage::

    python perf/bulk_de_benchmark.py [--samples 12 24 48] [--genes 30000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402

DESIGN = "~ sex + batch + condition"
CONTRAST = ("condition", "pain", "sham")
ALPHA = 0.1


def sample_sheet(n: int) -> pd.DataFrame:
    """``n`` samples (a multiple of 4) in the demo's four groups, sexes and batches."""
    if n % 4:
        raise ValueError("the number of samples must be a multiple of 4")
    rows = []
    for group in ("sham", "pain", "pain_ketamine", "sham_ketamine"):
        for i in range(n // 4):
            rows.append(
                {
                    "sample": f"{group}_{i:02d}",
                    "condition": group,
                    "sex": "FM"[i % 2],
                    "batch": f"b{(i // 2) % 2 + 1}",
                }
            )
    return pd.DataFrame(rows).set_index("sample")


def simulate(n_samples: int, n_genes: int, folder: Path) -> None:
    """Write ``counts.tsv`` (genes x samples) and ``samples.tsv`` to ``folder``."""
    from acc_tiam1 import demo

    sheet = sample_sheet(n_samples)
    counts, _ = demo.simulate_bulk(sheet, {}, [], n_genes=n_genes, seed=n_samples)
    counts = counts.drop(columns="gene_name").set_index("gene_id")
    counts.to_csv(folder / "counts.tsv", sep="\t")
    sheet.to_csv(folder / "samples.tsv", sep="\t")


# -- engines, each run in a fresh process (``--worker``) ---------------------------------


def _inputs(folder: Path):
    from acc_tiam1 import design

    counts = pd.read_csv(folder / "counts.tsv", sep="\t", index_col=0)
    sheet = pd.read_csv(folder / "samples.tsv", sep="\t", index_col=0, dtype=str)
    contrast = design.Contrast("bench", *CONTRAST)
    coldata = design.make_coldata(sheet, DESIGN, [contrast])
    return counts.loc[:, coldata.index], coldata, contrast


def worker_ours(folder: Path) -> dict:
    t0 = time.perf_counter()
    from acc_tiam1 import de, deseq2  # noqa: F401  (import time is reported apart)

    t_import = time.perf_counter() - t0
    counts, coldata, contrast = _inputs(folder)
    genes = pd.DataFrame({"gene": counts.index}, index=counts.index)
    t0 = time.perf_counter()
    dds = de.fit_deseq(counts, coldata, DESIGN)
    table = de.contrast_table(dds, contrast, genes, shrink=False)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    de.contrast_table(dds, contrast, genes, shrink=True)
    t_shrunk = time.perf_counter() - t0
    table.set_index("gene_id")[["stat", "pvalue", "padj"]].to_csv(folder / "ours.tsv", sep="\t")
    return {
        "seconds": t_fit,
        "seconds_shrunk_table": t_shrunk,
        "import_seconds": t_import,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker_pydeseq2(folder: Path) -> dict:
    from acc_tiam1.deseq2 import quiet_pydeseq2
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    counts, coldata, _ = _inputs(folder)
    t0 = time.perf_counter()
    with quiet_pydeseq2():
        dds = DeseqDataSet(
            counts=counts.T,
            metadata=coldata,
            design=DESIGN,
            quiet=True,
            inference=DefaultInference(n_cpus=2),
        )
        dds.deseq2()
        stats = DeseqStats(
            dds,
            contrast=list(CONTRAST),
            alpha=0.1,
            quiet=True,
            inference=DefaultInference(n_cpus=2),
        )
        stats.summary()
    seconds = time.perf_counter() - t0
    stats.results_df[["stat", "pvalue", "padj"]].to_csv(folder / "pydeseq2.tsv", sep="\t")
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker_r(folder: Path) -> dict:
    import compare_deseq2_r as cmp

    counts, coldata, contrast = _inputs(folder)
    # info: seconds of DESeq() + results(), peak_rss_mb of the Rscript process.
    res, info = cmp.run_r(counts, coldata, DESIGN, contrast, ALPHA, workdir=folder)
    res[["stat", "pvalue", "padj"]].to_csv(folder / "r.tsv", sep="\t")
    return info


WORKERS = {"ours": worker_ours, "r": worker_r, "pydeseq2": worker_pydeseq2}


def run_worker(name: str, folder: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, str(folder)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def agreement(ours: Path, r: Path) -> dict:
    """Spearman of stat and Jaccard of padj < ALPHA (``compare_deseq2_r.agreement``)."""
    import compare_deseq2_r as cmp

    return cmp.agreement(_read_table(r), _read_table(ours), ALPHA)


def _read_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", index_col=0)
    table.index = table.index.astype(str)
    return table


def measure_size(n: int, args, r_missing: str | None) -> dict:
    """Simulate ``n`` samples, run every engine (fastest of ``--repeats``); one result.

    Without R (``r_missing`` says why) only our engine (and pydeseq2) runs."""
    load_start = benchlib.loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        simulate(n, args.genes, folder)
        engines = ["ours"] + ([] if r_missing else ["r"]) + (["pydeseq2"] if args.pydeseq2 else [])
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for engine in engines:
                info = run_worker(engine, folder)
                if engine not in best or info["seconds"] < best[engine]["seconds"]:
                    best[engine] = info
        row = {
            "samples": n,
            "genes": args.genes,
            "ours_s": best["ours"]["seconds"],
            "ours_shrunk_table_s": best["ours"]["seconds_shrunk_table"],
            "ours_import_s": best["ours"]["import_seconds"],
            "ours_peak_MB": best["ours"]["peak_rss_mb"],
        }
        if not r_missing:
            a = agreement(folder / "ours.tsv", folder / "r.tsv")
            row.update(
                {
                    "R_s": best["r"]["seconds"],
                    "ours/R": best["ours"]["seconds"] / best["r"]["seconds"],
                    "R_peak_MB": best["r"]["peak_rss_mb"],
                    "spearman_stat_vs_R": a["spearman_stat"],
                    "sig_R": a["sig_r"],
                    "sig_ours": a["sig_ours"],
                    "jaccard_vs_R": a["jaccard"],
                }
            )
        if args.pydeseq2 and not r_missing:
            p = agreement(folder / "pydeseq2.tsv", folder / "r.tsv")
            row["pydeseq2_s"] = best["pydeseq2"]["seconds"]
            row["pydeseq2_peak_MB"] = best["pydeseq2"]["peak_rss_mb"]
            row["spearman_pydeseq2_vs_R"] = p["spearman_stat"]
            row["jaccard_pydeseq2_vs_R"] = p["jaccard"]
    row["load_start"], row["load_end"] = load_start, benchlib.loadavg()
    return row


def result_row(r: dict, r_missing: str | None) -> dict:
    """A size's line of the consolidated table (benchlib's result file)."""
    if r_missing:
        agree = f"not compared: {r_missing}"
    else:
        agree = (
            f"Spearman stat {r['spearman_stat_vs_R']:.4f}; Jaccard padj<{ALPHA:g} "
            f"{r['jaccard_vs_R']:.3f} ({r['sig_R']} R / {r['sig_ours']} ours)"
        )
    return benchlib.row(
        "bulk DE",
        f"{r['samples']} samples x {r['genes']} genes",
        ours_s=r["ours_s"],
        ours_peak_mb=r["ours_peak_MB"],
        reference="R DESeq2",
        ref_s=r.get("R_s"),
        ref_peak_mb=r.get("R_peak_MB"),
        agreement=agree,
        load_start=r["load_start"],
        load_end=r["load_end"],
        note="fit + unshrunk contrast in-process vs DESeq() + results(); no imports, "
        "no reading; peak = each engine's process",
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, nargs="+", default=[12, 24, 48])
    parser.add_argument("--genes", type=int, default=30000)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs per engine; the fastest is reported (shared machines)",
    )
    parser.add_argument("--pydeseq2", action="store_true", help="also time plain pydeseq2")
    parser.add_argument(
        "--json",
        type=Path,
        default=benchlib.DEFAULT_RESULTS / "bulk_de.json",
        help="result file for run_all.py",
    )
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker[0]](Path(args.worker[1]))))
        return 0

    import compare_deseq2_r as cmp

    started = benchlib.now()
    print(benchlib.machine_line(), flush=True)
    r_missing = cmp.r_available()
    if r_missing:
        print(f"R's DESeq2 skipped: {r_missing}", flush=True)
    rows = []
    for n in args.samples:
        rows.append(measure_size(n, args, r_missing))
        print(json.dumps(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    results = [result_row(r, r_missing) for r in rows]
    benchlib.write_results(args.json, "bulk_de_benchmark.py", results, started, {"sizes": rows})
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
