"""The glue between rule scripts and the library (acc_tiam1.runner)."""

import logging
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from acc_tiam1.errors import InputError
from acc_tiam1.runner import (
    cpu_time_s,
    logged_cpu_s,
    logged_peak_mb,
    peak_memory_mb,
    run_rule,
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_the_log_ends_with_the_jobs_peak_memory(tmp_path):
    log = tmp_path / "job.log"

    def main(smk):
        block = np.ones(40 * 2**20 // 8)  # 40 MB, touched
        logging.info("sum %d", block.sum())

    run_rule(main, SimpleNamespace(log=[str(log)]))
    lines = log.read_text().splitlines()
    assert "peak memory of this job" in lines[-1]
    logged = logged_peak_mb(log.read_text())
    assert logged >= 40 and abs(logged - peak_memory_mb()) < 5
    assert logged_peak_mb("no such line") is None


def test_the_log_gives_the_jobs_cpu_time_with_its_threads_and_children(tmp_path):
    import subprocess
    import time

    log = tmp_path / "job.log"
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"

    def main(smk):
        exec(burn)  # 0.4 s in this process
        subprocess.run([sys.executable, "-c", burn], check=True)  # and 0.4 s in a child

    start = cpu_time_s()
    t0 = time.process_time()
    run_rule(main, SimpleNamespace(log=[str(log)]))
    lines = log.read_text().splitlines()
    assert "CPU time of this job" in lines[-2] and "peak memory" in lines[-1]
    logged = logged_cpu_s(log.read_text())
    # the child's 0.4 s count as well as this process's (process_time sees only the latter)
    assert time.process_time() - t0 < 0.4 + 0.3
    assert start + 0.8 - 0.1 <= logged <= cpu_time_s() + 0.05
    assert logged_cpu_s("no such line") is None


def test_an_input_error_is_a_message_not_a_traceback(tmp_path):
    log = tmp_path / "job.log"

    def main(smk):
        raise InputError("counts.tsv: sample S1 is missing")

    with pytest.raises(SystemExit) as exit_:
        run_rule(main, SimpleNamespace(log=[str(log)]))
    assert exit_.value.code == 1
    text = log.read_text()
    assert "Invalid input: counts.tsv: sample S1 is missing" in text
    assert "Traceback" not in text and "peak memory" not in text


def test_a_profile_is_written_when_asked_for(tmp_path, monkeypatch):
    """ACC_TIAM1_PROFILE=<dir>: each job leaves <log name>.prof there (docs/benchmarks.md)."""
    import pstats

    def main(smk):
        sorted(range(10_000), key=lambda v: -v)

    monkeypatch.chdir(tmp_path)
    log = "logs/snrna/qc/S1.log"
    monkeypatch.delenv("ACC_TIAM1_PROFILE", raising=False)
    run_rule(main, SimpleNamespace(log=[log]))
    assert not (tmp_path / "profiles").exists()
    monkeypatch.setenv("ACC_TIAM1_PROFILE", "profiles")
    run_rule(main, SimpleNamespace(log=[log]))
    stats = pstats.Stats(str(tmp_path / "profiles/logs.snrna.qc.S1.prof"))
    assert any(name == "main" for _, _, name in stats.stats)
