"""The benchmark's reading of a Snakemake run: what each job asked for and what it used."""

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "perf"))

import benchlib
import snrna_benchmark

# Two jobs as Snakemake 9 prints them (wildcards and reasons shortened).
RUN_LOG = """\
[Sat Nov 28 06:04:16 2026]
localrule snrna_integrate:
    input: results/snrna/qc/SN01.h5ad, results/snrna/qc/SN02.h5ad
    output: results/snrna/integrated.h5ad
    log: logs/snrna/integrate.log
    jobid: 17
    benchmark: benchmarks/snrna/integrate.tsv
    reason: Missing output files: results/snrna/integrated.h5ad
    threads: 2
    resources: tmpdir=/tmp, mem_mb=4358, mem_mib=4157, runtime=33
[Sat Nov 28 06:06:43 2026]
localrule snrna_umap:
    input: results/snrna/integrated.h5ad
    output: results/snrna/umap.tsv
    log: logs/snrna/umap.log
    jobid: 20
    benchmark: benchmarks/snrna/umap.tsv
    resources: tmpdir=/tmp, mem_mb=1023, mem_mib=976, runtime=1
"""


def test_requests_are_read_per_benchmark_file(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(RUN_LOG)
    assert benchlib.job_requests(log) == {
        "integrate.tsv": {"mem_mb": 4358.0, "runtime_min": 33.0},
        "umap.tsv": {"mem_mb": 1023.0, "runtime_min": 1.0},
    }


def test_true_peaks_and_cpu_times_come_from_each_jobs_own_log(tmp_path):
    from acc_tiam1.runner import CPU_MESSAGE, PEAK_MESSAGE

    log = tmp_path / "run.log"
    log.write_text(RUN_LOG)
    (tmp_path / "logs/snrna").mkdir(parents=True)
    (tmp_path / "logs/snrna/integrate.log").write_text(
        "merged\n" + CPU_MESSAGE % 160.84 + "\n" + PEAK_MESSAGE % 3868 + "\n"
    )
    # umap's log does not exist: nothing for it (Snakemake's sampled values are used instead)
    assert benchlib.job_peaks(log, tmp_path) == {"integrate.tsv": 3868.0}
    assert benchlib.job_cpu(log, tmp_path) == {"integrate.tsv": 160.8}


def test_request_check_gives_the_largest_share_used_per_rule():
    jobs = pd.DataFrame(
        {
            "rule": ["qc", "qc", "umap"],
            "s": [60.0, 30.0, 90.0],
            "max_rss": [500.0, 900.0, 512.0],
            "req_mem_mb": [1000.0, 1000.0, 1024.0],
            "req_runtime_min": [10.0, 10.0, 1.0],
        }
    )
    check = snrna_benchmark.request_check(jobs)
    assert check.loc["qc", "mem_use"] == pytest.approx(0.9)
    assert check.loc["qc", "time_use"] == pytest.approx(0.1)
    # 90 s against a 1-minute request: a cluster would have killed it.
    assert check.loc["umap", "time_use"] == pytest.approx(1.5)
    assert check.index[0] == "qc"  # sorted by memory share, largest first


def _fake_scontrol(folder: Path, seconds: float) -> None:
    script = folder / "scontrol"
    script.write_text(f"#!/bin/sh\nexec /bin/sleep {seconds}\n")
    script.chmod(0o755)


def test_a_slurm_client_without_controller_is_timed_and_warned_about(tmp_path, monkeypatch):
    _fake_scontrol(tmp_path, 1.2)
    monkeypatch.setenv("PATH", str(tmp_path))
    wait = benchlib.slurm_client_wait()
    assert 1.2 <= wait < 5
    line = benchlib.machine_line({**benchlib.machine_info(), "slurm_client_wait_s": wait})
    assert "WARNING" in line and f"{wait:g} s" in line


def test_the_slurm_client_wait_stops_at_its_timeout(tmp_path, monkeypatch):
    _fake_scontrol(tmp_path, 30)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert 0.5 <= benchlib.slurm_client_wait(timeout=0.5) < 5


def test_no_slurm_client_no_wait_and_no_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert benchlib.slurm_client_wait() is None
    info = benchlib.machine_info()
    assert info["slurm_client_wait_s"] is None
    assert "WARNING" not in benchlib.machine_line(info)
