"""Validate the reads front end on real reads (not a test: it needs real data and tools).

Two public data sets, laid out as in ``SOURCE.txt`` of each folder:

``--bulk``
    Bulk RNA-seq, paired-end, unstranded (lcdb-test-data: Drosophila dm6, 4 samples,
    2 WT + 2 Smn mutant, 2x48 bp, ~10,100 read pairs each): ``reads/sample{1..4}.tiny_R{1,2}
    .fastq.gz``, ``ref/dm6.small.fa``, ``ref/dm6.small.gtf``,
    ``ref/dm6.small.transcriptome.fa``.
``--sc10x``
    10x Chromium 3' v3 reads (raer: mouse 5k neurons, 2,111 reads, tiny reference):
    ``reads/5k_neuron_tiny_S1_L001_R{1,2}_001.fastq.gz``, ``ref/mouse_tiny.fasta``,
    ``ref/mouse_tiny.gtf``, ``ref/cb_whitelist_subset.txt``.

The workflow (its git-tracked files) is copied twice into ``--workdir`` (``bulk/`` and
``sc10x/``: the two sets have different references). Sample sheets, units sheets and a
config are written there, and Snakemake runs only up to the front end's targets (gene
counts, strandedness table, MultiQC report, STARsolo matrices and cell-calling table);
the downstream DE and snRNA analyses do not run. Checks, printed as they run:

1. bulk with ``bulk.quantifier: salmon`` and with ``star``: read pairs, gene-count
   summary, and the Spearman correlation of the two quantifiers per sample;
2. the workflow's STAR + featureCounts counts equal a direct ``featureCounts -p
   --countReadPairs -s 0 -t exon -g gene_id`` run on the workflow's own STAR BAMs;
3. the strandedness table calls every sample unstranded (both runs);
4. the MultiQC general statistics list every sample (both runs);
5. the 10x set runs through STARsolo: barcodes with counts, nuclei called, reads, and
   where the matrices are.

The snRNA config checks need at least ``de.min_group_size`` (2) samples per contrast
level even when only the front end runs, so the one 10x library is listed as four samples
(2 + 2) that read the same FASTQ files; this is printed.

Usage::

    PYTHONPATH=scripts .venv/bin/python perf/validate_real_reads.py \\
        --bulk DIR --sc10x DIR [--workdir DIR] [--cores 1]

Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
TOOLS = ("salmon", "STAR", "featureCounts", "fastp")
BULK_SAMPLES = {
    "sample1": "WT",
    "sample2": "WT",
    "sample3": "Smn",
    "sample4": "Smn",
}
#: The one 10x library, listed as 2 + 2 samples (see the module docstring).
SC_SAMPLES = {"sc1": "A", "sc2": "A", "sc3": "B", "sc4": "B"}
GENE_COUNTS = "results/reads/bulk/gene_counts.tsv"
STRANDEDNESS = "results/reads/bulk/strandedness.tsv"
MULTIQC = "results/reads/multiqc/multiqc_report.html"
MULTIQC_STATS = "results/reads/multiqc/multiqc_report_data/multiqc_general_stats.txt"
CELL_CALLING = "results/reads/snrna/cell_calling.tsv"


class Checks:
    """Pass/fail record of the checks, printed at the end."""

    def __init__(self) -> None:
        self.results: list[tuple[str, bool, str]] = []

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        """Record and print one check.

        Parameters
        ----------
        name
            Short name of the check.
        ok
            Whether it passed.
        detail
            What was measured.
        """
        self.results.append((name, ok, detail))
        print(f"   [{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")

    @property
    def failed(self) -> list[str]:
        """Names of the failed checks."""
        return [name for name, ok, _ in self.results if not ok]


def copy_workflow(dest: Path) -> Path:
    """Copy the git-tracked files of the workflow (as on disk) to ``dest``.

    Parameters
    ----------
    dest
        Destination folder (created).

    Returns
    -------
    Path
        ``dest``.
    """
    files = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], check=True, capture_output=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = REPO / os.fsdecode(name)
        if not src.is_file():  # deleted in the working tree
            continue
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def tool_version(tool: str) -> str:
    """A tool's version line (``--version``, or ``-v`` for featureCounts)."""
    flag = "-v" if tool == "featureCounts" else "--version"
    proc = subprocess.run([tool, flag], capture_output=True, text=True)
    lines = (proc.stdout + proc.stderr).split("\n")
    return next((line.strip() for line in lines if line.strip()), "?")


def read_length(path: Path) -> int:
    """Length of the first read of a (gzipped) FASTQ file."""
    with gzip.open(path, "rt") as handle:
        handle.readline()
        return len(handle.readline().strip())


def write_tsv(table: pd.DataFrame, path: Path) -> str:
    """Write a TSV sheet; return its path relative to the workflow copy's folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, sep="\t", index=False)
    return str(path.relative_to(path.parents[2]))


def snakemake(workdir: Path, config: dict, targets: list[str], cores: int, name: str) -> bool:
    """Run Snakemake on ``targets`` with ``config``; print the wall time or the error.

    Parameters
    ----------
    workdir
        The workflow copy.
    config
        Written to ``workdir/config/real/<name>.yaml`` and given as ``--configfile``.
    targets
        Files to build.
    cores
        ``--cores``.
    name
        Name of the run (config and log file names).

    Returns
    -------
    bool
        Whether Snakemake succeeded; its output is in ``workdir/<name>.snakemake.log``.
    """
    cfg = workdir / "config" / "real" / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "PYTHONPATH": str(workdir / "scripts"), "PYTHONHASHSEED": "0"}
    # Targets before --configfile, which takes every argument after it.
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *targets]
    cmd += ["--configfile", str(cfg.relative_to(workdir))]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    log = workdir / f"{name}.snakemake.log"
    log.write_text(proc.stdout)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"   snakemake FAILED after {wall:.0f} s (log {log}); last lines:")
        print("      " + "\n      ".join(proc.stdout.strip().splitlines()[-40:]))
        return False
    print(f"   snakemake ok in {wall:.0f} s (log {log})")
    return True


def base_config(reference: dict) -> dict:
    """Config sections every run shares: seed, reference, contrast, gene sets, no rescue."""
    return {
        "seed": 20221215,
        "reference": reference,
        "contrasts": [],
        "genesets": ["config/genesets/tiam1_rac1.gmt"],
        "rescue": {"enabled": False},
    }


# --- bulk ------------------------------------------------------------------------------


def bulk_config(wf: Path, data: Path, quantifier: str) -> dict:
    """Sheets and config of the bulk set (absolute FASTQ and reference paths)."""
    ref = data / "ref"
    samples = pd.DataFrame({"sample": list(BULK_SAMPLES), "condition": list(BULK_SAMPLES.values())})
    units = pd.DataFrame(
        {
            "sample": list(BULK_SAMPLES),
            "unit": "L1",
            "fq1": [str(data / f"reads/{s}.tiny_R1.fastq.gz") for s in BULK_SAMPLES],
            "fq2": [str(data / f"reads/{s}.tiny_R2.fastq.gz") for s in BULK_SAMPLES],
        }
    )
    overhang = read_length(Path(units["fq1"].iloc[0])) - 1
    config = base_config(
        {
            "genome": str(ref / "dm6.small.fa"),
            "gtf": str(ref / "dm6.small.gtf"),
            "transcriptome": str(ref / "dm6.small.transcriptome.fa"),
            "salmon_decoys": True,
            "star_sjdb_overhang": overhang,
            "star_sa_index_nbases": None,
        }
    )
    config["contrasts"] = [
        {"name": "smn_vs_wt", "variable": "condition", "target": "Smn", "reference": "WT"}
    ]
    config["bulk"] = {
        "units": write_tsv(units, wf / "config/real/bulk_units.tsv"),
        "samples": write_tsv(samples, wf / "config/real/bulk_samples.tsv"),
        "design": "~ condition",
        "quantifier": quantifier,
        "strandedness": "auto",
    }
    return config


def save_run(wf: Path, dest: Path) -> None:
    """Move a run's gene counts, strandedness and MultiQC outputs to ``dest``.

    The next run (the other quantifier) must then write them anew.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for rel in (
        GENE_COUNTS,
        STRANDEDNESS,
        "results/reads/bulk/strandedness_mqc.tsv",
        "results/reads/bulk/strandedness",
        "results/reads/multiqc",
    ):
        src = wf / rel
        if src.exists():
            shutil.move(str(src), str(dest / src.name))


def star_percent(path: Path, key: str) -> float:
    """A percentage line of STAR's ``Log.final.out``."""
    for line in path.read_text().splitlines():
        if line.strip().startswith(key):
            return float(line.split("|")[1].strip().rstrip("%"))
    return float("nan")


def read_summary(wf: Path, quantifier: str) -> pd.DataFrame:
    """Per sample: read pairs (FASTQ check), pairs after fastp, and the quantifier's rate."""
    rows = []
    for s in BULK_SAMPLES:
        check = pd.read_csv(wf / f"results/reads/bulk/checks/{s}.tsv", sep="\t")
        fastp = json.loads((wf / f"results/reads/bulk/fastp/{s}.L1.fastp.json").read_text())
        row = {
            "sample": s,
            "read_pairs": int(check["reads"].sum()),
            "pairs_after_fastp": fastp["summary"]["after_filtering"]["total_reads"] // 2,
            "too_short_pairs": fastp["filtering_result"]["too_short_reads"] // 2,
            # fastp's --detect_adapter_for_pe may take an abundant transcript for an adapter.
            "fastp_adapter_r1": fastp.get("adapter_cutting", {}).get("read1_adapter_sequence", "-")[
                :16
            ],
        }
        if quantifier == "salmon":
            meta = json.loads(
                (wf / f"results/reads/bulk/salmon/{s}/aux_info/meta_info.json").read_text()
            )
            row["salmon_mapped_%"] = round(meta["percent_mapped"], 2)
        else:
            log = wf / f"results/reads/bulk/star/{s}.Log.final.out"
            row["star_unique_%"] = star_percent(log, "Uniquely mapped reads %")
            fc = pd.read_csv(
                wf / f"results/reads/bulk/featurecounts/{s}.tsv.summary", sep="\t", index_col=0
            )
            row["fc_assigned_pairs"] = int(fc.loc["Assigned"].iloc[0])
        rows.append(row)
    return pd.DataFrame(rows)


def count_summary(counts: pd.DataFrame) -> pd.DataFrame:
    """Per sample: total counts, genes with counts, and the largest gene."""
    rows = []
    for s in BULK_SAMPLES:
        col = counts.set_index("gene")[s]
        rows.append(
            {
                "sample": s,
                "total": int(col.sum()),
                "genes_>0": int((col > 0).sum()),
                "genes_>=10": int((col >= 10).sum()),
                "top_gene": f"{col.idxmax()} ({int(col.max())})",
            }
        )
    return pd.DataFrame(rows)


def check_strandedness(table: pd.DataFrame, label: str, checks: Checks) -> None:
    """Print the strandedness table and check every sample is called unstranded."""
    shown = table[["sample", "source", "forward_fraction", "inferred", "used", "flag"]]
    print(shown.fillna("").to_string(index=False))
    calls = dict(zip(table["sample"], table["inferred"], strict=True))
    ok = set(calls) == set(BULK_SAMPLES) and set(calls.values()) == {"unstranded"}
    fractions = ", ".join(
        f"{s} {f:.3f}" for s, f in zip(table["sample"], table["forward_fraction"], strict=True)
    )
    checks.add(f"{label}: all 4 samples unstranded", ok, fractions)


def check_multiqc(wf_or_dir: Path, label: str, samples: list[str], checks: Checks) -> None:
    """Check that MultiQC's general statistics list every sample (names with prefixes)."""
    stats = wf_or_dir / "multiqc_report_data/multiqc_general_stats.txt"
    if not stats.exists():
        checks.add(f"{label}: MultiQC general stats", False, f"{stats} missing")
        return
    table = pd.read_csv(stats, sep="\t")
    names = table["Sample"].astype(str).tolist()
    tools = sorted({c.split("-")[0].split("_mqc")[0] for c in table.columns[1:]})
    print(f"   MultiQC general stats rows: {', '.join(names)}")
    print(f"   MultiQC general stats columns from: {', '.join(tools)}")
    missing = [s for s in samples if not any(n == s or n.startswith(f"{s}.") for n in names)]
    html = (wf_or_dir / "multiqc_report.html").read_text(errors="replace")
    missing_html = [s for s in samples if s not in html]
    checks.add(
        f"{label}: MultiQC lists all {len(samples)} samples",
        not missing and not missing_html,
        f"missing in general stats: {missing or 'none'}; in the html: {missing_html or 'none'}",
    )


def run_bulk(data: Path, base: Path, cores: int, checks: Checks) -> None:
    """Both bulk runs and checks 1-4."""
    wf = copy_workflow(base / "bulk")
    (wf / "config/real").mkdir(parents=True, exist_ok=True)
    targets = [GENE_COUNTS, STRANDEDNESS, MULTIQC]
    out = {}
    for quantifier in ("salmon", "star"):
        print(f"\n== bulk, quantifier {quantifier}: {wf}")
        config = bulk_config(wf, data, quantifier)
        ok = snakemake(wf, config, targets, cores, f"bulk_{quantifier}")
        checks.add(f"bulk {quantifier}: front end runs", ok)
        if not ok:
            continue
        print(read_summary(wf, quantifier).to_string(index=False))
        counts = pd.read_csv(wf / GENE_COUNTS, sep="\t")
        print(f"   gene counts ({len(counts)} genes in the GTF):")
        print(count_summary(counts).to_string(index=False))
        print("   strandedness:")
        check_strandedness(pd.read_csv(wf / STRANDEDNESS, sep="\t"), f"bulk {quantifier}", checks)
        check_multiqc(
            wf / "results/reads/multiqc", f"bulk {quantifier}", list(BULK_SAMPLES), checks
        )
        save_run(wf, base / f"bulk_{quantifier}_outputs")
        out[quantifier] = counts
    if len(out) == 2:
        compare_quantifiers(out["salmon"], out["star"], checks)
    if "star" in out:
        check_featurecounts(wf, data, out["star"], cores, base, checks)
    print(f"   outputs of each run: {base}/bulk_salmon_outputs, {base}/bulk_star_outputs")


def compare_quantifiers(salmon: pd.DataFrame, star: pd.DataFrame, checks: Checks) -> None:
    """Check 1: Spearman of salmon vs STAR + featureCounts gene counts per sample."""
    print("\n== salmon vs STAR + featureCounts gene counts")
    a, b = salmon.set_index("gene_id"), star.set_index("gene_id")
    rows = []
    for s in BULK_SAMPLES:
        x, y = a[s], b[s].reindex(a.index)
        either = (x > 0) | (y > 0)
        both = (x > 0) & (y > 0)
        rows.append(
            {
                "sample": s,
                "genes_either>0": int(either.sum()),
                "spearman_either": round(spearmanr(x[either], y[either])[0], 4),
                "genes_both>0": int(both.sum()),
                "spearman_both": round(spearmanr(x[both], y[both])[0], 4),
                "salmon_total": int(x.sum()),
                "star_fc_total": int(y.sum()),
            }
        )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    worst = table["spearman_either"].min()
    checks.add("salmon vs STAR+featureCounts Spearman >= 0.9", worst >= 0.9, f"lowest {worst}")


def check_featurecounts(
    wf: Path, data: Path, star: pd.DataFrame, cores: int, base: Path, checks: Checks
) -> None:
    """Check 2: the workflow's counts equal a direct featureCounts run on its BAMs."""
    print("\n== workflow STAR + featureCounts vs direct featureCounts on the workflow's BAMs")
    bams = [wf / f"results/reads/bulk/star/{s}.Aligned.sortedByCoord.out.bam" for s in BULK_SAMPLES]
    missing = [str(b) for b in bams if not b.exists()]
    if missing:
        checks.add("STAR BAMs kept", False, f"missing: {missing}")
        return
    outdir = base / "direct_featurecounts"
    outdir.mkdir(parents=True, exist_ok=True)
    gtf = data / "ref/dm6.small.gtf"
    cmd = ["featureCounts", "-p", "--countReadPairs", "-s", "0", "-t", "exon", "-g", "gene_id"]
    cmd += ["-T", str(cores), "-a", str(gtf), "-o", str(outdir / "counts.txt"), *map(str, bams)]
    print("   " + " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    (outdir / "featureCounts.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        checks.add("direct featureCounts runs", False, proc.stderr[-500:])
        return
    direct = pd.read_csv(outdir / "counts.txt", sep="\t", comment="#", index_col=0)
    direct = direct.iloc[:, 5:]
    direct.columns = list(BULK_SAMPLES)
    ours = star.set_index("gene_id")[list(BULK_SAMPLES)]
    genes_only_one = set(direct.index) ^ set(ours.index)
    diff = (ours - direct.reindex(ours.index)).abs()
    per_sample = diff.max().astype(int).to_dict()
    print(f"   max |workflow - direct| per sample: {per_sample}")
    print(
        f"   genes: workflow {len(ours)}, direct {len(direct)}, "
        f"in only one of them {len(genes_only_one)}"
    )
    max_diff = int(diff.to_numpy().max())
    checks.add(
        "workflow STAR+featureCounts == direct featureCounts -s 0",
        max_diff == 0 and not genes_only_one,
        f"max absolute difference {max_diff}",
    )


# --- 10x -------------------------------------------------------------------------------


def run_sc10x(data: Path, base: Path, cores: int, checks: Checks) -> None:
    """The 10x set through STARsolo, and check 5."""
    wf = copy_workflow(base / "sc10x")
    print(f"\n== 10x v3 through STARsolo: {wf}")
    print(
        "   NOTE: the snRNA config checks need >= 2 samples per contrast level, so the one "
        f"10x library is listed as {len(SC_SAMPLES)} samples ({', '.join(SC_SAMPLES)}) "
        "reading the same FASTQ files."
    )
    ref = data / "ref"
    r1 = data / "reads/5k_neuron_tiny_S1_L001_R1_001.fastq.gz"
    r2 = data / "reads/5k_neuron_tiny_S1_L001_R2_001.fastq.gz"
    samples = pd.DataFrame({"sample": list(SC_SAMPLES), "condition": list(SC_SAMPLES.values())})
    units = pd.DataFrame(
        {"sample": list(SC_SAMPLES), "unit": "L001", "fq1": str(r1), "fq2": str(r2)}
    )
    config = base_config(
        {
            "genome": str(ref / "mouse_tiny.fasta"),
            "gtf": str(ref / "mouse_tiny.gtf"),
            "star_sjdb_overhang": read_length(r2) - 1,
            "star_sa_index_nbases": None,
        }
    )
    config["contrasts"] = [
        {"name": "b_vs_a", "variable": "condition", "target": "B", "reference": "A"}
    ]
    config["snrna"] = {
        "samples": write_tsv(samples, wf / "config/real/snrna_samples.tsv"),
        "units": write_tsv(units, wf / "config/real/snrna_units.tsv"),
        "chemistry": "v3",
        "whitelist": str(ref / "cb_whitelist_subset.txt"),
        "cell_filter": "EmptyDrops_CR",
        "design": "~ condition",
    }
    matrices = [
        f"results/reads/snrna/{s}/{m}/matrix.mtx.gz"
        for s in SC_SAMPLES
        for m in ("filtered", "raw")
    ]
    ok = snakemake(wf, config, [CELL_CALLING, MULTIQC, *matrices], cores, "sc10x")
    checks.add("10x: STARsolo front end runs", ok)
    if not ok:
        return
    table = pd.read_csv(wf / CELL_CALLING, sep="\t")
    cols = [
        "sample",
        "reads",
        "valid_barcodes",
        "mapped_unique",
        "raw_barcodes_with_counts",
        "nuclei",
        "umis_in_nuclei",
        "median_umis_per_nucleus",
        "intronic_fraction",
    ]
    print(table[[c for c in cols if c in table.columns]].to_string(index=False))
    s = next(iter(SC_SAMPLES))
    solo = wf / f"results/reads/snrna/starsolo/{s}/Solo.out"
    for feature in ("Gene", "GeneFull"):
        summary = solo / feature / "Summary.csv"
        if summary.exists():
            lines = dict(line.rsplit(",", 1) for line in summary.read_text().splitlines() if line)
            keys = (
                "Number of Reads",
                "Reads With Valid Barcodes",
                f"Reads Mapped to {feature}: Unique {feature}",
                "Estimated Number of Cells",
            )
            print(
                f"   STARsolo {feature} ({s}): "
                + "; ".join(f"{k} {lines.get(k, '?')}" for k in keys)
            )
    for m in ("filtered", "raw"):
        folder = wf / f"results/reads/snrna/{s}/{m}"
        with gzip.open(folder / "matrix.mtx.gz", "rt") as handle:
            dims = next(line for line in handle if not line.startswith("%")).split()
        print(
            f"   {m} matrix ({s}): {dims[0]} genes x {dims[1]} barcodes, "
            f"{dims[2]} entries: {folder}"
        )
    same = table.drop(columns="sample").nunique().le(1).all()
    checks.add(
        "10x: barcodes with counts and nuclei reported",
        bool((table["raw_barcodes_with_counts"] > 0).all() and (table["nuclei"] > 0).all()),
        f"{int(table['raw_barcodes_with_counts'].iloc[0])} barcodes with counts, "
        f"{int(table['nuclei'].iloc[0])} nuclei; identical rows for the copies: {bool(same)}",
    )
    check_multiqc(wf / "results/reads/multiqc", "10x", list(SC_SAMPLES), checks)


def main() -> None:
    """Parse the arguments, run both data sets and print the checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulk", type=Path, required=True, help="bulk_dm6_lcdb-like folder")
    parser.add_argument("--sc10x", type=Path, required=True, help="sc10x tiny folder")
    parser.add_argument("--workdir", type=Path, help="run here (default: a new temp folder)")
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args()
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        raise SystemExit(f"not on the PATH: {', '.join(missing)}")
    base = args.workdir or Path(tempfile.mkdtemp(prefix="realreads_"))
    base.mkdir(parents=True, exist_ok=True)
    if any(base.iterdir()):
        raise SystemExit(f"{base} is not empty; give an empty or new --workdir")
    versions = {t: tool_version(t) for t in TOOLS}
    print(f"workdir {base}; cores {args.cores}")
    print("tools: " + "; ".join(versions.values()))
    checks = Checks()
    start = time.perf_counter()
    run_bulk(args.bulk.resolve(), base, args.cores, checks)
    run_sc10x(args.sc10x.resolve(), base, args.cores, checks)
    print(f"\n== summary ({time.perf_counter() - start:.0f} s)")
    for name, ok, detail in checks.results:
        print(f"   [{'PASS' if ok else 'FAIL'}] {name}{': ' + detail if detail else ''}")
    if checks.failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
