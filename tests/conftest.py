"""Shared fixtures: a fresh copy of the workflow in a temporary folder, and a runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
#: What a copy of the workflow needs; results and caches stay behind.
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".snakemake",
    "results",
    "resources",
    "logs",
    "benchmarks",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
    "docs",
)


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (code, config, shipped data) to ``dest``, as a user's clone."""
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1800, cores: int = 2):
    """Run Snakemake from the test interpreter's environment in ``workdir``.

    Returns the CompletedProcess, stdout and stderr merged into ``.stdout``.
    """
    cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-6000:]}")
    return proc


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    """A fresh copy of the workflow to run in."""
    return copy_workflow(tmp_path / "wf")


@pytest.fixture(scope="session")
def bulk_demo_run(tmp_path_factory) -> Path:
    """The bulk branch of a small demo study, run once per test session, with its report."""
    wf = copy_workflow(tmp_path_factory.mktemp("bulk_demo") / "wf")
    config = write_config(wf / "small.yaml", small_bulk_config())
    snakemake(
        wf, "--configfile", str(config), "--report-after-run", "--report", "results/report.html"
    )
    return wf


def small_bulk_config() -> dict:
    """The demo config, smaller: fewer genes, same design and contrasts."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["demo"]["bulk_genes"] = 3000
    config.pop("snrna", None)
    return config


def planned_jobs(text: str) -> dict[str, int]:
    """Rule names and job counts from the job-stats table of a Snakemake dry run."""
    jobs, on = {}, False
    for line in text.splitlines():
        if line.startswith("job ") and "count" in line:
            on = True
            continue
        if on:
            parts = line.split()
            if not parts or parts[0] == "total":
                break
            if parts[0].startswith("-"):
                continue
            jobs[parts[0]] = int(parts[1])
    return jobs
