"""One command for every performance measurement of the workflow (not a test).

Runs, one after the other, each stage's benchmark with the reference tool beside it, and
prints their tables:

1. bulk DE, ours vs R's DESeq2 (12/24/48 samples x 30k genes): ``bulk_de_benchmark.py``;
2. the single-nucleus branch end to end, per rule (QC, integration, annotation, pseudobulk
   DE, enrichment), 25k/100k/200k nuclei over 12 mice: ``snrna_benchmark.py``;
3. GSEA, ours vs plain ``gseapy.prerank`` on the demo's DE tables and on real rankings,
   with the MSigDB GMT when given: ``enrichment_benchmark.py``;
4. start-up (dry run of the full demo DAG after a finished run) and report rendering.

R parts need Rscript with DESeq2; without it they are skipped by the stage's script.
Usage::

    .venv/bin/python benchmarks/run_all.py [--quick] [--gmt path/to/c2.cp.mmu.gmt]

``--quick`` uses smaller sizes (bulk 12/24 samples, 25k nuclei) for a first look.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable


def run(title: str, cmd: list[str], cwd: Path = REPO) -> float:
    print(f"\n=== {title}\n$ {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=False)
    return time.perf_counter() - start


def startup_and_report() -> None:
    """Dry-run time of the finished demo and time to render its report."""
    with tempfile.TemporaryDirectory() as tmp:
        wf = Path(tmp) / "wf"
        wf.mkdir()
        for part in ("Snakefile", "workflow", "scripts", "config"):
            src = REPO / part
            (shutil.copytree if src.is_dir() else shutil.copy)(src, wf / part)
        smk = [PY, "-m", "snakemake", "--cores", "2"]
        print("\n=== start-up and report (full demo)", flush=True)
        t0 = time.perf_counter()
        subprocess.run(smk, cwd=wf, check=True, capture_output=True)
        full = time.perf_counter() - t0
        dry = []
        for _ in range(3):
            t0 = time.perf_counter()
            out = subprocess.run([*smk, "-n"], cwd=wf, check=True, capture_output=True,
                                 text=True).stdout
            dry.append(time.perf_counter() - t0)
        assert "Nothing to be done" in out
        t0 = time.perf_counter()
        subprocess.run([*smk, "--report", "results/report.html"], cwd=wf, check=True,
                       capture_output=True)
        report = time.perf_counter() - t0
        size = (wf / "results" / "report.html").stat().st_size / 1e6
        print(f"{'step':<40}{'wall time (s)':>15}")
        print(f"{'full demo run (both branches)':<40}{full:>15.1f}")
        print(f"{'dry run of the finished demo (best of 3)':<40}{min(dry):>15.2f}")
        print(f"{'report rendering':<40}{report:>15.1f}   ({size:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--gmt", nargs="*", default=[], help="extra GMT files (MSigDB)")
    args = parser.parse_args()
    print(f"machine: {platform.node()}, {platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}")
    samples = ["12", "24"] if args.quick else ["12", "24", "48"]
    nuclei = ["25000"] if args.quick else ["25000", "100000", "200000"]
    run("bulk DE vs R DESeq2", [PY, str(HERE / "bulk_de_benchmark.py"), "--samples", *samples])
    run("single-nucleus branch", [PY, str(HERE / "snrna_benchmark.py"), "--nuclei", *nuclei])
    enrich = [PY, str(HERE / "enrichment_benchmark.py"), "--real"]
    if args.gmt:
        enrich += ["--gmt", *args.gmt]
    run("GSEA vs gseapy.prerank", enrich)
    startup_and_report()


if __name__ == "__main__":
    main()
