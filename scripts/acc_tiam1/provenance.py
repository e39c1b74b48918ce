"""What a result needs to be reproduced and published: versions, settings, counts, Methods."""

from __future__ import annotations

import html
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata

import pandas as pd
import yaml

#: Packages whose versions go into the report and the Methods paragraph.
ANALYSIS_PACKAGES = (
    "snakemake", "pydeseq2", "scanpy", "anndata", "gseapy", "harmonypy", "leidenalg",
    "igraph", "umap-learn", "scikit-learn", "numpy", "scipy", "pandas", "matplotlib",
    "formulaic", "statsmodels",
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


def _v(versions: pd.DataFrame, name: str) -> str:
    hit = versions.loc[versions["package"] == name, "version"]
    return hit.iloc[0] if len(hit) else "?"


def bulk_methods(
    config: Mapping,
    versions: pd.DataFrame,
    n_samples: int,
    n_genes: int,
    reference_levels: Mapping[str, str],
    n_outliers: int,
) -> str:
    """Methods paragraph of the bulk branch, from the settings actually used.

    Parameters
    ----------
    config
        The validated config.
    versions
        Output of :func:`package_versions`.
    n_samples, n_genes
        Size of the analysed matrix.
    reference_levels
        Reference level of each design variable.
    n_outliers
        Samples flagged by QC (kept in the analysis).
    """
    de = config["de"]
    qc = config["bulk_qc"]
    refs = ", ".join(f"{k} = {v}" for k, v in reference_levels.items())
    contrasts = "; ".join(
        f"{c['name']} ({c['variable']} {c['target']} vs {c['reference']})"
        for c in config["contrasts"]
    )
    cooks = (
        "p-values of genes with a Cook's distance above the 0.99 quantile of the "
        "F(p, m - p) distribution were set to NA"
        if de["cooks_filter"] else "Cook's distance filtering was switched off"
    )
    independent = (
        f"with independent filtering on the mean of normalised counts, optimised for "
        f"alpha = {de['alpha']}" if de["independent_filter"] else "without independent filtering"
    )
    shrink = (
        "For contrasts that equal one model coefficient, log2 fold changes shrunk with an "
        "apeGLM-type heavy-tailed Cauchy prior (Zhu et al. 2019) are reported next to the "
        "maximum-likelihood estimates. " if de["lfc_shrink"] else ""
    )
    return (
        f"Bulk RNA-seq counts of {n_samples} samples and {n_genes} genes were analysed with "
        f"the ACC Tiam1 Snakemake workflow (Snakemake {_v(versions, 'snakemake')}, Python "
        f"{_v(versions, 'python')}). Differential expression was tested with PyDESeq2 "
        f"{_v(versions, 'pydeseq2')} (Muzellec et al. 2023), a Python implementation of "
        f"DESeq2 (Love et al. 2014), using the design {config['bulk']['design'].strip()} "
        f"with reference levels {refs}. Size factors were estimated by the median-of-ratios "
        "method, gene-wise dispersions by Cox-Reid adjusted maximum likelihood and shrunk "
        "towards a parametric mean-dispersion trend; counts of samples with Cook's-distance "
        f"outliers were replaced and refitted in groups of at least "
        f"{de['min_replicates_for_replace']} samples. Contrasts ({contrasts}) were tested "
        f"with Wald tests from one fit; {cooks}. P-values were adjusted by the "
        f"Benjamini-Hochberg procedure {independent}. {shrink}For quality control, counts "
        "were transformed by DESeq2's blind variance-stabilising transformation; principal "
        f"components and Euclidean sample distances were computed on the "
        f"{qc['top_variable_genes']} most variable genes, and samples more than "
        f"{qc['outlier_mad']} median absolute deviations from the median library size, "
        f"number of detected genes or median distance to the other samples were flagged "
        f"({n_outliers} flagged; none were removed by the workflow). All random steps used "
        f"seed {config['seed']}."
    )


def provenance_page(
    title: str,
    methods: Sequence[str],
    versions: pd.DataFrame,
    config: Mapping,
    counts: pd.DataFrame,
) -> str:
    """HTML page for the report: Methods paragraphs, sample counts, versions, config.

    Parameters
    ----------
    title
        Page heading.
    methods
        Paragraphs of the Methods text.
    versions
        Output of :func:`package_versions`.
    config
        The config used, shown verbatim as YAML.
    counts
        Table of the number of samples/genes (or nuclei) at each step.
    """
    style = (
        "body{font-family:system-ui,sans-serif;margin:16px;max-width:980px;color:#222}"
        "h1{font-size:18px}h2{font-size:15px;margin-top:20px}"
        "p.methods{line-height:1.5;background:#f7f7f2;padding:10px;border-left:3px solid #999}"
        "table{border-collapse:collapse;font-size:13px}"
        "td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}"
        "pre{background:#f4f4f4;padding:10px;font-size:12px;overflow:auto}"
    )
    paras = "".join(f"<p class='methods'>{html.escape(p)}</p>" for p in methods)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<h2>Methods (to paste into a paper; check it against your own design)</h2>"
        f"{paras}<h2>Samples and features at each step</h2>"
        f"{counts.to_html(index=False, border=0, escape=True)}"
        f"<h2>Software versions</h2>{versions.to_html(index=False, border=0, escape=True)}"
        "<h2>Configuration used (analysis settings; plot options not shown)</h2>"
        f"<pre>{html.escape(yaml.safe_dump(dict(config), sort_keys=False))}</pre>"
        "</body></html>"
    )
