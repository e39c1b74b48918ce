"""Pieces of Methods text shared by every branch: versions, DESeq2 settings, numbers and plurals."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from importlib import metadata

import numpy as np
import pandas as pd

#: Packages whose versions go into the report and the Methods paragraph.
ANALYSIS_PACKAGES = (
    "snakemake",
    "pydeseq2",
    "scanpy",
    "anndata",
    "gseapy",
    "harmonypy",
    "leidenalg",
    "igraph",
    "umap-learn",
    "scikit-learn",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "formulaic",
    "formulaic-contrasts",
    "statsmodels",
    "scikit-image",
    "pynndescent",
)


#: How the DESeq2 fits differ from plain PyDESeq2 (acc_tiam1.inference).
ENGINE_NOTE = (
    "with the workflow's gene-vectorised fitting routines, which follow R DESeq2's "
    "algorithmic choices where PyDESeq2 differs (dispersion line search, Cook's-distance "
    "outlier rule, independent-filtering threshold)"
)


def package_versions(names: Sequence[str] = ANALYSIS_PACKAGES) -> pd.DataFrame:
    """Installed version of each package (``not installed`` when absent), and Python's."""
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows)


def reference_levels(sheet: pd.DataFrame, formula: str, config: Mapping) -> dict[str, str]:
    """Reference level of each variable of ``formula``, chosen as the fits choose them.

    That is :func:`acc_tiam1.design.reference_levels` over all configured contrasts.
    """
    from .. import design

    variables = design.design_variables(formula)
    return design.reference_levels(sheet, variables, design.parse_contrasts(config["contrasts"]))


def _v(versions: pd.DataFrame, name: str) -> str:
    hit = versions.loc[versions["package"] == name, "version"]
    return hit.iloc[0] if len(hit) else "?"


def _cooks_text(de: Mapping) -> str:
    if de.get("cooks_filter", True):
        return (
            "p-values of genes with a Cook's distance above the 0.99 quantile of the "
            "F(p, m - p) distribution were set to NA"
        )
    return "Cook's distance filtering was switched off"


def _independent_text(de: Mapping) -> str:
    if de.get("independent_filter", True):
        return (
            "with independent filtering on the mean of normalised counts, optimised for "
            f"alpha = {de.get('alpha', 0.1)}"
        )
    return "without independent filtering"


def _shrink_text(de: Mapping) -> str:
    if not de.get("lfc_shrink", True):
        return ""
    return (
        "For contrasts that equal one model coefficient, log2 fold changes shrunk with an "
        "apeGLM-type heavy-tailed Cauchy prior (Zhu et al. 2019) are reported next to the "
        "maximum-likelihood estimates. "
    )


def _dispersion_text(de: Mapping) -> str:
    return (
        "Size factors were estimated by the median-of-ratios method, gene-wise dispersions "
        "by Cox-Reid adjusted maximum likelihood and shrunk towards a parametric "
        "mean-dispersion trend; counts of samples with Cook's-distance outliers were "
        f"replaced and refitted in groups of at least {de.get('min_replicates_for_replace', 7)} "
        "samples."
    )


def _refs_text(reference_levels: Mapping[str, str]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in reference_levels.items())


def _contrast_text(config: Mapping, name: str) -> str:
    """``name (variable target vs reference)`` of a configured contrast."""
    c = next((c for c in config["contrasts"] if c["name"] == name), None)
    return name if c is None else f"{name}: {c['variable']} {c['target']} vs {c['reference']}"


def _contrasts_text(config: Mapping) -> str:
    """Every configured contrast, ``; ``-separated."""
    return "; ".join(_contrast_text(config, c["name"]) for c in config["contrasts"])


def _n(x: float) -> str:
    """A count with thousands separators."""
    return f"{float(x):,.0f}"


def _plural(n: int, word: str) -> str:
    """``1 cell type``, ``2 cell types``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def _span(values, fmt: str = "{:,.0f}", unit: str = "") -> str:
    """``a-b`` range of the finite values (one value when they agree; ``none`` if empty)."""
    v = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").astype(float)
    v = v[np.isfinite(v)]
    if v.empty:
        return "none"
    lo, hi = fmt.format(v.min()), fmt.format(v.max())
    return f"{lo}{unit}" if lo == hi else f"{lo}\u2013{hi}{unit}"


def _filter_text(gf: Mapping, variables: str, where: str) -> str:
    if gf.get("method", "filterByExpr") == "none":
        return "Genes were not filtered before the fit (de.filter.method: none)"
    return (
        f"Genes were filtered {where} as edgeR's filterByExpr does (min.count "
        f"{gf.get('min_count', 10):g}, min.total.count {gf.get('min_total_count', 15):g}, "
        f"large.n {gf.get('large_n', 10)}, min.prop {gf.get('min_prop', 0.7):g}; groups: "
        f"the levels of {variables})"
    )
