"""Methods paragraph and step counts of the bulk branch."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ._text import (
    ENGINE_NOTE,
    _contrasts_text,
    _cooks_text,
    _dispersion_text,
    _filter_text,
    _independent_text,
    _n,
    _shrink_text,
    _v,
)


def bulk_methods(
    config: Mapping,
    versions: pd.DataFrame,
    n_samples: int,
    n_genes: int,
    reference_levels: Mapping[str, str],
    n_outliers: int,
    gene_filter: Mapping | None = None,
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
    gene_filter
        What the gene filter did (``results/bulk/de/gene_filter.tsv``: ``genes_in``,
        ``genes_removed``), or None.
    """
    de = config["de"]
    qc = config["bulk_qc"]
    refs = ", ".join(f"{k} = {v}" for k, v in reference_levels.items())
    contrasts = _contrasts_text(config)
    cooks, independent, shrink = _cooks_text(de), _independent_text(de), _shrink_text(de)
    variables = ", ".join(dict.fromkeys(c["variable"] for c in config["contrasts"]))
    filtered = _filter_text(de.get("filter", {}), variables, "before the fit")
    if gene_filter is not None and de.get("filter", {}).get("method", "filterByExpr") != "none":
        filtered += (
            f": {_n(gene_filter['genes_removed'])} of {_n(gene_filter['genes_in'])} genes removed"
        )
    return (
        f"Bulk RNA-seq counts of {n_samples} samples and {_n(n_genes)} genes were analysed with "
        f"the ACC Tiam1 Snakemake workflow (Snakemake {_v(versions, 'snakemake')}, Python "
        f"{_v(versions, 'python')}). Differential expression was tested with PyDESeq2 "
        f"{_v(versions, 'pydeseq2')} (Muzellec et al. 2023), a Python implementation of "
        f"DESeq2 (Love et al. 2014), {ENGINE_NOTE}, using the design "
        f"{config['bulk']['design'].strip()} with reference levels {refs}. "
        f"{filtered}. {_dispersion_text(de)} Contrasts ({contrasts}) were tested with Wald "
        f"tests from one fit; {cooks}. P-values were adjusted by the "
        f"Benjamini-Hochberg procedure {independent}. {shrink}For quality control, counts "
        "were transformed by DESeq2's blind variance-stabilising transformation; principal "
        f"components and Euclidean sample distances were computed on the "
        f"{qc['top_variable_genes']} most variable genes, and samples more than "
        f"{qc['outlier_mad']} median absolute deviations from the median library size, "
        f"number of detected genes or median distance to the other samples were flagged "
        f"({n_outliers} flagged; none were removed by the workflow). All random steps used "
        f"seed {config['seed']}."
    )


def bulk_counts(sheet: pd.DataFrame, qc: pd.DataFrame, summary: pd.DataFrame) -> list[dict]:
    """Samples and genes at each step of the bulk branch.

    Parameters
    ----------
    sheet, qc, summary
        The bulk sample sheet, ``sample_qc.tsv`` (one row per analysed sample, boolean
        ``outlier``) and the DE ``summary.tsv`` (``contrast``, ``genes_tested``).
    """
    rows = [
        {"step": "bulk: samples in the sheet", "n": len(sheet)},
        {"step": "bulk: samples analysed", "n": len(qc)},
        {"step": "bulk: samples flagged as outliers (kept)", "n": int(qc["outlier"].sum())},
    ]
    rows += [
        {"step": f"bulk: genes tested, {r.contrast}", "n": int(r.genes_tested)}
        for r in summary.itertuples()
    ]
    return rows
