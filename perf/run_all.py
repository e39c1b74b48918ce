"""One command for every performance measurement of the workflow (not a test).

Runs, one after the other, each stage's benchmark with the reference tool beside it; each
prints its own detailed tables and writes a JSON result file into ``--out``:

1. bulk DE, ours vs R's DESeq2 (12/24/48 samples x 30k genes): ``bulk_de_benchmark.py``
   -> ``bulk_de.json``;
2. the single-nucleus branch (25k/100k/200k nuclei over 12 mice), per stage from the
   per-job Snakemake benchmark files, and its pseudobulk DE vs R's DESeq2 on the same
   pseudobulk counts: ``snrna_benchmark.py`` -> ``snrna.json``;
3. GSEA, ours vs plain ``gseapy.prerank`` on real rankings, with the MSigDB GMT when
   given: ``enrichment_benchmark.py`` -> ``enrichment.json``;
4. the full demo run (README command), the dry run of the finished demo DAG (start-up),
   and report rendering: this script -> ``report.json``.

At the end it prints the machine (CPU model, cores, RAM) and ONE consolidated table, a
row per stage x size:

``ours s`` / ``ours MB``
    our wall time and peak resident memory;
``reference``, ``ref s`` / ``ref MB``
    the reference tool on the same input (R's DESeq2, gseapy.prerank) where there is one;
``agreement``
    of our results with the reference's (Spearman of the DE stat and Jaccard of padj < 0.1
    for DE; NES Pearson r and FDR Spearman for GSEA);
``load``
    1-minute load average at the start and end of the row's measurement.

What the times include differs by stage and is printed as notes under the table; in short,
single-nucleus stage rows are the **sum of their jobs' wall times** (jobs run two at a
time, so they overlap; the end-to-end wall time is its own row) and their peak is the
largest job's; "end to end" and "full demo run" peaks are all concurrent jobs summed.
R parts need Rscript with DESeq2; without it they are skipped, and the table says why.

Usage::

    .venv/bin/python perf/run_all.py [--quick] [--gmt path/to/c2.cp.mmu.gmt]
        [--out /tmp/acc_tiam1_benchmarks] [--only bulk snrna enrichment report]
    .venv/bin/python perf/run_all.py --table-only [--out DIR]   # reprint the table

``--quick`` is a first look in minutes: bulk 12 samples, 6,000 nuclei x 8,000 genes,
and the report stage on a bulk-only demo of 3,000 genes.
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable
sys.path.insert(0, str(HERE))

import benchlib  # noqa: E402
import snrna_benchmark  # noqa: E402

STAGES = ("bulk", "snrna", "enrichment", "report")
RESULT_FILES = {
    "bulk": "bulk_de.json",
    "snrna": "snrna.json",
    "enrichment": "enrichment.json",
    "report": "report.json",
}
SIZES = {
    "full": {
        "samples": [12, 24, 48],
        "nuclei": [25000, 100000, 200000],
        "genes": 20000,
        "demo": "full",
    },
    "quick": {"samples": [12], "nuclei": [6000], "genes": 8000, "demo": "bulk-only"},
}


def stage_commands(args, sizes: dict) -> dict[str, list[str]]:
    """The command of each stage script, writing its result file into ``args.out``."""
    out = args.out
    enrich = [
        PY,
        str(HERE / "enrichment_benchmark.py"),
        "--real",
        "--out",
        str(out / "enrichment.tsv"),
        "--json",
        str(out / "enrichment.json"),
    ]
    if args.gmt:
        enrich += ["--gmt", *args.gmt]
    return {
        "bulk": [
            PY,
            str(HERE / "bulk_de_benchmark.py"),
            "--samples",
            *map(str, sizes["samples"]),
            "--json",
            str(out / "bulk_de.json"),
        ],
        "snrna": [
            PY,
            str(HERE / "snrna_benchmark.py"),
            "--nuclei",
            *map(str, sizes["nuclei"]),
            "--genes",
            str(sizes["genes"]),
            "--workdir",
            str(out / "snrna_work"),
            "--json",
            str(out / "snrna.json"),
        ],
        "enrichment": enrich,
    }


def run_script(title: str, cmd: list[str]) -> int:
    """Run a stage script, its output going to the terminal; its exit code."""
    print(f"\n=== {title}\n$ {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=REPO, check=False).returncode


# -- the full demo: run, dry run, report ----------------------------------------------


def demo_config(kind: str) -> dict:
    """The demo config; ``bulk-only``: without snRNA and with 3,000 genes (``--quick``)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    if kind == "bulk-only":
        config["demo"]["bulk_genes"] = 3000
        config.pop("snrna", None)
    return config


def demo_size(config: dict) -> str:
    size = f"demo: bulk 24 samples x {config['demo']['bulk_genes']} genes"
    if "snrna" in config:
        size += (
            f", snRNA 12 x {config['demo']['snrna_nuclei_per_sample']} nuclei x "
            f"{config['demo']['snrna_genes']} genes"
        )
    return size


def report_benchmark(kind: str, json_path: Path) -> None:
    """Full demo run, dry run of the finished DAG (best of 3), report rendering."""
    started = benchlib.now()
    config = demo_config(kind)
    size = demo_size(config)
    print(f"\n=== full demo run, dry run and report ({size})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        wf = Path(tmp) / "wf"
        snrna_benchmark.copy_workflow(wf)
        config_path = wf / "bench.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        load0 = benchlib.loadavg()
        try:
            full_s, sampler = snrna_benchmark.snakemake(wf, config_path, 2)
        except SystemExit:
            print((wf / "benchmark_run.log").read_text()[-5000:], file=sys.stderr)
            raise
        jobs = demo_jobs(wf / "benchmark_run.log")
        results_mb = tree_mb(wf / "results")
        print(f"demo: {jobs} jobs, results {results_mb:.0f} MB", flush=True)
        rows = [
            benchlib.row(
                "full demo run",
                f"{size}; {jobs} jobs; results {results_mb:.0f} MB",
                ours_s=full_s,
                ours_peak_mb=sampler.peak_mb,
                load_start=load0,
                load_end=benchlib.loadavg(),
                note="wall time of snakemake --cores 2; peak = all concurrent jobs summed",
            )
        ]
        smk = [PY, "-m", "snakemake", "--cores", "2", "--configfile", str(config_path)]
        load0 = benchlib.loadavg()
        dry = [benchlib.run_measured([*smk, "-n"], cwd=wf) for _ in range(3)]
        if "Nothing to be done" not in dry[-1].stdout + dry[-1].stderr:
            print("warning: the dry run after the full run would still run jobs")
        best = min(dry, key=lambda r: r.seconds)
        rows.append(
            benchlib.row(
                "dry run (start-up)",
                f"finished {size}",
                ours_s=best.seconds,
                ours_peak_mb=best.peak_rss_mb,
                load_start=load0,
                load_end=benchlib.loadavg(),
                note="best of 3 runs of snakemake -n; peak = that process" + slurm_plugin_note(),
            )
        )
        load0 = benchlib.loadavg()
        report = benchlib.run_measured([*smk, "--report", "results/report.html"], cwd=wf)
        if report.returncode != 0:
            raise SystemExit(f"report failed:\n{report.stderr[-3000:]}")
        mb = (wf / "results" / "report.html").stat().st_size / 1e6
        opened = report_open_seconds(wf / "results" / "report.html")
        rows.append(
            benchlib.row(
                "report",
                f"{size} ({mb:.1f} MB html; opens in {opened})",
                ours_s=report.seconds,
                ours_peak_mb=report.peak_rss_mb,
                load_start=load0,
                load_end=benchlib.loadavg(),
                note="snakemake --report; peak = largest process",
            )
        )
    print(
        pd.DataFrame(rows)[["stage", "ours_s", "ours_peak_mb", "load_start", "load_end"]].to_string(
            index=False, float_format=lambda v: f"{v:.1f}"
        )
    )
    benchlib.write_results(json_path, "run_all.py (report stage)", rows, started)


def demo_jobs(log: Path) -> int:
    """Jobs a Snakemake run executed (the last "N of M steps" line of its log)."""
    import re

    steps = re.findall(r"\d+ of (\d+) steps", log.read_text())
    return int(steps[-1]) if steps else 0


def tree_mb(folder: Path, skip: tuple[str, ...] = ("report.html",)) -> float:
    """Size of the files below ``folder`` in MB (the report left out: measured apart)."""
    return (
        sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and f.name not in skip) / 1e6
    )


def report_open_seconds(report: Path) -> str:
    """Seconds until headless Chromium has loaded the report and shown its start page."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "n.a. (no playwright)"
    if chromium is None:
        return "n.a. (no chromium)"
    flags = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=flags)
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_selector("#loading-screen", state="hidden")
        seconds = time.perf_counter() - start
        browser.close()
    return f"{seconds:.1f} s"


def slurm_plugin_note() -> str:
    """What a slow start-up includes where importing the SLURM executor plugin is slow
    (:func:`benchlib.slurm_plugin_seconds`; the machine line warns about it too)."""
    seconds = benchlib.slurm_plugin_seconds()
    if seconds is None or seconds < benchlib.SLOW_PLUGIN_S:
        return ""
    return (
        f"; includes ~{seconds:.0f} s importing the SLURM executor plugin, which "
        "waits for scontrol (no SLURM controller answers on this machine)"
    )


# -- the consolidated table -----------------------------------------------------------


def collect(out: Path, stages=STAGES) -> tuple[pd.DataFrame, list[str]]:
    """Rows of every result file in ``out`` (stage order kept); messages for missing ones."""
    rows, missing = [], []
    for stage in stages:
        path = out / RESULT_FILES[stage]
        if not path.exists():
            missing.append(f"{stage}: no result file {path}")
            continue
        rows += benchlib.read_results(path)["rows"]
    table = pd.DataFrame(rows, columns=list(benchlib.ROW_KEYS))
    # Group rows by stage in order of first appearance; sizes keep their order.
    order = {s: i for i, s in enumerate(dict.fromkeys(table["stage"]))}
    table = table.iloc[table["stage"].map(order).argsort(kind="stable")]
    return table, missing


def _num(value, fmt: str) -> str:
    return "-" if value is None or pd.isna(value) else format(value, fmt)


def format_table(table: pd.DataFrame) -> str:
    """The consolidated table as text, with the notes of each stage below it."""
    columns = {  # header: (cell texts, right-aligned)
        "stage": (table["stage"], False),
        "size": (table["size"], False),
        "ours s": ([_num(v, ".1f") for v in table["ours_s"]], True),
        "ours MB": ([_num(v, ".0f") for v in table["ours_peak_mb"]], True),
        "reference": (table["reference"].fillna("-"), False),
        "ref s": ([_num(v, ".1f") for v in table["ref_s"]], True),
        "ref MB": ([_num(v, ".0f") for v in table["ref_peak_mb"]], True),
        "load": (
            [
                f"{_num(a, '.1f')} -> {_num(b, '.1f')}"
                for a, b in zip(table["load_start"], table["load_end"], strict=True)
            ],
            False,
        ),
        "agreement": (table["agreement"].fillna("-"), False),
    }
    cells = {h: [str(c) for c in col] for h, (col, _) in columns.items()}
    widths = {h: max([len(h), *map(len, col)]) for h, col in cells.items()}

    def line(values: dict[str, str]) -> str:
        return "  ".join(
            v.rjust(widths[h]) if columns[h][1] else v.ljust(widths[h]) for h, v in values.items()
        ).rstrip()

    lines = [line({h: h for h in columns}), line({h: "-" * widths[h] for h in columns})]
    lines += [line({h: cells[h][i] for h in columns}) for i in range(len(table))]
    notes = table.drop_duplicates("stage")[["stage", "note"]].dropna()
    lines += ["", "notes:", *(f"- {s}: {n}" for s, n in notes.itertuples(index=False))]
    return "\n".join(lines)


def print_consolidated(out: Path, stages=STAGES, script_seconds: dict | None = None) -> None:
    table, missing = collect(out, stages)
    print("\n" + "=" * 100)
    print("CONSOLIDATED BENCHMARK TABLE")
    print(benchlib.machine_line())
    print(f"load average now: {' '.join(f'{v:.2f}' for v in os.getloadavg())} (1/5/15 min)")
    print(f"result files: {out}")
    print("=" * 100)
    if len(table):
        print(format_table(table))
    for m in missing:
        print(f"missing: {m}")
    if script_seconds:
        print(
            "stage scripts' wall time (incl. simulation and setup): "
            + ", ".join(f"{k} {v / 60:.1f} min" for k, v in script_seconds.items())
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a first look")
    parser.add_argument("--gmt", nargs="*", default=[], help="extra GMT files (MSigDB)")
    parser.add_argument(
        "--out",
        type=Path,
        default=benchlib.DEFAULT_RESULTS,
        help="folder for the result files and snRNA work folders",
    )
    parser.add_argument(
        "--only", nargs="+", choices=STAGES, default=list(STAGES), help="run only these stages"
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="print the consolidated table of the result files in --out",
    )
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    if args.table_only:
        print_consolidated(args.out)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    print(benchlib.machine_line(), flush=True)
    print(f"load average at start: {benchlib.loadavg():.2f}", flush=True)
    sizes = SIZES["quick" if args.quick else "full"]
    commands = stage_commands(args, sizes)
    seconds = {}
    for stage in args.only:
        (args.out / RESULT_FILES[stage]).unlink(missing_ok=True)  # no stale results
        start = time.perf_counter()
        if stage == "report":
            try:
                report_benchmark(sizes["demo"], args.out / RESULT_FILES[stage])
            except (SystemExit, Exception) as err:  # the table of the other stages still
                print(f"report benchmark failed: {err}", file=sys.stderr)
        else:
            code = run_script(stage, commands[stage])
            if code != 0:
                print(f"{stage} benchmark failed with exit code {code}", file=sys.stderr)
        seconds[stage] = time.perf_counter() - start
    print_consolidated(args.out, args.only, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
