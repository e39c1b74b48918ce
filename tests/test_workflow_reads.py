"""End to end: the reads demo from FASTQ (bulk and 10x) through the front end into the
branches, against the planted truth; and bad FASTQ / reference input stopping the run
before any index is built."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from acc_tiam1 import io, reads
from conftest import REPO, copy_workflow, snakemake, write_config
from scipy.stats import spearmanr

pytestmark = pytest.mark.e2e

TOOLS = ("salmon", "STAR", "featureCounts", "fastp")
MISSING = [t for t in TOOLS if shutil.which(t) is None]
if importlib.util.find_spec("multiqc") is None:
    MISSING.append("multiqc (Python package)")
needs_tools = pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} not installed (Debian: apt-get install salmon rna-star "
    "subread fastp; MultiQC comes with .venv)",
)
BULK = ["RB1", "RB2", "RB3", "RB4"]
SNRNA = ["RS1", "RS2", "RS3", "RS4"]
TARGETS = [
    "results/reads/multiqc/multiqc_report.html",
    "results/bulk/de/pain_vs_sham.tsv",
    "results/snrna/qc/filter_summary.tsv",
]


def small_reads_config() -> dict:
    """The reads demo, smaller: fewer fragments, nuclei and empty droplets."""
    config = yaml.safe_load((REPO / "config" / "demo_reads.yaml").read_text())
    config["demo"].update(
        reads_fragments=20000, reads_nuclei=120, reads_umis=600, reads_empty_droplets=1500
    )
    config["snrna"]["cell_filter"] = "EmptyDrops_CR 120 0.99 10 300 1500 100 0.01 20000 0.01 10000"
    return config


@pytest.fixture(scope="module")
def reads_run(tmp_path_factory):
    """The small reads demo with salmon, up to the bulk DE and the snRNA QC (the later
    snRNA steps read the same matrices and are tested on the count demo)."""
    if MISSING:
        pytest.skip(f"{', '.join(MISSING)} not installed")
    wf = copy_workflow(tmp_path_factory.mktemp("reads_demo") / "wf")
    config = write_config(wf / "reads.yaml", small_reads_config())
    snakemake(wf, *TARGETS, "--configfile", str(config))
    return wf


def read(wf, rel, **kwargs):
    return pd.read_csv(wf / rel, sep="\t", **kwargs)


def spearman_per_sample(wf, counts):
    truth = read(wf, "resources/demo/reads/truth_bulk_counts.tsv", index_col=0)
    out = {}
    for s in BULK:
        expressed = truth.index[truth[s] > 0]
        out[s] = spearmanr(truth.loc[expressed, s], counts.loc[expressed, s]).statistic
    return out


@needs_tools
def test_salmon_gene_counts_match_the_planted_counts(reads_run):
    counts = read(reads_run, "results/reads/bulk/gene_counts.tsv", index_col=0)
    assert counts.columns.tolist() == ["gene", *BULK]
    rho = spearman_per_sample(reads_run, counts)
    assert min(rho.values()) > 0.95, rho
    # The bulk branch read exactly this matrix.
    prepared = read(reads_run, "results/bulk/counts.tsv", index_col=0)
    assert (prepared.loc[counts.index, BULK] == counts[BULK]).all().all()
    assert "Tiam1" in set(prepared["gene"])


@needs_tools
def test_strandedness_is_inferred_as_reverse(reads_run):
    table = read(reads_run, "results/reads/bulk/strandedness.tsv")
    assert table["inferred"].tolist() == ["reverse"] * 4
    assert (table["forward_fraction"] < 0.05).all() and (table["flag"].isna()).all()


@needs_tools
def test_multiqc_shows_every_sample_and_tool(reads_run):
    stats = read(
        reads_run,
        "results/reads/multiqc/multiqc_report_data/multiqc_general_stats.txt",
        index_col=0,
    )
    for s in BULK + SNRNA:
        assert s in stats.index, s
    assert {"RB1.L1", "RB1.L2"} <= set(stats.index)  # fastp, per lane
    assert any(c.startswith("salmon") for c in stats.columns)
    assert any(c.startswith("star") for c in stats.columns)  # STARsolo's alignment
    html = (reads_run / "results/reads/multiqc/multiqc_report.html").read_text()
    assert "Strandedness" in html and "STARsolo nuclei" in html


@needs_tools
def test_starsolo_calls_the_planted_nuclei_and_counts_introns(reads_run):
    calls = read(reads_run, "results/reads/snrna/cell_calling.tsv", index_col=0)
    truth = read(reads_run, "resources/demo/reads/truth_nuclei.tsv")
    nuclei = truth[truth["cell_type"] != "empty"]
    planted = nuclei.groupby("sample").size()
    for s in SNRNA:
        assert abs(calls.loc[s, "nuclei"] - planted[s]) <= 0.1 * planted[s], (s, planted[s])
        called = set(
            gzip.open(reads_run / f"results/reads/snrna/{s}/filtered/barcodes.tsv.gz", "rt")
            .read()
            .split()
        )
        real = set(nuclei.loc[nuclei["sample"] == s, "barcode"])
        assert len(called & real) >= 0.95 * len(real)
        assert len(called - real) <= 0.05 * len(real)
    # GeneFull counts intronic molecules: the exon-only share is as planted.
    share = nuclei.groupby("sample")[["intronic_umis", "umis"]].sum()
    planted_fraction = share["intronic_umis"] / share["umis"]
    assert np.allclose(calls.loc[SNRNA, "intronic_fraction"], planted_fraction[SNRNA], atol=0.03)
    assert (calls["intronic_fraction"] > 0.3).all()


@needs_tools
def test_snrna_branch_reads_the_starsolo_matrices(reads_run):
    summary = read(reads_run, "results/snrna/qc/filter_summary.tsv", index_col=0)
    calls = read(reads_run, "results/reads/snrna/cell_calling.tsv", index_col=0)
    assert summary.loc[SNRNA, "nuclei_in"].tolist() == calls.loc[SNRNA, "nuclei"].tolist()
    import scanpy as sc

    raw = sc.read_10x_mtx(reads_run / "results/reads/snrna/RS1/raw")
    assert raw.n_obs >= calls.loc["RS1", "nuclei"] and (raw.X.sum(axis=1) > 0).all()


@needs_tools
def test_star_featurecounts_match_planted_and_a_direct_featurecounts_run(reads_run):
    wf = reads_run
    salmon = read(wf, "results/reads/bulk/gene_counts.tsv", index_col=0)
    config = small_reads_config()
    config["bulk"]["quantifier"] = "star"
    star_cfg = write_config(wf / "star.yaml", config)
    snakemake(
        wf,
        "results/reads/bulk/gene_counts.tsv",
        "results/reads/multiqc/multiqc_report.html",
        "--configfile",
        str(star_cfg),
    )
    counts = read(wf, "results/reads/bulk/gene_counts.tsv", index_col=0)
    rho = spearman_per_sample(wf, counts)
    assert min(rho.values()) > 0.95, rho
    assert not counts[BULK].equals(salmon[BULK])  # the quantifier did change
    table = read(wf, "results/reads/bulk/strandedness.tsv")
    assert table["source"].unique().tolist() == ["STAR ReadsPerGene"]
    assert table["used"].tolist() == ["reverse"] * 4
    bams = [str(wf / f"results/reads/bulk/star/{s}.Aligned.sortedByCoord.out.bam") for s in BULK]
    out = wf / "direct_fc.tsv"
    subprocess.run(
        [
            "featureCounts",
            "-p",
            "--countReadPairs",
            "-s",
            "2",
            "-T",
            "2",
            "-a",
            str(wf / "resources/demo/reads/genes.gtf.gz"),
            "-o",
            str(out),
            *bams,
        ],
        check=True,
        capture_output=True,
    )
    direct = pd.read_csv(out, sep="\t", comment="#", index_col=0).iloc[:, 5:]
    direct.columns = BULK
    assert (direct.loc[counts.index] == counts[BULK]).all().all()


# --- bad input: stopped before any index is built -------------------------------------


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    """A tiny bulk-only reads demo, written with the library into ``data/``."""
    data = tmp_path_factory.mktemp("tiny_demo") / "data"
    units = reads.read_units(str(REPO / "config/demo/reads_bulk_units.tsv"), "bulk").table
    units[["fq1", "fq2"]] = units[["fq1", "fq2"]].map(lambda p: str(data / Path(p).name))
    names = {
        "genome": "genome.fa.gz",
        "gtf": "genes.gtf.gz",
        "transcriptome": "transcripts.fa.gz",
        "whitelist": "whitelist.txt",
        "truth_genes": "truth_genes.tsv",
        "truth_bulk": "truth_bulk.tsv",
        "truth_nuclei": "truth_nuclei.tsv",
    }
    modules = {
        k: v
        for k, v in io.read_gmt(REPO / "config/genesets/tiam1_rac1.gmt").items()
        if k != "TIAM1_RAC1_CORE_ABC"
    }
    reads.write_demo(
        {k: str(data / v) for k, v in names.items()},
        modules,
        io.read_markers(REPO / "config/markers/acc_markers.tsv"),
        reads.DEMO_CELL_TYPES,
        io.read_sample_sheet(REPO / "config/demo/reads_bulk_samples.tsv"),
        units,
        None,
        None,
        reads.DemoSettings(fragments=3000, whitelist_size=100, seed=3),
    )
    return data, units


def bad_config(wf, data, units):
    """A bulk-only config on a copy of the tiny demo data (units relative to data/)."""
    shutil.copytree(data, wf / "data")
    units = units.assign(**{c: units[c].map(lambda p: Path(p).name) for c in ("fq1", "fq2")})
    units.to_csv(wf / "data/units.tsv", sep="\t", index=False)
    shutil.copy(REPO / "config/demo/reads_bulk_samples.tsv", wf / "data/samples.tsv")
    config = small_reads_config()
    config.pop("snrna")
    config["bulk"].update(units="data/units.tsv", samples="data/samples.tsv")
    config["reference"].update(
        genome="data/genome.fa.gz", gtf="data/genes.gtf.gz", transcriptome="data/transcripts.fa.gz"
    )
    return config


def run_expect_failure(wf, config, dry=False):
    cfg = write_config(wf / "bad.yaml", config)
    proc = snakemake(
        wf,
        "results/reads/index/salmon",
        "--configfile",
        str(cfg),
        *(["-n"] if dry else []),
        check=False,
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert not (wf / "results/reads/index/salmon").exists()
    return proc.stdout


def test_truncated_fastq_stops_before_any_index(workflow_copy, demo_files):
    config = bad_config(workflow_copy, *demo_files)
    path = workflow_copy / "data/RB3_L1_R1.fastq.gz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    out = run_expect_failure(workflow_copy, config)
    assert "RB3_L1_R1.fastq.gz" in out and "truncated" in out
    assert "Traceback" not in out


def test_mates_of_different_lengths_stop_before_any_index(workflow_copy, demo_files):
    config = bad_config(workflow_copy, *demo_files)
    path = workflow_copy / "data/RB2_L1_R2.fastq.gz"
    lines = gzip.open(path, "rt").read().splitlines(keepends=True)
    with gzip.open(path, "wt") as handle:
        handle.write("".join(lines[:-40]))
    out = run_expect_failure(workflow_copy, config)
    assert "RB2_L1_R1.fastq.gz" in out and "RB2_L1_R2.fastq.gz" in out
    assert "paired files must hold the same reads" in out


def test_units_sheet_naming_an_unknown_sample(workflow_copy, demo_files):
    data, units = demo_files
    config = bad_config(
        workflow_copy, data, units.assign(sample=units["sample"].replace({"RB4": "RB9"}))
    )
    out = run_expect_failure(workflow_copy, config, dry=True)
    assert "Invalid input" in out and "RB9" in out and "units.tsv" in out


def test_not_a_fastq_is_caught_when_the_config_is_read(workflow_copy, demo_files):
    config = bad_config(workflow_copy, *demo_files)
    with gzip.open(workflow_copy / "data/RB1_L2_R2.fastq.gz", "wt") as handle:
        handle.write(">chr1\nACGT\n")
    out = run_expect_failure(workflow_copy, config, dry=True)
    assert "RB1_L2_R2.fastq.gz" in out and "not a FASTQ file" in out


def test_gtf_not_matching_the_transcriptome_stops_before_any_index(workflow_copy, demo_files):
    config = bad_config(workflow_copy, *demo_files)
    gtf = workflow_copy / "data/genes.gtf.gz"
    text = gzip.open(gtf, "rt").read().replace('transcript_id "DEMOT', 'transcript_id "ENSMUST')
    with gzip.open(gtf, "wt") as handle:
        handle.write(text)
    out = run_expect_failure(workflow_copy, config)
    assert "transcripts.fa.gz" in out and "genes.gtf.gz" in out
    assert "are not in the GTF" in out
