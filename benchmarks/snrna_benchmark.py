"""Time the single-nucleus branch end to end on simulated studies of increasing size.

For each study size (default 25,000, 100,000 and 200,000 nuclei over the demo's 12 mice)
a fresh copy of the workflow gets the demo config without the bulk branch, with
``demo.snrna_nuclei_per_sample = nuclei / 12`` and ``demo.snrna_genes`` genes (default
20,000, closer to a real Cell Ranger reference than the demo's 8,000). Then:

1. the simulation (rule ``demo_snrna``) runs on its own and is timed separately: it is
   not part of the branch;
2. ``snakemake --cores 2`` builds the branch's outputs (not the enrichment of its DE
   tables, which belongs to another branch), timed as the end-to-end wall time.
   While it runs, the resident memory of Snakemake and all its jobs is summed every
   0.5 s: the machine-level peak (jobs run two at a time).

It prints, per rule, the number of jobs, total and longest wall time (``s``), total CPU
time and the largest peak memory of one job (``max_rss``, MB) from Snakemake's benchmark
files under ``benchmarks/snrna/``, then the end-to-end numbers and the machine's load
average (wall times on a busy machine are longer than the CPU times suggest). Not a
test: it takes minutes.

Usage::

    .venv/bin/python benchmarks/snrna_benchmark.py [--nuclei 25000 100000 200000]
        [--genes 20000] [--workdir /tmp/snrna_benchmark] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".snakemake", "results", "resources", "logs", "benchmarks",
    "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info", "docs",
)
N_SAMPLES = 12


class MemorySampler(threading.Thread):
    """Peak of the summed RSS of a process and all its descendants."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()

    def run(self):
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            total = 0
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            time.sleep(self.interval)

    def stop(self):
        self._stop.set()


def prepare(workdir: Path, nuclei: int, genes: int) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(REPO, workdir, ignore=COPY_IGNORE)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.pop("bulk", None)
    config.setdefault("rescue", {})["enabled"] = False
    config["demo"]["snrna_nuclei_per_sample"] = max(nuclei // N_SAMPLES, 100)
    config["demo"]["snrna_genes"] = genes
    path = workdir / "benchmark.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snrna_targets(workdir: Path) -> list[str]:
    """The branch's final outputs (as ``snrna_outputs()`` in common.smk lists them), so
    that other branches fed by the snRNA tables (enrichment) are not timed."""
    samples = pd.read_csv(workdir / "config/demo/snrna_samples.tsv", sep="\t")["sample"]
    return [
        "results/snrna/qc/filter_summary.tsv", "results/snrna/qc/nuclei_per_sample.png",
        *[f"results/snrna/qc/{s}.qc.png" for s in samples],
        "results/snrna/annotated.h5ad", "results/snrna/annotation/marker_dotplot.png",
        *[f"results/snrna/annotation/umap_{w}.png"
          for w in ("cell_type", "sample", "condition", "genes")],
        "results/snrna/composition/composition.png", "results/snrna/composition/proportions.png",
        "results/snrna/de/summary.tsv", "results/snrna/pathway/genes.png",
        "results/snrna/pathway/gene_sets.png",
    ]


def snakemake(workdir: Path, config: Path, cores: int, *args: str) -> tuple[float, float]:
    """Run Snakemake; return (wall seconds, peak summed RSS in MB)."""
    # Targets first: --configfile takes every value that follows it.
    cmd = [sys.executable, "-m", "snakemake", *args, "--cores", str(cores), "--configfile",
           str(config)]
    start = time.perf_counter()
    with open(workdir / "benchmark_run.log", "a") as log:
        proc = subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONHASHSEED": "0"})
        sampler = MemorySampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop()
    wall = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"snakemake failed in {workdir}; see benchmark_run.log")
    return wall, sampler.peak_mb


def rule_of(name: str) -> str:
    """Group per-sample and per-cell-type benchmark files by rule."""
    for prefix in ("qc_plots_", "qc_", "de_fit_", "de_plots_", "de_table_html_", "de_"):
        if name.startswith(prefix) and name not in ("qc_summary", "qc_overview",
                                                    "de_summary"):
            return prefix.rstrip("_") + " (per job)"
    return name


def rule_table(workdir: Path) -> pd.DataFrame:
    rows = []
    for f in sorted((workdir / "benchmarks/snrna").glob("*.tsv")):
        b = pd.read_csv(f, sep="\t").iloc[-1]
        rows.append({"rule": rule_of(f.stem), "s": float(b["s"]),
                     "cpu_time": float(b["cpu_time"]), "max_rss": float(b["max_rss"])})
    t = pd.DataFrame(rows)
    return (t.groupby("rule").agg(jobs=("s", "size"), total_s=("s", "sum"),
                                  max_s=("s", "max"), total_cpu_s=("cpu_time", "sum"),
                                  max_rss_mb=("max_rss", "max"))
            .sort_values("total_s", ascending=False).round(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nuclei", type=int, nargs="+", default=[25000, 100000, 200000])
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/snrna_benchmark"))
    args = parser.parse_args(argv)
    summary = []
    for n in args.nuclei:
        wd = args.workdir / f"n{n}"
        config = prepare(wd, n, args.genes)
        print(f"\n=== {n} nuclei ({N_SAMPLES} samples), {args.genes} genes: {wd}", flush=True)
        sim_s, sim_mb = snakemake(wd, config, args.cores, "--until", "demo_snrna")
        wall, peak = snakemake(wd, config, args.cores, *snrna_targets(wd))
        table = rule_table(wd)
        kept = pd.concat(pd.read_csv(p, sep="\t") for p in
                         (wd / "results/snrna/qc").glob("*.filters.tsv"))["nuclei_kept"].sum()
        print(table.to_string())
        print(f"simulation (not part of the branch): {sim_s:.0f} s, peak {sim_mb:.0f} MB")
        load = os.getloadavg()[1]
        print(f"end to end: {wall:.0f} s ({wall / 60:.1f} min; load average over the last "
              f"5 min {load:.1f} on {os.cpu_count()} CPUs), peak memory of all jobs "
              f"{peak / 1024:.2f} GB, largest job {table['max_rss_mb'].max() / 1024:.2f} GB; "
              f"{kept} nuclei after QC", flush=True)
        summary.append({"nuclei": n, "nuclei_after_qc": kept, "wall_min": round(wall / 60, 1),
                        "peak_gb_all_jobs": round(peak / 1024, 2),
                        "peak_gb_one_job": round(table["max_rss_mb"].max() / 1024, 2),
                        "slowest_rule": table["max_s"].idxmax(),
                        "slowest_rule_s": table["max_s"].max(),
                        "cpu_s_all_jobs": round(table["total_cpu_s"].sum()),
                        "load_avg_5min": round(load, 1)})
    print("\n" + pd.DataFrame(summary).to_string(index=False))


if __name__ == "__main__":
    main()
