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


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):
    """Write a stand-in for the SLURM executor plugin that a new Python imports first."""

    def write(body: str) -> None:
        (tmp_path / "snakemake_executor_plugin_slurm.py").write_text(body)
        monkeypatch.setenv("PYTHONPATH", str(tmp_path))
        benchlib.slurm_plugin_seconds.cache_clear()

    yield write
    benchlib.slurm_plugin_seconds.cache_clear()


def test_a_slow_slurm_plugin_import_is_timed_and_warned_about(fake_plugin):
    # What the real plugin does where scontrol finds no controller, shortened.
    fake_plugin("import time\ntime.sleep(2.2)\n")
    info = benchlib.machine_info()
    assert 2.2 <= info["slurm_plugin_import_s"] < 6
    line = benchlib.machine_line(info)
    assert "WARNING" in line and f"{info['slurm_plugin_import_s']:g} s" in line


def test_a_quick_slurm_plugin_import_is_no_warning(fake_plugin):
    fake_plugin("")
    info = benchlib.machine_info()
    assert info["slurm_plugin_import_s"] < benchlib.SLOW_PLUGIN_S
    assert "WARNING" not in benchlib.machine_line(info)


def test_no_slurm_plugin_no_time_and_no_warning(fake_plugin):
    fake_plugin("raise ImportError('not installed')\n")
    info = benchlib.machine_info()
    assert info["slurm_plugin_import_s"] is None
    assert "WARNING" not in benchlib.machine_line(info)
