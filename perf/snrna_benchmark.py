"""Time the single-nucleus branch per stage on simulated studies of increasing size, and
compare its pseudobulk DE with R's DESeq2 on the same pseudobulk counts.

For each study size (default 25,000, 100,000 and 200,000 nuclei over the demo's 12 mice)
a fresh copy of the workflow gets the demo config without the bulk branch, with
``demo.snrna_nuclei_per_sample = nuclei / 12`` and ``demo.snrna_genes`` genes (default
20,000, closer to a real Cell Ranger reference than the demo's 8,000). Then:

1. the simulation (rule ``demo_snrna``) runs on its own and is timed separately: it is
   not part of the branch;
2. ``snakemake --cores 2`` builds the branch's outputs (not the enrichment of its DE
   tables, which belongs to another branch), timed as the end-to-end wall time. While it
   runs, the resident memory of Snakemake and all its jobs is summed every 0.5 s (the
   machine-level peak: jobs run two at a time), and the load average is recorded;
3. R's DESeq2 (``compare_deseq2_r.run_r_contrasts``) runs once per tested cell type of
   ``results/snrna/pseudobulk/plan.tsv``, on the counts our fit job read
   (``results/snrna/pseudobulk/cell_types/<cell type>.counts.tsv``), with the same design,
   the same reference levels (chosen, as in our fit job, from the contrasts tested in that
   cell type), one ``DESeq()`` and one ``results()`` per tested contrast, with the
   config's alpha, Cook's and independent filtering and ``minReplicatesForReplace``.
   Its tables are matched with ours (``results/snrna/de/<cell type>/<contrast>.tsv``) on
   ``gene_id``, the row names of the counts file, so both test the same genes in the same
   direction (target vs reference). Skipped, with the reason printed, when R or DESeq2 is
   missing or with ``--no-r``.

Printed per size, from Snakemake's per-job benchmark files under ``benchmarks/snrna/``
and the jobs' logs (their last two lines are the job's CPU time and true peak memory,
which Snakemake's samples can miss; ``cpu_time`` and ``max_rss`` below are those where
the log has them):

- per rule: jobs, total and longest wall time, total CPU time, largest ``max_rss``;
- per stage (preprocessing = QC per sample, QC plots and summaries, integration, UMAP;
  annotation = annotation, assembly, annotation/UMAP plots, composition and its plots;
  pseudobulk DE = pseudobulk, DE fits, contrasts, DE plots and HTML tables, DE summary,
  pathway and its plots): jobs, the **sum** of job wall times (jobs run two at a time, so
  stages overlap and their sum exceeds the end-to-end wall time, printed as well), CPU
  time, the largest job's peak memory, ``span_s`` from the stage's first job start to its
  last job end (job end = the benchmark file's mtime), and the load average at those two
  moments;
- per rule, what its jobs asked the scheduler for (``mem_mb``, ``runtime`` from
  Snakemake's log) and the largest share of it a job used: above 1, a cluster would have
  killed the job;
- pseudobulk DE vs R, per cell type x contrast: genes, Spearman correlation of ``stat``
  over genes with a stat in both, genes with padj < alpha in R / ours / both, Jaccard;
  then our DE time (the wall time of the one ``snrna_de`` job, all cell types in one
  Python process: start, reading, fitting and testing, writing) against R's (sum of the
  whole ``Rscript`` processes: start, loading DESeq2, reading, ``DESeq()`` + ``results()``,
  writing; R's compute part alone is shown too), and the peak memory of each.

All of it also goes to a JSON result file (``--json``, default
``<workdir>/snrna_benchmark.json``; format in ``benchlib.py``) that ``run_all.py`` reads.
Not a test: it takes minutes.

Usage::

    .venv/bin/python perf/snrna_benchmark.py [--nuclei 25000 100000 200000]
        [--genes 20000] [--workdir /tmp/snrna_benchmark] [--cores 2] [--no-r] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

import benchlib  # noqa: E402
from conftest import copy_workflow  # noqa: E402  (what a user's clone holds)

#: Mice of the demo sheet; a study with more mice gets copies of its rows (new ids).
N_SAMPLES = 12
#: Stages of the branch and their rules (``snrna_`` prefix left out; ``qc`` is rule
#: snrna_qc_sample, one job per sample, whose benchmark files are ``qc_<sample>.tsv``).
STAGES = {
    "snRNA preprocessing": (
        "qc",
        "qc_summary",
        "qc_sample_plots",
        "qc_plots",
        "integrate",
        "umap",
    ),
    "snRNA annotation and ambient RNA": (
        "annotate",
        "ambient",
        "assemble",
        "annotation_plots",
        "composition",
        "composition_plots",
    ),
    "snRNA pseudobulk DE": (
        "pseudobulk",
        "de",
        "de_plots",
        "de_summary",
        "pathway",
        "pathway_plots",
    ),
}
#: Rules in none of the stages (a rule added to the branch since): reported on their own.
OTHER = "snRNA other rules"
#: The jobs R's DESeq() + results() replace (one per cell type: fit and every contrast).
DE_JOBS = ("de",)
PLAN = "results/snrna/pseudobulk/plan.tsv"


# -- running the workflow -------------------------------------------------------------


def more_mice(sheet: pd.DataFrame, n: int) -> pd.DataFrame:
    """The demo sheet with ``n`` mice: rows repeated in order, new ids in ids and paths."""
    if n <= len(sheet):
        return sheet.head(n)
    rows = []
    for i in range(n):
        row = sheet.iloc[i % len(sheet)].copy()
        new = f"SN{i + 1:02d}"
        for col in ("path", "raw_path"):
            if col in row and isinstance(row[col], str):
                row[col] = row[col].replace(str(row["sample"]), new)
        row["sample"] = new
        rows.append(row)
    return pd.DataFrame(rows)


def prepare(workdir: Path, nuclei: int, genes: int, mice: int = N_SAMPLES) -> Path:
    """A fresh workflow copy in ``workdir`` and its benchmark config; returns the config."""
    if workdir.exists():
        shutil.rmtree(workdir)
    copy_workflow(workdir)
    sheet_path = workdir / "config/demo/snrna_samples.tsv"
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    more_mice(sheet, mice).to_csv(sheet_path, sep="\t", index=False)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.pop("bulk", None)
    config.setdefault("rescue", {})["enabled"] = False
    config["demo"]["snrna_nuclei_per_sample"] = max(nuclei // mice, 100)
    config["demo"]["snrna_genes"] = genes
    path = workdir / "benchmark.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snrna_targets(workdir: Path, config: dict) -> list[str]:
    """The branch's final outputs, so that other branches fed by the snRNA tables
    (enrichment) are not timed: the outputs of the rules ``snrna_outputs()`` lists."""
    samples = pd.read_csv(workdir / "config/demo/snrna_samples.tsv", sep="\t")["sample"]
    return [
        "results/snrna/qc/filter_summary.tsv",
        "results/snrna/qc/nuclei_per_sample.png",
        *[f"results/snrna/qc/{s}.qc.png" for s in samples],
        "results/snrna/ambient/contamination.tsv",
        "results/snrna/annotated.h5ad",
        "results/snrna/annotation/marker_dotplot.png",
        "results/snrna/composition/composition.png",
        "results/snrna/de/summary.tsv",
        # Rule snrna_de_plots draws every cell type's figures of a contrast in one job.
        *[f"results/snrna/de/L2-3_IT/{c['name']}.volcano.png" for c in config["contrasts"]],
        "results/snrna/pathway/gene_sets.png",
    ]


def snakemake(workdir: Path, config: Path, cores: int, *args: str):
    """Run Snakemake; return (wall seconds, its MemorySampler: summed-RSS peak, loads)."""
    # Targets first: --configfile takes every value that follows it.
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        *args,
        "--cores",
        str(cores),
        "--configfile",
        str(config),
    ]
    start = time.perf_counter()
    with open(workdir / "benchmark_run.log", "a") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
        sampler = benchlib.MemorySampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop()
    wall = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"snakemake failed in {workdir}; see benchmark_run.log")
    return wall, sampler


# -- per-job benchmark files ----------------------------------------------------------


def wildcard_rules(workdir: Path, config: dict) -> dict[str, str]:
    """Benchmark file names of the per-sample QC jobs and the per-contrast DE figure
    jobs -> their rule (``qc``, ``de_plots``)."""
    names = {f"qc_{s}": "qc" for s in sample_sheet(workdir, config).index}
    names.update({f"de_plots_{c['name']}": "de_plots" for c in config["contrasts"]})
    return names


def sample_sheet(workdir: Path, config: dict) -> pd.DataFrame:
    from acc_tiam1 import io

    return io.read_sample_sheet(workdir / config["snrna"]["samples"])


def job_table(workdir: Path, config: dict) -> pd.DataFrame:
    """One row per job: file, rule, stage, ``s``, ``cpu_time`` and ``max_rss`` (MB) (the
    job's own CPU time and true peak from its log where it has them, else Snakemake's
    sampled ones), the job's ``start``/``end`` (``time.time()``; end = the benchmark
    file's mtime), and what it asked the scheduler for (``req_mem_mb``,
    ``req_runtime_min``: NaN without a run log)."""
    names = wildcard_rules(workdir, config)
    run_log = workdir / "benchmark_run.log"
    peaks = benchlib.job_peaks(run_log, workdir) if run_log.exists() else {}
    cpu = benchlib.job_cpu(run_log, workdir) if run_log.exists() else {}
    requests = benchlib.job_requests(run_log) if run_log.exists() else {}
    nothing = {"mem_mb": float("nan"), "runtime_min": float("nan")}
    stage_of = {rule: stage for stage, rules in STAGES.items() for rule in rules}
    rows = []
    for f in sorted((workdir / "benchmarks/snrna").glob("*.tsv")):
        b = pd.read_csv(f, sep="\t").iloc[-1]
        rule = names.get(f.stem, f.stem)
        end = f.stat().st_mtime
        rows.append(
            {
                "file": f.name,
                "rule": rule,
                "stage": stage_of.get(rule, OTHER),
                "s": float(b["s"]),
                "cpu_time": cpu.get(f.name, float(b["cpu_time"])),
                "max_rss": peaks.get(f.name, float(b["max_rss"])),
                "start": end - float(b["s"]),
                "end": end,
                "req_mem_mb": requests.get(f.name, nothing)["mem_mb"],
                "req_runtime_min": requests.get(f.name, nothing)["runtime_min"],
            }
        )
    return pd.DataFrame(rows)


def request_check(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule: the largest share of its ``mem_mb`` and of its ``runtime`` a job used.

    On a cluster, a job above 1 is killed (and retried with more); the workflow's
    requests grow with the input size, and this is where they are checked against what
    the jobs used at each study size.
    """
    use = jobs.assign(
        mem_use=jobs["max_rss"] / jobs["req_mem_mb"],
        time_use=jobs["s"] / (60 * jobs["req_runtime_min"]),
    )
    return (
        use.groupby("rule")
        .agg(
            req_mem_mb=("req_mem_mb", "max"),
            max_rss_mb=("max_rss", "max"),
            mem_use=("mem_use", "max"),
            req_runtime_min=("req_runtime_min", "max"),
            max_s=("s", "max"),
            time_use=("time_use", "max"),
        )
        .sort_values("mem_use", ascending=False)
        .round(2)
    )


def rule_table(jobs: pd.DataFrame) -> pd.DataFrame:
    return (
        jobs.groupby("rule")
        .agg(
            stage=("stage", "first"),
            jobs=("s", "size"),
            total_s=("s", "sum"),
            max_s=("s", "max"),
            total_cpu_s=("cpu_time", "sum"),
            max_rss_mb=("max_rss", "max"),
        )
        .sort_values("total_s", ascending=False)
        .round(1)
    )


def stage_table(jobs: pd.DataFrame, sampler: benchlib.MemorySampler) -> pd.DataFrame:
    """Per stage: jobs, summed wall and CPU time, largest job, load at start and end."""
    rows = []
    for stage in [*STAGES, OTHER]:
        part = jobs[jobs["stage"] == stage]
        if part.empty:
            continue
        rows.append(
            {
                "stage": stage,
                "jobs": len(part),
                "sum_wall_s": part["s"].sum(),
                "cpu_s": part["cpu_time"].sum(),
                "peak_mb": part["max_rss"].max(),
                "largest_job": part.loc[part["max_rss"].idxmax(), "rule"],
                "span_s": part["end"].max() - part["start"].min(),
                "load_start": sampler.load_at(part["start"].min()),
                "load_end": sampler.load_at(part["end"].max()),
            }
        )
    return pd.DataFrame(rows).set_index("stage").round(1)


# -- pseudobulk DE vs R's DESeq2 ------------------------------------------------------


def read_our_table(path: Path) -> pd.DataFrame:
    """A DE table of the workflow, indexed by ``gene_id`` (the counts' row names)."""
    table = pd.read_csv(path, sep="\t", dtype={"gene_id": str, "gene": str})
    return table.set_index("gene_id")


def compare_with_r(workdir: Path, config: dict) -> tuple[pd.DataFrame, dict]:
    """R's DESeq2 on every tested cell type; per-table agreement and per-cell-type times."""
    import compare_deseq2_r as cmp
    from acc_tiam1 import design, io

    plan = pd.read_csv(workdir / PLAN, sep="\t")
    tested = plan[plan["status"] == "tested"]
    sheet = sample_sheet(workdir, config)
    formula = config["snrna"]["design"]
    de_cfg = config.get("de", {})
    alpha = de_cfg.get("alpha", 0.1)
    rows, runs = [], []
    for safe, group in tested.groupby("cell_type_safe", sort=False):
        names = set(group["contrast"])
        # As rule snrna_de: the tested contrasts, in config order, set the references.
        contrasts = design.parse_contrasts([c for c in config["contrasts"] if c["name"] in names])
        counts, _ = io.read_prepared_counts(
            workdir / f"results/snrna/pseudobulk/cell_types/{safe}.counts.tsv"
        )
        coldata = design.make_coldata(sheet.loc[counts.columns], formula, contrasts)
        refs = ", ".join(f"{v}={coldata[v].cat.categories[0]}" for v in coldata.columns)
        tables, info = cmp.run_r_contrasts(
            counts,
            coldata,
            formula,
            contrasts,
            alpha,
            min_replicates_for_replace=de_cfg.get("min_replicates_for_replace", 7),
            cooks_filter=de_cfg.get("cooks_filter", True),
            independent_filter=de_cfg.get("independent_filter", True),
            workdir=workdir,
        )
        runs.append(
            {
                "cell_type": safe,
                "samples": counts.shape[1],
                "genes": counts.shape[0],
                "references": refs,
                **{k: v for k, v in info.items() if k != "filter_thresholds"},
            }
        )
        for c in contrasts:
            ours = read_our_table(workdir / f"results/snrna/de/{safe}/{c.name}.tsv")
            a = cmp.agreement(tables[c.name], ours, alpha)
            rows.append(
                {
                    "cell_type": safe,
                    "contrast": c.name,
                    "genes": a["genes"],
                    "genes_ours": len(ours),
                    "stat_both": a["stat_both"],
                    "spearman_stat": a["spearman_stat"],
                    "sig_r": a["sig_r"],
                    "sig_ours": a["sig_ours"],
                    "sig_both": a["sig_both"],
                    "jaccard": a["jaccard"],
                }
            )
        print(f"R DESeq2: {safe} ({refs}) {info['process_seconds']:.1f} s", flush=True)
    return pd.DataFrame(rows), {"runs": runs, "alpha": alpha}


def agreement_text(agree: pd.DataFrame, alpha: float) -> str:
    """One-line summary of the per-table agreement."""
    if agree.empty:
        return "no cell type tested"
    rho = agree["spearman_stat"]
    text = (
        f"{len(agree)} tables: Spearman stat min {rho.min():.6f} (median "
        f"{rho.median():.6f}); padj<{alpha:g}: {agree['sig_r'].sum()} R / "
        f"{agree['sig_ours'].sum()} ours / {agree['sig_both'].sum()} both"
    )
    # Tables where neither finds a significant gene have Jaccard 1 trivially.
    jac = agree.loc[(agree["sig_r"] + agree["sig_ours"]) > 0, "jaccard"]
    if len(jac):
        text += f", Jaccard min {jac.min():.3f} over the {len(jac)} tables with any"
    return text


# -- one study size -------------------------------------------------------------------


def run_size(n: int, args) -> tuple[list[dict], dict]:
    """Run and measure one study size; print its tables; return result rows and details."""
    wd = args.workdir / f"n{n}"
    config_path = prepare(wd, n, args.genes, args.mice)
    config = yaml.safe_load(config_path.read_text())
    print(f"\n=== {n} nuclei ({args.mice} samples), {args.genes} genes: {wd}", flush=True)
    sim_s, sim = snakemake(wd, config_path, args.cores, "--until", "demo_snrna")
    load_start = benchlib.loadavg()
    wall, sampler = snakemake(wd, config_path, args.cores, *snrna_targets(wd, config))
    load_end = benchlib.loadavg()
    jobs = job_table(wd, config)
    rules, stages = rule_table(jobs), stage_table(jobs, sampler)
    requests = request_check(jobs)
    kept = int(
        pd.concat(
            pd.read_csv(p, sep="\t") for p in (wd / "results/snrna/qc").glob("*.filters.tsv")
        )["nuclei_kept"].sum()
    )
    size = f"{n} nuclei ({kept} after QC) x {args.genes} genes"
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(rules.to_string())
        print(f"\nper stage (sum of job wall times; jobs run {args.cores} at a time):")
        print(stages.to_string())
        print(
            "\nrequested (mem_mb, runtime) vs used, largest share per rule "
            "(above 1: killed on a cluster):"
        )
        print(requests.to_string())
    print(f"simulation (not part of the branch): {sim_s:.0f} s, peak {sim.peak_mb:.0f} MB")
    print(
        f"end to end: {wall:.0f} s ({wall / 60:.1f} min), peak memory of all jobs together "
        f"{sampler.peak_mb / 1024:.2f} GB, largest job {jobs['max_rss'].max() / 1024:.2f} "
        f"GB; load average {load_start:.1f} at start, {load_end:.1f} at end; "
        f"{kept} nuclei after QC",
        flush=True,
    )
    rows = [
        benchlib.row(
            stage,
            size,
            ours_s=s["sum_wall_s"],
            ours_peak_mb=s["peak_mb"],
            load_start=s["load_start"],
            load_end=s["load_end"],
            note="sum of the stage's job wall times (jobs run concurrently); peak = largest job",
        )
        for stage, s in stages.iterrows()
    ]
    details = {
        "nuclei": n,
        "nuclei_after_qc": kept,
        "genes": args.genes,
        "simulation_s": sim_s,
        "end_to_end_s": wall,
        "rules": rules.reset_index().to_dict(orient="records"),
        "stages": stages.reset_index().to_dict(orient="records"),
        "requests": requests.reset_index().to_dict(orient="records"),
    }
    rows.append(de_versus_r(wd, config, jobs, size, args, details))
    rows.append(
        benchlib.row(
            "snRNA end to end",
            size,
            ours_s=wall,
            ours_peak_mb=sampler.peak_mb,
            load_start=load_start,
            load_end=load_end,
            note=f"wall time of snakemake --cores {args.cores}; peak = all concurrent jobs "
            "summed (sampled every 0.5 s)",
        )
    )
    return rows, details


def de_versus_r(wd: Path, config: dict, jobs: pd.DataFrame, size: str, args, details: dict) -> dict:
    """The row 'pseudobulk DE fit + contrast jobs vs R'; prints the per-table agreement."""
    de_jobs = jobs[jobs["rule"].isin(DE_JOBS)]
    stage = "snRNA pseudobulk DE: fit + contrast jobs"
    note = "ours: wall time of the snrna_de job (one Python process for every cell type)"
    ours = {"ours_s": de_jobs["s"].sum(), "ours_peak_mb": de_jobs["max_rss"].max()}
    reason = "--no-r" if args.no_r else args.r_missing
    if reason:
        print(f"pseudobulk DE vs R's DESeq2 skipped: {reason}", flush=True)
        return benchlib.row(
            stage,
            size,
            **ours,
            reference="R DESeq2 (skipped)",
            agreement=f"not compared: {reason}",
            note=note,
        )
    load_start = benchlib.loadavg()
    agree, info = compare_with_r(wd, config)
    load_end = benchlib.loadavg()
    runs = pd.DataFrame(info["runs"])
    r_total, r_compute = runs["process_seconds"].sum(), runs["seconds"].sum()
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print("\npseudobulk DE vs R's DESeq2 (same counts, design, references, contrasts):")
        print(agree.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(
        f"DE (fit + contrasts of every cell type): ours {ours['ours_s']:.1f} s in "
        f"{len(de_jobs)} job(s), "
        f"peak {ours['ours_peak_mb']:.0f} MB; R {r_total:.1f} s in {len(runs)} Rscript "
        f"processes (of which DESeq() + results() {r_compute:.1f} s), peak "
        f"{runs['peak_rss_mb'].max():.0f} MB",
        flush=True,
    )
    details["r_comparison"] = {
        "tables": agree.to_dict(orient="records"),
        "r_runs": info["runs"],
        "r_compute_s": r_compute,
    }
    return benchlib.row(
        stage,
        size,
        **ours,
        reference="R DESeq2 (Rscript per cell type)",
        ref_s=r_total,
        ref_peak_mb=runs["peak_rss_mb"].max(),
        agreement=agreement_text(agree, info["alpha"]),
        load_start=load_start,
        load_end=load_end,
        note=f"{note}; R: sum of whole Rscript processes, one per cell type (start, "
        "library(DESeq2), reading, DESeq() + results(), writing)",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nuclei", type=int, nargs="+", default=[25000, 100000, 200000])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--mice", type=int, default=N_SAMPLES, help="animals (demo: 12)")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/snrna_benchmark"))
    parser.add_argument("--no-r", action="store_true", help="skip the comparison with R")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="result file (default: <workdir>/snrna_benchmark.json)",
    )
    args = parser.parse_args(argv)
    started = benchlib.now()
    print(benchlib.machine_line(), flush=True)
    if not args.no_r:
        import compare_deseq2_r as cmp

        args.r_missing = cmp.r_available()
    rows, details = [], []
    for n in args.nuclei:
        size_rows, size_details = run_size(n, args)
        rows += size_rows
        details.append(size_details)
    summary = pd.DataFrame(rows)[
        [
            "stage",
            "size",
            "ours_s",
            "ours_peak_mb",
            "ref_s",
            "ref_peak_mb",
            "load_start",
            "load_end",
        ]
    ]
    print("\n" + summary.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    benchlib.write_results(
        args.json or args.workdir / "snrna_benchmark.json",
        "snrna_benchmark.py",
        rows,
        started,
        {"sizes": details},
    )


if __name__ == "__main__":
    main()
