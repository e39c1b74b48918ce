"""Helpers shared by several test modules (simulated data, R availability).

Imported as ``from _helpers import ...``: pytest puts ``tests/`` on ``sys.path``. Test
modules never import each other.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def compare_module():
    """``perf/compare_deseq2_r.py`` (R's DESeq2 beside ours), loaded as a module."""
    spec = importlib.util.spec_from_file_location(
        "compare_deseq2_r", REPO / "perf" / "compare_deseq2_r.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def r_package_missing(package: str) -> str | None:
    """Why R's ``package`` cannot be used here, or None when it loads."""
    if shutil.which("Rscript") is None:
        return "Rscript is not on PATH"
    proc = subprocess.run(
        ["Rscript", "-e", f"suppressMessages(library({package}))"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        return f"R package {package} does not load: {proc.stderr.strip()[-300:]}"
    return None


def simulate_counts(groups: dict[str, list[str]], n_genes: int, seed: int, outliers: int = 0):
    """NB counts with DESeq2's mean-dispersion trend, planted DE and edge-case genes.

    Returns counts (genes x samples) and the sample sheet (columns of ``groups``).
    """
    rng = np.random.default_rng(seed)
    sheet = pd.DataFrame(groups)
    sheet.index = [f"s{i:02d}" for i in range(len(sheet))]
    m = len(sheet)
    base = np.exp(rng.normal(4.0, 2.0, n_genes))
    disp = (0.04 + 1.5 / base) * np.exp(rng.normal(0, 0.5, n_genes))
    lfc = np.zeros((n_genes, m))
    levels = sorted(sheet["condition"].unique())
    de_genes = rng.choice(n_genes, size=n_genes // 12, replace=False)
    for level in levels[1:]:
        effect = rng.normal(0, 1.2, de_genes.size)
        lfc[np.ix_(de_genes, (sheet["condition"] == level).to_numpy())] = effect[:, None]
    if "batch" in sheet:
        shift = rng.normal(0, 0.3, n_genes)
        lfc[:, (sheet["batch"] == "b2").to_numpy()] += shift[:, None]
    sf = np.exp(rng.normal(0, 0.25, m))
    mu = base[:, None] * np.exp2(lfc) * sf[None, :]
    counts = rng.negative_binomial(1 / disp[:, None], 1 / (1 + disp[:, None] * mu))
    other = (sheet["condition"] == levels[1]).to_numpy()
    # Zero in every reference sample, large in two others (R's optim path, LFC > 20).
    counts[0] = 0
    counts[0, np.flatnonzero(other)[:2]] = [180, 320]
    counts[1] = 0  # all zero: no test
    if len(levels) > 2:
        # Zero in the last two levels only, counts in the first.
        counts[2, :] = rng.poisson(3, m) + 1
        counts[2, sheet["condition"].isin(levels[-2:]).to_numpy()] = 0
    counts[3] = rng.poisson(2, m)  # Poisson-like, dispersion at the lower bound
    for k in range(outliers):
        g = 10 + k
        counts[g, rng.integers(m)] = int(counts[g].max() * 20 + 500)
    ids = [f"g{i:05d}" for i in range(n_genes)]
    return pd.DataFrame(counts, index=pd.Index(ids, name="gene_id"), columns=sheet.index), sheet


def design_matrix(n_per_group: int = 6, seed: int = 0) -> pd.DataFrame:
    """~ sex + batch + condition (4 levels, sham reference), balanced, as the demo."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(["sham", "pain", "pain_ketamine", "sham_ketamine"], n_per_group)
    n = groups.size
    sex = np.tile([0.0, 1.0], n // 2)
    batch = rng.permutation(np.tile([0.0, 1.0], n // 2))
    x = pd.DataFrame(
        {"Intercept": 1.0, "sex[T.M]": sex, "batch[T.b2]": batch},
        index=[f"S{i:02d}" for i in range(n)],
    )
    for level in ("pain", "pain_ketamine", "sham_ketamine"):
        x[f"condition[T.{level}]"] = (groups == level).astype(float)
    return x
