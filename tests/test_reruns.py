"""Reruns: only what a change touches reruns; a killed run resumes to identical results."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import copy_workflow, planned_jobs, small_bulk_config, snakemake, write_config

pytestmark = pytest.mark.e2e

UPSTREAM_OF_DE = {"demo_bulk", "bulk_prepare", "bulk_sample_qc", "bulk_qc_plots"}


def test_a_new_study_can_be_dry_run(tmp_path):
    """``snakemake -n`` before anything ran (the demo's matrices are not made yet, so no
    input of the snRNA jobs has a size) plans every job with its thread count."""
    wf = copy_workflow(tmp_path / "wf")
    proc = snakemake(wf, "-n", check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    jobs = planned_jobs(proc.stdout)
    assert jobs["snrna_integrate"] == 1 and jobs["snrna_qc_sample"] == 12, jobs


def test_finished_run_has_nothing_to_do(bulk_demo_run):
    proc = snakemake(bulk_demo_run, "--configfile", "small.yaml", "-n")
    assert "Nothing to be done" in proc.stdout, proc.stdout[-2000:]


def test_design_change_reruns_de_and_downstream_only(bulk_demo_run):
    config = small_bulk_config()
    config["bulk"]["design"] = "~ sex + condition"
    cfg = write_config(bulk_demo_run / "design.yaml", config)
    jobs = planned_jobs(snakemake(bulk_demo_run, "--configfile", str(cfg), "-n").stdout)
    assert "bulk_de" in jobs and "bulk_de_summary" in jobs
    assert not UPSTREAM_OF_DE & set(jobs), jobs


def test_alpha_change_reruns_de_not_qc(bulk_demo_run):
    """alpha changes padj calls and everything after them, but not the counts or the QC."""
    config = small_bulk_config()
    config["de"]["alpha"] = 0.05
    cfg = write_config(bulk_demo_run / "alpha.yaml", config)
    jobs = planned_jobs(snakemake(bulk_demo_run, "--configfile", str(cfg), "-n").stdout)
    assert "bulk_de" in jobs
    assert not UPSTREAM_OF_DE & set(jobs), jobs


def test_killed_run_resumes_to_identical_results(tmp_path, bulk_demo_run):
    """SIGKILL mid-run (a lost node), unlock, rerun incomplete jobs: same tables as an
    uninterrupted run.

    The uninterrupted run is another fresh directory, so this also checks that two runs
    of the same config give byte-identical tables.
    """
    wf = copy_workflow(tmp_path / "wf")
    write_config(wf / "small.yaml", small_bulk_config())
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "small.yaml"]
    with open(wf / "first.log", "w") as log:
        proc = subprocess.Popen(
            cmd, cwd=wf, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.time() + 600
        while time.time() < deadline and proc.poll() is None:
            if (wf / "results/bulk/counts.tsv").exists() and "rule bulk_de:" in (
                wf / "first.log"
            ).read_text():
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (wf / "results/bulk/de/summary.tsv").exists()

    # As Snakemake itself says after a hard kill: remove the stale lock, then rerun what
    # was left incomplete.
    snakemake(wf, "--configfile", "small.yaml", "--unlock")
    snakemake(wf, "--configfile", "small.yaml", "--rerun-incomplete")
    reference = bulk_demo_run / "results"
    tables = sorted(p.relative_to(reference) for p in reference.rglob("*.tsv"))
    assert len(tables) >= 8
    differ = [
        str(t) for t in tables if not filecmp.cmp(reference / t, wf / "results" / t, shallow=False)
    ]
    # versions.tsv is the only table that may legitimately differ between machines; here
    # both runs share one environment, so nothing may differ.
    assert differ == []
