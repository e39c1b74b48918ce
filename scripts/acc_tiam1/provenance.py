"""What a result needs to be reproduced and published: versions, settings, counts, Methods."""

from __future__ import annotations

import html
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

#: Packages whose versions go into the report and the Methods paragraph.
ANALYSIS_PACKAGES = (
    "snakemake", "pydeseq2", "scanpy", "anndata", "gseapy", "harmonypy", "leidenalg",
    "igraph", "umap-learn", "scikit-learn", "numpy", "scipy", "pandas", "matplotlib",
    "formulaic", "formulaic-contrasts", "statsmodels", "scikit-image", "pynndescent",
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
    """Reference level of each variable of ``formula``, chosen as the fits choose them
    (:func:`acc_tiam1.design.reference_levels` over all configured contrasts)."""
    from . import design

    variables = design.design_variables(formula)
    return design.reference_levels(sheet, variables, design.parse_contrasts(config["contrasts"]))


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
    contrasts = _contrasts_text(config)
    cooks, independent, shrink = _cooks_text(de), _independent_text(de), _shrink_text(de)
    return (
        f"Bulk RNA-seq counts of {n_samples} samples and {_n(n_genes)} genes were analysed with "
        f"the ACC Tiam1 Snakemake workflow (Snakemake {_v(versions, 'snakemake')}, Python "
        f"{_v(versions, 'python')}). Differential expression was tested with PyDESeq2 "
        f"{_v(versions, 'pydeseq2')} (Muzellec et al. 2023), a Python implementation of "
        f"DESeq2 (Love et al. 2014), {ENGINE_NOTE}, using the design "
        f"{config['bulk']['design'].strip()} with reference levels {refs}. "
        f"{_dispersion_text(de)} Contrasts ({contrasts}) were tested with Wald tests from "
        f"one fit; {cooks}. P-values were adjusted by the "
        f"Benjamini-Hochberg procedure {independent}. {shrink}For quality control, counts "
        "were transformed by DESeq2's blind variance-stabilising transformation; principal "
        f"components and Euclidean sample distances were computed on the "
        f"{qc['top_variable_genes']} most variable genes, and samples more than "
        f"{qc['outlier_mad']} median absolute deviations from the median library size, "
        f"number of detected genes or median distance to the other samples were flagged "
        f"({n_outliers} flagged; none were removed by the workflow). All random steps used "
        f"seed {config['seed']}."
    )



# --------------------------------------------------------------------------------------
# shared phrases


def _cooks_text(de: Mapping) -> str:
    if de.get("cooks_filter", True):
        return ("p-values of genes with a Cook's distance above the 0.99 quantile of the "
                "F(p, m - p) distribution were set to NA")
    return "Cook's distance filtering was switched off"


def _independent_text(de: Mapping) -> str:
    if de.get("independent_filter", True):
        return ("with independent filtering on the mean of normalised counts, optimised for "
                f"alpha = {de.get('alpha', 0.1)}")
    return "without independent filtering"


def _shrink_text(de: Mapping) -> str:
    if not de.get("lfc_shrink", True):
        return ""
    return ("For contrasts that equal one model coefficient, log2 fold changes shrunk with an "
            "apeGLM-type heavy-tailed Cauchy prior (Zhu et al. 2019) are reported next to the "
            "maximum-likelihood estimates. ")


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


# --------------------------------------------------------------------------------------
# single-nucleus branch

#: Per-nucleus QC filters: (column of filter_summary.tsv, words used in the text).
QC_FILTERS = (
    ("low_counts", "low UMI count"),
    ("high_counts", "high UMI count"),
    ("low_genes", "few detected genes"),
    ("high_genes", "many detected genes"),
    ("high_mito", "high mitochondrial fraction"),
)


def _bounds_text(label: str, qc: Mapping, filters: pd.DataFrame, low: str, high: str) -> str:
    """How one metric (UMIs or genes) was bounded: fixed limits or per-sample MAD limits."""
    fixed = {side: qc.get(key) for side, key in (("below", low), ("above", high))}
    parts = [f"{side} {value:g} (fixed)" for side, value in fixed.items() if value is not None]
    auto = [(side, key) for side, key in (("below", low), ("above", high))
            if fixed[side] is None]
    if auto:
        sides = " or ".join(side for side, _ in auto)
        limits = "; ".join(
            f"per-sample {'lower' if side == 'below' else 'upper'} limits "
            f"{_span(filters.get(f'threshold_{key}', []))}" for side, key in auto
        )
        parts.append(
            f"more than {qc.get('n_mads', 5):g} MADs {sides} the sample's median on the "
            f"log(1 + x) scale ({limits})"
        )
    return f"{label} " + " or ".join(parts)


def _mito_text(qc: Mapping, filters: pd.DataFrame) -> str:
    if qc.get("max_pct_mito") is not None:
        return (f"more than {qc['max_pct_mito']:g}% of its UMIs from mitochondrial genes "
                "(symbols starting with mt-)")
    limits = _span(filters.get("threshold_max_pct_mito", []), "{:.2f}", "%")
    return (
        "a percentage of UMIs from mitochondrial genes (symbols starting with mt-) above the "
        f"sample's median + {qc.get('mito_n_mads', 3):g} MADs, the limit being kept within "
        f"{qc.get('mito_pct_floor', 1.0):g}\u2013{qc.get('mito_pct_cap', 5.0):g}% "
        f"(per-sample limits {limits})"
    )


def _doublet_text(qc: Mapping, filters: pd.DataFrame, versions: pd.DataFrame, seed: int) -> str:
    if not qc.get("doublets", True):
        return "Doublet detection was switched off. "
    scores = pd.to_numeric(filters.get("threshold_doublet_score", pd.Series(dtype=float)),
                           errors="coerce")
    if qc.get("doublet_threshold") is not None:
        threshold = f"doublet-score threshold {qc['doublet_threshold']:g}"
    else:
        threshold = (
            "score threshold found automatically in each sample's simulated-doublet score "
            f"histogram with scikit-image {_v(versions, 'scikit-image')}, per-sample "
            f"thresholds {_span(scores, '{:.3f}')}"
        )
    none = int(scores.isna().sum())
    missing = (
        f" In {none} sample(s) no threshold was found (or fewer than 100 nuclei passed), and "
        "no doublet was called there." if none else ""
    )
    return (
        "Doublets were then called per sample among the nuclei that passed these filters "
        f"with Scrublet (Wolock et al. 2019) as implemented in scanpy (sc.pp.scrublet; scanpy "
        f"{_v(versions, 'scanpy')}; expected doublet rate "
        f"{qc.get('expected_doublet_rate', 0.05):g}, "
        f"{threshold}, on at most the 3,000 most variable genes of the sample, random state "
        f"{seed}) and removed.{missing} "
    )


def snrna_qc_methods(qc: Mapping, filters: pd.DataFrame, versions: pd.DataFrame, seed: int) -> str:
    """Methods paragraph of the per-sample nucleus QC and doublet removal.

    Parameters
    ----------
    qc
        The ``snrna.qc`` config section (keys left out take the workflow's defaults).
    filters
        ``results/snrna/qc/filter_summary.tsv``: one row per sample with ``nuclei_in``,
        the nuclei failing each filter (:data:`QC_FILTERS`), ``failed_qc``, ``doublets``,
        ``nuclei_kept`` and the ``threshold_*`` used.
    versions
        Output of :func:`package_versions`.
    seed
        The config's seed.
    """
    n_in, kept = int(filters["nuclei_in"].sum()), int(filters["nuclei_kept"].sum())
    removed = ", ".join(f"{words} {_n(filters[col].sum())}" for col, words in QC_FILTERS)
    return (
        f"Single-nucleus count matrices of {len(filters)} animals ({_n(n_in)} nuclei in the "
        "input matrices) were analysed with the ACC Tiam1 Snakemake workflow (Snakemake "
        f"{_v(versions, 'snakemake')}, Python {_v(versions, 'python')}) using scanpy "
        f"{_v(versions, 'scanpy')} (Wolf et al. 2018) and anndata {_v(versions, 'anndata')}. "
        "Nuclei were "
        "filtered per sample (animal), with thresholds set from that sample's own "
        "distribution unless fixed in the configuration; median absolute deviations (MADs) "
        "were scaled by 1.4826. A nucleus was removed for "
        f"{_bounds_text('a UMI count', qc, filters, 'min_counts', 'max_counts')}; for "
        f"{_bounds_text('a number of detected genes', qc, filters, 'min_genes', 'max_genes')}; "
        f"or for {_mito_text(qc, filters)}. {_doublet_text(qc, filters, versions, seed)}"
        f"In total {_n(filters['failed_qc'].sum())} nuclei failed at least one QC filter "
        f"({removed}; a nucleus can fail several) and {_n(filters['doublets'].sum())} were "
        f"removed as doublets, leaving {_n(kept)} nuclei ({100 * kept / max(n_in, 1):.1f}%; "
        f"{_span(filters['nuclei_kept'])} per animal)."
    )


def read_integration_info(path: str | Path) -> dict:
    """What rule snrna_integrate did, from the small JSON it writes next to its .h5ad.

    Returns
    -------
    ``{"n_nuclei", "n_genes", "batches", "harmony", "n_hvgs", "n_pcs", "neighbors"}``
    (see :func:`acc_tiam1.snrna.integrate`); ``harmony`` is false when Harmony was off or
    had too few nuclei to run; ``neighbors`` is the kNN search used.
    """
    import json

    info = json.loads(Path(path).read_text())
    return {
        "n_nuclei": int(info["n_nuclei"]), "n_genes": int(info["n_genes"]),
        "batches": int(info["batches"]), "harmony": bool(info["harmony"]),
        "n_hvgs": int(info["n_hvgs"]), "n_pcs": int(info["n_pcs"]),
        "neighbors": str(info["neighbors"]),
    }


def _integration_text(integration: Mapping, info: Mapping, versions: pd.DataFrame,
                      seed: int) -> str:
    batch_key = integration.get("batch_key", "batch")
    batches = info["batches"]
    hvg_batches = (f"; selected within each of the {batches} batches of sample-sheet column "
                   f"'{batch_key}' and ranked by the number of batches in which they were "
                   "variable" if batches > 1 else "")
    harmony = (
        f"Principal components were corrected for batch (column '{batch_key}', {batches} "
        "levels) with "
        f"Harmony (Korsunsky et al. 2019), with the algorithm and default parameters of "
        f"harmonypy {_v(versions, 'harmonypy')} (theta 1, lambda 1, sigma 0.1, min(nuclei / "
        f"30, 100) clusters, at most 10 iterations; random state {seed}). "
        if info["harmony"] else
        "No batch integration was applied"
        + (" (snrna.integration.harmony: false). " if batches > 1
           and integration.get("harmony") is False else
           " (too few nuclei for Harmony's clustering). " if batches > 1 else
           f" (one batch in {batch_key or 'the data'}). ")
    )
    on = "Harmony-corrected components" if info["harmony"] else "principal components"
    search = (
        f"exact Euclidean search, scikit-learn {_v(versions, 'scikit-learn')}"
        if info.get("neighbors", "exact") == "exact" else
        f"approximate Euclidean search with pynndescent {_v(versions, 'pynndescent')}, "
        f"random state {seed}, one thread"
    )
    return (
        f"Nuclei of all samples were merged ({_n(info['n_nuclei'])} nuclei, "
        f"{_n(info['n_genes'])} genes present in every sample); counts were scaled to "
        "10,000 per nucleus and log1p-transformed. The "
        f"{_n(info['n_hvgs'])} most highly variable genes (Seurat flavour{hvg_batches}) were "
        f"scaled to unit variance (clipped at 10) and reduced to {info['n_pcs']} principal "
        f"components (ARPACK, random state {seed}). {harmony}A "
        f"{integration.get('n_neighbors', 15)}-nearest-neighbour graph was built on the "
        f"{on} ({search}) and "
        f"embedded for display with UMAP (umap-learn {_v(versions, 'umap-learn')}, min_dist "
        f"{integration.get('umap_min_dist', 0.5):g}, random state {seed}). "
    )


def _annotation_text(annotation: Mapping, markers: pd.DataFrame, markers_path: str,
                     clusters: pd.DataFrame, versions: pd.DataFrame, seed: int) -> str:
    unassigned = clusters[clusters["cell_type"].astype(str) == "Unassigned"]
    n_markers = len({g for genes in markers["markers"] for g in genes})
    return (
        "Nuclei were clustered with the Leiden algorithm (igraph "
        f"{_v(versions, 'igraph')} implementation, resolution "
        f"{annotation.get('resolution', 1.0):g}, 2 iterations, random state {seed}), giving "
        f"{len(clusters)} clusters. Clusters were annotated with the marker table "
        f"{markers_path} ({len(markers)} cell types, {n_markers} marker genes): a nucleus' "
        "score for a cell type was the mean z-score of the log-normalised expression of "
        "that type's markers (each marker standardised over all nuclei and clipped at "
        "\u00b110), and a cluster received the cell type with the highest mean score in it if "
        f"that mean was at least {annotation.get('min_score', 0.5):g} and at least "
        f"{100 * annotation.get('min_fraction', 0.3):g}% of the cluster's nuclei scored "
        "highest for that type themselves; otherwise the cluster was labelled Unassigned "
        f"({len(unassigned)} of {len(clusters)} clusters, {_n(unassigned['n_nuclei'].sum())} "
        "nuclei). "
        "Unassigned nuclei were left out of the composition and pseudobulk analyses. "
    )


def _composition_text(composition: Mapping, design: str) -> str:
    return (
        "Changes in cell-type composition were tested with the animal as the unit: the "
        "nuclei counts of each animal in every annotated cell type with nuclei (plus a "
        "pseudocount of "
        f"{composition.get('pseudocount', 0.5):g}) were transformed to centred log-ratios "
        "(CLR), each cell type's CLR was fitted by ordinary least squares on the design "
        f"{design.strip()}, each contrast was tested with a t-test on the residual degrees "
        "of freedom, and p-values were adjusted by the Benjamini-Hochberg procedure across "
        "cell types within each contrast."
    )


def snrna_clustering_methods(
    snrna: Mapping,
    info: Mapping,
    markers: pd.DataFrame,
    clusters: pd.DataFrame,
    versions: pd.DataFrame,
    seed: int,
) -> str:
    """Methods paragraph of normalisation, integration, clustering, annotation, composition.

    Parameters
    ----------
    snrna
        The ``snrna`` config section.
    info
        Output of :func:`read_integration_info`.
    markers
        The marker table (:func:`acc_tiam1.io.read_markers`).
    clusters
        ``results/snrna/annotation/clusters.tsv`` (columns ``n_nuclei``, ``cell_type``).
    versions
        Output of :func:`package_versions`.
    seed
        The config's seed.
    """
    return (
        _integration_text(snrna.get("integration", {}), info, versions, seed)
        + _annotation_text(snrna.get("annotation", {}),
                           markers, snrna.get("markers", "config/markers/acc_markers.tsv"),
                           clusters, versions, seed)
        + _composition_text(snrna.get("composition", {}), snrna["design"])
    )


def skip_reasons(plan: pd.DataFrame) -> pd.Series:
    """Skipped cell type x contrast combinations per kind of reason (plan.tsv ``reason``)."""
    reasons = plan.loc[plan["status"] != "tested", "reason"].fillna("").astype(str)
    kinds = [
        "too few genes pass the expression filter" if r.startswith("only ") else
        r.split(":")[0] for r in reasons
    ]
    return pd.Series(kinds, dtype=object).value_counts(sort=True)


def _skipped_text(plan: pd.DataFrame) -> str:
    kinds = skip_reasons(plan)
    if kinds.empty:
        return ""
    listed = "; ".join(f"{kind}: {n}" for kind, n in kinds.items())
    return f"; {int(kinds.sum())} were skipped ({listed})"


def snrna_pseudobulk_methods(
    config: Mapping,
    versions: pd.DataFrame,
    samples: pd.DataFrame,
    plan: pd.DataFrame,
    reference_levels: Mapping[str, str],
) -> str:
    """Methods paragraph of the pseudobulk differential expression.

    Parameters
    ----------
    config
        The validated config (``snrna``, ``de``, ``contrasts``; with ``bulk`` present the
        DESeq2 settings are referred to the bulk paragraph).
    versions
        Output of :func:`package_versions`.
    samples
        ``results/snrna/pseudobulk/samples.tsv`` (one row per animal x cell type:
        ``cell_type``, ``n_nuclei``, ``kept``).
    plan
        ``results/snrna/pseudobulk/plan.tsv`` (one row per cell type x contrast:
        ``status``, ``n_genes``).
    reference_levels
        Reference level of each variable of the snRNA design.
    """
    snrna, de = config["snrna"], config["de"]
    pb = snrna.get("pseudobulk", {})
    kept = samples["kept"].astype(str).str.lower() == "true"
    tested = plan[plan["status"] == "tested"]
    variables = ", ".join(dict.fromkeys(c["variable"] for c in config["contrasts"]))
    if config.get("bulk"):
        engine = (" with the same DESeq2 implementation and settings as the bulk data "
                  f"(PyDESeq2 {_v(versions, 'pydeseq2')})")
        settings = ""
    else:
        engine = (f" with PyDESeq2 {_v(versions, 'pydeseq2')} (Muzellec et al. 2023), a "
                  f"Python implementation of DESeq2 (Love et al. 2014), {ENGINE_NOTE},")
        settings = f"{_dispersion_text(de)} "
        settings += f"In each test, {_cooks_text(de)}. "
    return (
        "For differential expression, raw UMI counts were summed per animal and cell type "
        "(pseudobulk, scanpy's sc.get.aggregate), so that the animal is the unit of "
        "replication. Pseudobulk samples with fewer than "
        f"{pb.get('min_nuclei', 10)} nuclei or fewer than {_n(pb.get('min_counts', 1000))} "
        f"UMIs were dropped ({_n((~kept).sum())} of {_n(len(samples))} animal \u00d7 cell type "
        "samples). Genes were filtered per "
        "cell type as edgeR's filterByExpr does (min.count "
        f"{pb.get('min_count', 10):g}, min.total.count {pb.get('min_total_count', 15):g}, "
        f"large.n {pb.get('large_n', 10)}, min.prop {pb.get('min_prop', 0.7):g}; groups: "
        f"the levels of {variables}), and cell types with fewer than "
        f"{pb.get('min_genes', 50)} genes left were not tested. A cell type was tested in a "
        f"contrast when both groups kept at least {de.get('min_group_size', 2)} animals and "
        "the design was of full rank on the kept samples: "
        f"{len(tested)} of {len(plan)} cell type \u00d7 contrast combinations "
        f"({_plural(tested['cell_type'].nunique(), 'cell type')}: "
        f"{', '.join(pd.unique(tested['cell_type'].astype(str)))}; {_span(tested['n_genes'])} "
        f"genes each) were tested{_skipped_text(plan)}. Each tested cell type was fitted separately"
        f"{engine} with the design {snrna['design'].strip()} and reference levels "
        f"{_refs_text(reference_levels)}. {settings}Contrasts ({_contrasts_text(config)}) "
        "were tested with Wald tests, "
        "and p-values were adjusted by the Benjamini-Hochberg procedure within each cell "
        f"type \u00d7 contrast {_independent_text(de)}. {_shrink_text(de)}".rstrip()
    )


# --------------------------------------------------------------------------------------
# enrichment and rescue


def _tables_text(tables: Sequence[tuple[str, str]]) -> str:
    """'10 DE tables (2 bulk; 8 snRNA pseudobulk, from 4 cell types)' from (dataset, contrast)."""
    bulk = [t for t in tables if t[0] == "bulk"]
    cells = [t for t in tables if t[0] != "bulk"]
    parts = []
    if bulk:
        parts.append(f"{len(bulk)} bulk")
    if cells:
        n_types = len({d for d, _ in cells})
        parts.append(f"{len(cells)} snRNA pseudobulk, from {_plural(n_types, 'cell type')}")
    return f"{len(tables)} DE tables ({'; '.join(parts) or 'none'})"


def enrichment_methods(
    config: Mapping,
    versions: pd.DataFrame,
    gene_sets: Mapping[str, int],
    tables: Sequence[tuple[str, str]],
) -> str:
    """Methods paragraph of GSEA (preranked) and over-representation analysis.

    Parameters
    ----------
    config
        The validated config (``enrichment``, ``seed``).
    versions
        Output of :func:`package_versions`.
    gene_sets
        ``{GMT file: number of sets}`` of every file under ``genesets:``.
    tables
        ``(dataset, contrast)`` of every DE table analysed (``bulk`` or ``snrna/<type>``).
    """
    e = config["enrichment"]
    ora = e.get("ora", {})
    files = "; ".join(f"{path} ({n} sets)" for path, n in gene_sets.items())
    perm = e.get("permutations", 1000)
    lfc = ora.get("lfc_threshold", 0.0)
    called = f"padj < {ora.get('padj', 0.05):g}" + (
        f" and |log2 fold change| >= {lfc:g} (unshrunk)" if lfc else "")
    size = f"{e.get('min_size', 5)} to {e.get('max_size', 500)}"
    return (
        f"Gene-set enrichment was tested in each of the {_tables_text(tables)} with gene sets "
        f"from {files}. Preranked GSEA (Subramanian et al. 2005) followed the prerank "
        f"algorithm of gseapy {_v(versions, 'gseapy')} (Fang et al. 2023), re-implemented "
        "with numpy: genes were ranked by the DESeq2 Wald statistic (genes without one "
        "removed; of genes sharing a symbol, the one with the largest absolute statistic "
        f"kept), with running-sum weights |statistic|^{e.get('weight', 1.0):g}, and a set was "
        f"tested when {size} of its genes were in the ranking. Null enrichment scores came "
        f"from {_n(perm)} random permutations of the gene ranking (gseapy's gene_set "
        f"permutation type), shared by all sets and seeded ({config['seed']}). Normalised "
        "enrichment scores (NES) were the enrichment score divided by the mean of the "
        "same-sign null scores, nominal p-values the fraction of same-sign null scores at "
        "least as extreme, and FDR q-values were computed as gseapy computes them, from the "
        "null NES of all sets of the same gene-set file pooled (no monotone adjustment); a "
        f"p-value or FDR of 0 means below 1/{_n(perm)}. Sets with FDR < {e.get('fdr', 0.05):g} "
        "were called enriched. Over-representation of up- and of down-regulated genes "
        f"({called}) was tested separately with gseapy.enrich (hypergeometric test), "
        "offline, against a background of every gene with an adjusted p-value in that DE "
        f"table; sets were restricted to the background and tested when {size} of their "
        "genes were in it, and p-values were adjusted by the Benjamini-Hochberg procedure "
        "per gene-set file and direction over all tested sets."
    )


def _interaction_text(config: Mapping, rescue: Mapping) -> str:
    if not rescue.get("interaction_design"):
        return ""
    levels = rescue.get("interaction_levels") or {}
    refs = ", ".join(f"{var} = {pair[1]}" for var, pair in levels.items())
    coefficient = rescue["interaction_coefficient"]
    terms = [part.split("[")[0] for part in coefficient.split(":")]
    meaning = ""
    if len(terms) == 2 and all(t in levels for t in terms):
        (outer, (o_t, o_r)), (inner, (i_t, i_r)) = [(t, levels[t]) for t in terms]
        meaning = (f" (the effect of {inner} {i_t} vs {i_r} in {outer} = {o_t} minus that "
                   f"in {outer} = {o_r})")
    return (
        " In the bulk data the interaction was also tested directly: a second DESeq2 fit "
        f"with the design {rescue['interaction_design'].strip()} (reference levels {refs}) "
        "and the same settings gave a Wald test of the interaction coefficient "
        f"{coefficient}{meaning}, whose statistics were analysed with the same preranked GSEA."
    )


def rescue_methods(config: Mapping, rescue: Mapping, datasets: Sequence[str]) -> str:
    """Methods paragraph of the ketamine-rescue classification (and interaction model).

    Parameters
    ----------
    config
        The validated config (``rescue``, ``enrichment``, ``contrasts``).
    rescue
        The checked rescue settings (:class:`acc_tiam1.config.RescueSettings` as a dict):
        ``pain_contrast``, ``ketamine_contrast`` and, when fitted, ``interaction_design``,
        ``interaction_coefficient``, ``interaction_levels``.
    datasets
        Names of the datasets compared (those with DE tables of both contrasts).
    """
    r = config["rescue"]
    padj, lfc = r.get("padj", 0.05), r.get("lfc_threshold", 0.0)
    big = f" and |log2 fold change| >= {lfc:g}" if lfc else ""
    rescued, partial = r.get("rescued_fraction", 0.75), r.get("partial_fraction", 0.25)
    return (
        "Ketamine rescue was assessed in each dataset with DE tables of both contrasts "
        f"({', '.join(datasets) or 'none'}) by comparing the pain effect "
        f"({_contrast_text(config, rescue['pain_contrast'])}) with ketamine's effect in "
        f"pain animals ({_contrast_text(config, rescue['ketamine_contrast'])}), using "
        "unshrunk log2 fold changes (LFC). A gene was a pain gene when padj < "
        f"{padj:g}{big} in the pain contrast. With r = -LFC(ketamine) / LFC(pain), the share "
        "of the pain effect undone by ketamine, a pain gene was classed as rescued when "
        f"padj < {padj:g} in the ketamine contrast and r >= {rescued:g}, as partially "
        f"rescued when padj < {padj:g} and {partial:g} <= r < {rescued:g}, and as not "
        "rescued otherwise; a gene that was not a pain gene but had padj < "
        f"{padj:g}{big} in the ketamine contrast was classed as ketamine-only. A gene set "
        f"was called reversed when GSEA gave FDR < {config['enrichment'].get('fdr', 0.05):g} "
        "in both contrasts with opposite NES signs (same sign: aggravated; significant in "
        f"the pain contrast only: not reversed).{_interaction_text(config, rescue)}"
    )


# --------------------------------------------------------------------------------------
# counts at each step


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
    rows += [{"step": f"bulk: genes tested, {r.contrast}", "n": int(r.genes_tested)}
             for r in summary.itertuples()]
    return rows


def snrna_counts(
    filters: pd.DataFrame,
    clusters: pd.DataFrame,
    samples: pd.DataFrame,
    plan: pd.DataFrame,
) -> list[dict]:
    """Nuclei, clusters, pseudobulk samples and tests at each step of the snRNA branch.

    Parameters
    ----------
    filters, clusters, samples, plan
        ``filter_summary.tsv``, ``clusters.tsv``, pseudobulk ``samples.tsv`` and
        ``plan.tsv`` (see :func:`snrna_qc_methods`, :func:`snrna_pseudobulk_methods`).

    Returns
    -------
    Rows ``{"step", "n"}`` for :func:`provenance_page`.
    """
    rows = [("animals (samples)", len(filters)),
            ("nuclei in the input matrices", filters["nuclei_in"].sum())]
    rows += [(f"nuclei failing the {words} filter", filters[col].sum())
             for col, words in QC_FILTERS]
    rows += [("nuclei failing any QC filter", filters["failed_qc"].sum()),
             ("doublets removed (Scrublet)", filters["doublets"].sum()),
             ("nuclei kept after QC", filters["nuclei_kept"].sum()),
             ("Leiden clusters", len(clusters))]
    types = clusters["cell_type"].astype(str)
    per_type = clusters.groupby(types)["n_nuclei"].sum().sort_values(ascending=False,
                                                                      kind="mergesort")
    rows += [(f"nuclei annotated as {t}", n) for t, n in per_type.items() if t != "Unassigned"]
    rows += [("clusters Unassigned", int((types == "Unassigned").sum())),
             ("nuclei Unassigned (left out of composition and pseudobulk)",
              per_type.get("Unassigned", 0))]
    kept = samples["kept"].astype(str).str.lower() == "true"
    rows += [("pseudobulk samples (animal \u00d7 cell type)", len(samples)),
             ("pseudobulk samples dropped (too few nuclei or UMIs)", (~kept).sum()),
             ("pseudobulk samples kept", kept.sum())]
    tested = plan[plan["status"] == "tested"]
    rows += [("cell type \u00d7 contrast tested", len(tested)),
             ("cell type \u00d7 contrast skipped", int((plan["status"] != "tested").sum()))]
    rows += [(f"cell type \u00d7 contrast skipped: {kind}", n)
             for kind, n in skip_reasons(plan).items()]
    for cell_type in pd.unique(tested["cell_type"]):
        mine = kept & (samples["cell_type"] == cell_type)
        rows.append((f"nuclei in the {int(mine.sum())} kept pseudobulk samples of {cell_type} "
                     "(tested)", samples.loc[mine, "n_nuclei"].sum()))
    return [{"step": f"snRNA: {step}", "n": int(n)} for step, n in rows]


def enrichment_counts(
    nes: pd.DataFrame, gene_sets: Mapping[str, int], titles: Mapping[str, str] | None = None
) -> list[dict]:
    """Gene sets in the files and gene sets tested per DE table.

    Parameters
    ----------
    nes
        ``results/enrichment/summary/nes.tsv`` (columns ``dataset``, ``contrast``,
        ``tested``).
    gene_sets
        ``{GMT file: number of sets}``.
    titles
        Display names of dataset ids (``snrna/L2-3_IT`` -> ``snRNA L2/3 IT``).

    Returns
    -------
    Rows ``{"step", "n"}``; one per dataset when every contrast tested as many sets, else
    one per dataset and contrast.
    """
    titles = titles or {}
    rows = [{"step": f"enrichment: gene sets in {path}", "n": int(n)}
            for path, n in gene_sets.items()]
    if nes.empty:
        return rows
    tested = nes["tested"].astype(str).str.lower() == "true"
    counts = tested.groupby([nes["dataset"], nes["contrast"]], sort=False).sum()
    rows.append({"step": "enrichment: DE tables analysed", "n": len(counts)})
    for dataset in pd.unique(nes["dataset"]):
        mine = counts.loc[dataset]
        name = titles.get(dataset, dataset)
        if mine.nunique() == 1:
            rows.append({"step": f"enrichment: gene sets tested, {name} (each of "
                                 f"{len(mine)} contrasts)", "n": int(mine.iloc[0])})
            continue
        rows += [{"step": f"enrichment: gene sets tested, {name}, {contrast}", "n": int(n)}
                 for contrast, n in mine.items()]
    return rows


# --------------------------------------------------------------------------------------
# the page


def provenance_page(
    title: str,
    methods: Mapping[str, str],
    versions: pd.DataFrame,
    config: Mapping,
    counts: pd.DataFrame,
) -> str:
    """HTML page for the report: Methods paragraphs, step counts, versions, config.

    Parameters
    ----------
    title
        Page heading.
    methods
        ``{heading: paragraph}`` of the Methods text, in order.
    versions
        Output of :func:`package_versions`.
    config
        The config used, shown verbatim as YAML.
    counts
        Table of the number of samples, nuclei or gene sets at each step.
    """
    style = (
        "body{font-family:system-ui,sans-serif;margin:16px;max-width:980px;color:#222}"
        "h1{font-size:18px}h2{font-size:15px;margin-top:20px}h3{font-size:13px}"
        "p.methods{line-height:1.5;background:#f7f7f2;padding:10px;border-left:3px solid #999}"
        "table{border-collapse:collapse;font-size:13px}"
        "td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}"
        "pre{background:#f4f4f4;padding:10px;font-size:12px;overflow:auto}"
    )
    paras = "".join(
        f"<h3>{html.escape(heading)}</h3><p class='methods'>{html.escape(text)}</p>"
        for heading, text in methods.items()
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        "<h2>Methods (to paste into a paper; check it against your own design)</h2>"
        f"{paras}<h2>Samples, nuclei and gene sets at each step</h2>"
        f"{counts.to_html(index=False, border=0, escape=True)}"
        f"<h2>Software versions</h2>{versions.to_html(index=False, border=0, escape=True)}"
        "<h2>Configuration used (analysis settings; plot options not shown)</h2>"
        f"<pre>{html.escape(yaml.safe_dump(dict(config), sort_keys=False))}</pre>"
        "</body></html>"
    )
