"""Project hygiene: CI runs the README's commands, lint is clean, pins agree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO


def readme_commands():
    block = re.search(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_run_and_test_commands():
    run, test = readme_commands()[:2]
    assert "snakemake" in run and "--report" in run and "bootstrap.sh" in run
    assert "pytest" in test and "bootstrap.sh" in test


def test_ci_runs_the_readme_test_command():
    test = readme_commands()[1]
    assert test in (REPO / ".ci" / "run").read_text()


def test_conda_env_pins_match_constraints():
    pins = dict(
        line.strip().split("==")
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    lower = {k.lower(): v for k, v in pins.items()}
    env = yaml.safe_load((REPO / "workflow" / "envs" / "analysis.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    for spec in pip:
        name, version = spec.split("==")
        pinned = lower.get(name.lower())
        assert pinned == version, f"{name}: env {version}, constraints.txt {pinned}"


def test_snakemake_lint_is_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--lint", "--cores", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out, out[-4000:]


SNAKEFMT = shutil.which("snakefmt", path=str(Path(sys.executable).parent)) or shutil.which(
    "snakefmt"
)


@pytest.mark.skipif(SNAKEFMT is None, reason="snakefmt is not installed")
def test_snakefmt_clean():
    exe = SNAKEFMT
    proc = subprocess.run(
        [exe, "--check", "Snakefile", "workflow/rules"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


PYTHON_TREES = ("scripts", "tests", "perf", "tools")


def test_ruff_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", *PYTHON_TREES],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *PYTHON_TREES],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_library_modules_fit_in_a_head():
    """No library module over 600 lines: a stage that grows gets split into modules."""
    sizes = {
        str(p.relative_to(REPO)): len(p.read_text().splitlines())
        for p in (REPO / "scripts" / "acc_tiam1").rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > 600} == {}
