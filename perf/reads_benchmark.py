"""Time and memory of the reads front end on the reads demo (not a test).

Runs, in a fresh copy of the workflow in a temporary folder:

1. rule ``demo_reads`` (the simulation, reported apart: it is not part of the front end);
2. the front end with ``bulk.quantifier: salmon`` up to the bulk gene counts, the STARsolo
   matrices, the strandedness and cell-calling tables and MultiQC;
3. the bulk part again with ``bulk.quantifier: star`` (STAR index, alignment,
   featureCounts), reusing the checks.

For each run it prints the wall time and the peak resident memory of the largest single
process (``wait4``), then one row per rule from Snakemake's per-job benchmark records:
jobs, summed job seconds, largest job's peak memory. Jobs run two at a time on 2 cores,
so summed job seconds exceed the wall time. Needs salmon, STAR, featureCounts and fastp
on the PATH and MultiQC in the environment.

Usage::

    .venv/bin/python perf/reads_benchmark.py [--cores 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "perf"))
sys.path.insert(0, str(REPO / "tests"))

import benchlib  # noqa: E402
from conftest import copy_workflow  # noqa: E402  (what a user's clone holds)

FRONT_END = [
    "results/reads/bulk/gene_counts.tsv",
    "results/reads/bulk/strandedness.tsv",
    "results/reads/snrna/cell_calling.tsv",
    "results/reads/multiqc/multiqc_report.html",
]


def run(workdir: Path, args: list[str], cores: int) -> tuple[float, float]:
    """Run Snakemake; return wall seconds and the peak RSS (MB) of its largest process."""
    env = {**os.environ, "PYTHONPATH": str(workdir / "scripts"), "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{out[-4000:]}")
    # Linux: the largest resident set of the process and of every descendant it waited for.
    return wall, usage.ru_maxrss / 1024


def rule_table(workdir: Path, since: float, samples: list[str]) -> pd.DataFrame:
    """Per-rule jobs, summed seconds and largest peak RSS from benchmark records newer than
    ``since`` (one record per job, written by Snakemake's ``benchmark:``; a job's record
    is named after its rule, then its sample)."""
    rows = []
    for path in sorted((workdir / "benchmarks").rglob("*.tsv")):
        if path.stat().st_mtime < since:
            continue
        record = pd.read_csv(path, sep="\t")
        rule = str(path.relative_to(workdir / "benchmarks").with_suffix(""))
        for s in samples:
            if f"_{s}" in rule:
                rule = rule[: rule.index(f"_{s}")]
        rows.append(
            {
                "rule": rule,
                "s": float(record["s"].iloc[-1]),
                "max_rss_mb": float(
                    pd.to_numeric(record["max_rss"], errors="coerce").fillna(0).iloc[-1]
                ),
            }
        )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    return (
        table.groupby("rule")
        .agg(jobs=("s", "size"), seconds=("s", "sum"), peak_mb=("max_rss_mb", "max"))
        .sort_values("seconds", ascending=False)
        .round(1)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="run here and keep the results")
    args = parser.parse_args()
    missing = [t for t in ("salmon", "STAR", "featureCounts", "fastp") if not shutil.which(t)]
    if missing:
        raise SystemExit(
            f"not installed: {', '.join(missing)} (apt-get install salmon rna-star subread fastp)"
        )
    base = args.keep or Path(tempfile.mkdtemp(prefix="reads_benchmark_"))
    workdir = base / "wf"
    copy_workflow(workdir)
    config = yaml.safe_load((workdir / "config/demo_reads.yaml").read_text())
    samples = []
    for key in ("bulk", "snrna"):
        units = pd.read_csv(workdir / config[key]["units"], sep="\t")
        samples += list(dict.fromkeys(units["sample"]))
    print(f"{benchlib.machine_line()}; load average {benchlib.loadavg():.2f}")
    print(f"reads demo: {config['demo']}; workflow copy: {workdir}\n")

    steps = [("simulation (rule demo_reads)", ["--until", "demo_reads"], config)]
    steps.append(("front end, salmon + STARsolo", FRONT_END, config))
    star = {**config, "bulk": {**config["bulk"], "quantifier": "star"}}
    steps.append(
        (
            "bulk again, STAR + featureCounts",
            ["results/reads/bulk/gene_counts.tsv", "results/reads/bulk/strandedness.tsv"],
            star,
        )
    )
    for i, (name, targets, cfg) in enumerate(steps):
        path = workdir / f"bench_{i}.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        since = time.time()
        wall, peak = run(workdir, [*targets, "--configfile", str(path)], args.cores)
        print(f"== {name}: wall {wall:.1f} s, peak RSS of the largest process {peak:.0f} MB")
        table = rule_table(workdir, since, samples)
        if not table.empty:
            print(table.to_string())
            print(
                f"   summed job time {table['seconds'].sum():.1f} s over "
                f"{int(table['jobs'].sum())} jobs\n"
            )
    sizes = {p.name: p.stat().st_size for p in (workdir / "results/reads/index").glob("*")}
    for name in sizes:
        total = sum(f.stat().st_size for f in (workdir / "results/reads/index" / name).rglob("*"))
        print(f"index {name}: {total / 1e6:.1f} MB on disk")
    if not args.keep:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
