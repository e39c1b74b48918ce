"""The workflow on a real SLURM cluster: every job goes through sbatch and completes,
and the results equal those of a local run."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import time

import pytest
import yaml
from conftest import (
    REPO,
    copy_workflow,
    planned_jobs,
    small_bulk_config,
    snakemake,
    write_config,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]


def slurm_unavailable() -> str | None:
    for tool in ("sbatch", "sinfo", "sacct"):
        if shutil.which(tool) is None:
            return f"{tool} not found (no SLURM client on this machine)"
    for cmd in (["sinfo", "-h"], ["sacct", "-n", "-X", "-S", "now"]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(cmd)}` timed out: no SLURM controller reachable"
        if proc.returncode != 0:
            return f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[:200]}"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed"
    return None


REASON = slurm_unavailable()


@pytest.mark.skipif(REASON is not None, reason=f"SLURM not reachable: {REASON}")
def test_bulk_branch_through_slurm_matches_local_run(tmp_path, bulk_demo_run):
    wf = copy_workflow(tmp_path / "wf")
    config = write_config(wf / "small.yaml", small_bulk_config())
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 2))
    proc = snakemake(
        wf,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--configfile",
        str(config),
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--jobs",
        "4",
    )
    jobs = planned_jobs(proc.stdout)
    jobs.pop("all")  # a local rule
    profile = yaml.safe_load((REPO / "profiles/slurm/profile.yaml").read_text())
    grouped = dict(entry.split("=") for entry in profile["groups"])
    # Every job of a rule outside the groups is one submission; the grouped ones (figures,
    # summary tables) go in one submission per group (group-components are large enough).
    expected = sum(n for rule, n in jobs.items() if rule not in grouped)
    expected += len({grouped[rule] for rule in jobs if rule in grouped})
    n_remote = proc.stdout.count("has been submitted with SLURM jobid")
    assert n_remote == expected < sum(jobs.values()), (n_remote, expected, jobs)

    acct = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", start, "--format=JobID,JobName,State"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    rows = [line.split("|") for line in acct if line]
    uuid = _run_uuid(proc.stdout)
    ours = [r for r in rows if r[1] == uuid]
    assert len(ours) == n_remote, (rows, n_remote)
    assert {r[2] for r in ours} == {"COMPLETED"}, ours

    local = bulk_demo_run / "results" / "bulk"
    remote = wf / "results" / "bulk"
    tables = sorted(p.relative_to(local) for p in local.rglob("*.tsv"))
    assert tables
    for rel in tables:
        assert filecmp.cmp(local / rel, remote / rel, shallow=False), f"{rel} differs"


def _run_uuid(text: str) -> str:
    import re

    match = re.search(r"SLURM run ID: ([0-9a-f-]{36})", text)
    assert match, "no SLURM run ID in Snakemake's output"
    return match.group(1)
