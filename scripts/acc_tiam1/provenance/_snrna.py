"""Methods paragraphs and step counts of the single-nucleus branch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ._text import (
    ENGINE_NOTE,
    _contrasts_text,
    _cooks_text,
    _dispersion_text,
    _filter_text,
    _independent_text,
    _n,
    _plural,
    _refs_text,
    _shrink_text,
    _span,
    _v,
)

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
    auto = [(side, key) for side, key in (("below", low), ("above", high)) if fixed[side] is None]
    if auto:
        sides = " or ".join(side for side, _ in auto)
        limits = "; ".join(
            f"per-sample {'lower' if side == 'below' else 'upper'} limits "
            f"{_span(filters.get(f'threshold_{key}', []))}"
            for side, key in auto
        )
        parts.append(
            f"more than {qc.get('n_mads', 5):g} MADs {sides} the sample's median on the "
            f"log(1 + x) scale ({limits})"
        )
    return f"{label} " + " or ".join(parts)


def _mito_text(qc: Mapping, filters: pd.DataFrame) -> str:
    if qc.get("max_pct_mito") is not None:
        return (
            f"more than {qc['max_pct_mito']:g}% of its UMIs from mitochondrial genes "
            "(symbols starting with mt-)"
        )
    limits = _span(filters.get("threshold_max_pct_mito", []), "{:.2f}", "%")
    return (
        "a percentage of UMIs from mitochondrial genes (symbols starting with mt-) above the "
        f"sample's median + {qc.get('mito_n_mads', 3):g} MADs, the limit being kept within "
        f"{qc.get('mito_pct_floor', 1.0):g}\u2013{qc.get('mito_pct_cap', 5.0):g}% "
        f"(per-sample limits {limits})"
    )


def _doublet_text(qc: Mapping, filters: pd.DataFrame, versions: pd.DataFrame, seed: int) -> str:
    if not qc.get("doublets", True):
        return "Doublet detection with Scrublet was switched off. "
    scores = pd.to_numeric(
        filters.get("threshold_doublet_score", pd.Series(dtype=float)), errors="coerce"
    )
    if qc.get("doublet_threshold") is not None:
        threshold = f"doublet-score threshold {qc['doublet_threshold']:g}"
    else:
        threshold = (
            "score threshold chosen per sample from the observed and simulated doublet "
            "scores as scDblFinder's doubletThresholding(method='optim') does (Germain et "
            "al. 2021): the threshold minimising the misclassification of nuclei and "
            "simulated doublets plus the squared deviation of the number called from the "
            "expected number of heterotypic doublets, which holds when the score histogram "
            f"has no second mode; per-sample thresholds {_span(scores, '{:.3f}')}"
        )
    none = int(scores.isna().sum())
    missing = (
        f" In {none} sample(s) fewer than 100 nuclei passed QC and no doublet was called there."
        if none
        else ""
    )
    return (
        "Doublets were then called per sample among the nuclei that passed these filters "
        f"with Scrublet (Wolock et al. 2019) as implemented in scanpy (sc.pp.scrublet; scanpy "
        f"{_v(versions, 'scanpy')}; expected doublet rate "
        f"{qc.get('expected_doublet_rate', 0.05):g}, "
        f"{threshold}, on at most the 3,000 most variable genes of the sample, random state "
        f"{seed}) and removed.{missing} "
    )


def _coexpression_text(qc: Mapping, filters: pd.DataFrame) -> str:
    if not qc.get("coexpression_doublets", True):
        return ""
    n = int(filters.get("coexpression_doublets", pd.Series([0])).sum())
    return (
        " After annotation, nuclei that expressed the markers of two mutually exclusive "
        "classes of the marker table (neuronal and non-neuronal, glutamatergic and "
        "GABAergic) beyond what the ambient RNA brings (a class counted as present when "
        "its markers, after subtracting the expected ambient counts and the level of the "
        "nucleus' own cell type, made up at least 10% of the droplet's UMIs at Poisson "
        f"level 0.01) were removed as doublets as well ({_n(n)} nuclei), as nf-core/"
        "scdownstream combines doublet callers (a nucleus called by either is removed)."
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
        f"removed as doublets by Scrublet.{_coexpression_text(qc, filters)} "
        f"{_n(kept)} nuclei were left ({100 * kept / max(n_in, 1):.1f}%; "
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
        "n_nuclei": int(info["n_nuclei"]),
        "n_genes": int(info["n_genes"]),
        "batches": int(info["batches"]),
        "harmony": bool(info["harmony"]),
        "n_hvgs": int(info["n_hvgs"]),
        "n_pcs": int(info["n_pcs"]),
        "neighbors": str(info["neighbors"]),
    }


def _integration_text(
    integration: Mapping, info: Mapping, versions: pd.DataFrame, seed: int
) -> str:
    batch_key = integration.get("batch_key", "batch")
    batches = info["batches"]
    hvg_batches = (
        f"; selected within each of the {batches} batches of sample-sheet column "
        f"'{batch_key}' and ranked by the number of batches in which they were "
        "variable"
        if batches > 1
        else ""
    )
    harmony = (
        f"Principal components were corrected for batch (column '{batch_key}', {batches} "
        "levels) with "
        f"Harmony (Korsunsky et al. 2019), with the algorithm and default parameters of "
        f"harmonypy {_v(versions, 'harmonypy')} (theta 1, lambda 1, sigma 0.1, min(nuclei / "
        f"30, 100) clusters, at most 10 iterations; random state {seed}). "
        if info["harmony"]
        else "No batch integration was applied"
        + (
            " (snrna.integration.harmony: false). "
            if batches > 1 and integration.get("harmony") is False
            else " (too few nuclei for Harmony's clustering). "
            if batches > 1
            else f" (one batch in {batch_key or 'the data'}). "
        )
    )
    on = "Harmony-corrected components" if info["harmony"] else "principal components"
    search = (
        f"exact Euclidean search, scikit-learn {_v(versions, 'scikit-learn')}"
        if info.get("neighbors", "exact") == "exact"
        else f"approximate Euclidean search with pynndescent {_v(versions, 'pynndescent')}, "
        f"random state {seed}, one thread"
    )
    return (
        f"Nuclei of all samples were merged ({_n(info['n_nuclei'])} nuclei, "
        f"{_n(info['n_genes'])} genes present in every sample); counts were scaled to "
        "10,000 per nucleus and log1p-transformed. The "
        f"{_n(info['n_hvgs'])} most highly variable genes (Seurat flavour{hvg_batches}) were "
        f"scaled to unit variance (clipped at 10) and reduced to {info['n_pcs']} principal "
        "components (eigenvectors of their covariance matrix). "
        f"{harmony}A "
        f"{integration.get('n_neighbors', 15)}-nearest-neighbour graph was built on the "
        f"{on} ({search}) and "
        f"embedded for display with UMAP (umap-learn {_v(versions, 'umap-learn')}, min_dist "
        f"{integration.get('umap_min_dist', 0.5):g}, random state {seed}, initialised "
        "with the first two components of that representation). "
    )


#: Wording of the cluster-table ``status`` of Unassigned clusters, in rule order.
UNASSIGNED_STATUS = (
    ("no_match", "matched no type"),
    ("below_min_score", "fell below the minimum mean score"),
    ("two_classes", "had markers of two classes"),
    ("ambiguous", "matched two types without the margin"),
    ("low_agreement", "had too few agreeing nuclei"),
)


def _unassigned_text(unassigned: pd.DataFrame) -> str:
    """``Of these, 1 matched no type and 2 had markers of two classes. `` (or nothing)."""
    if unassigned.empty or "status" not in unassigned.columns:
        return ""
    counts = unassigned["status"].astype(str).value_counts()
    parts = [f"{counts[key]} {words}" for key, words in UNASSIGNED_STATUS if key in counts]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Of these, {listed}. "


def _annotation_text(
    annotation: Mapping,
    markers: pd.DataFrame,
    markers_path: str,
    clusters: pd.DataFrame,
    versions: pd.DataFrame,
    seed: int,
) -> str:
    unassigned = clusters[clusters["cell_type"].astype(str) == "Unassigned"]
    n_markers = len({g for genes in markers["markers"] for g in genes})
    evidence = annotation.get("min_evidence", 1.0)
    min_score = annotation.get("min_score")
    floor = (
        f", its mean score was at least {min_score:g} (an absolute floor)"
        if min_score is not None
        else ""
    )
    return (
        "Nuclei were clustered with the Leiden algorithm (igraph "
        f"{_v(versions, 'igraph')} implementation, resolution "
        f"{annotation.get('resolution', 1.0):g}, 2 iterations, random state {seed}), giving "
        f"{len(clusters)} clusters. Clusters were annotated with the marker table "
        f"{markers_path} ({len(markers)} cell types, {n_markers} marker genes): a nucleus' "
        "score for a cell type was the mean z-score of the log-normalised expression of "
        "that type's markers (each marker standardised over all nuclei and clipped at "
        "\u00b110). Because standardising over all nuclei caps the score of abundant types, "
        "scores were compared within the data, per type: the evidence for a type in a "
        "cluster was the cluster's mean score minus the type's background (the 25th "
        "percentile of the clusters' mean scores), divided by the type's within-cluster "
        "standard deviation of the score (cluster variances averaged), in the way decoupler "
        "ranks marker-set scores between groups (Badia-i-Mompel et al. 2022). A cluster "
        "received the type with the highest evidence if (i) that evidence was at least "
        f"{evidence:g}{floor}; (ii) no type of another class of the marker table (neuronal "
        "and glial classes exclude each other) that was the best type of clusters of its own "
        f"had evidence of at least {evidence:g} there with a share of its own clusters' "
        f"evidence of at least {1 - annotation.get('min_margin', 0.5):g} times the best "
        "type's share (a cluster between two source clusters, the pattern of doublet "
        "clusters that scDblFinder's findDoubletClusters looks for; Germain et al. 2021); "
        "(iii) the relative margin over the runner-up type (1 \u2212 its evidence / the "
        f"best's) was at least {annotation.get('min_margin', 0.5):g}, as SingleR and Garnett "
        "require a margin over the next label (Aran et al. 2019; Pliner et al. 2019); and "
        f"(iv) at least {100 * annotation.get('min_fraction', 0.5):g}% of the cluster's "
        "nuclei had that type as their own (their best, with evidence of at least "
        f"{evidence:g} per nucleus); otherwise the cluster was "
        f"labelled Unassigned ({len(unassigned)} of {len(clusters)} clusters, "
        f"{_n(unassigned['n_nuclei'].sum())} nuclei). "
        + _unassigned_text(unassigned)
        + "Unassigned nuclei were left out of the composition and pseudobulk analyses. "
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
        + _annotation_text(
            snrna.get("annotation", {}),
            markers,
            snrna.get("markers", "config/markers/acc_markers.tsv"),
            clusters,
            versions,
            seed,
        )
        + _composition_text(snrna.get("composition", {}), snrna["design"])
    )


def skip_reasons(plan: pd.DataFrame) -> pd.Series:
    """Skipped cell type x contrast combinations per kind of reason (plan.tsv ``reason``)."""
    reasons = plan.loc[plan["status"] != "tested", "reason"].fillna("").astype(str)
    kinds = [
        "too few genes pass the expression filter" if r.startswith("only ") else r.split(":")[0]
        for r in reasons
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
    gf = de.get("filter", {})
    kept = samples["kept"].astype(str).str.lower() == "true"
    tested = plan[plan["status"] == "tested"]
    variables = ", ".join(dict.fromkeys(c["variable"] for c in config["contrasts"]))
    if config.get("bulk"):
        engine = (
            " with the same DESeq2 implementation and settings as the bulk data "
            f"(PyDESeq2 {_v(versions, 'pydeseq2')})"
        )
        settings = ""
    else:
        engine = (
            f" with PyDESeq2 {_v(versions, 'pydeseq2')} (Muzellec et al. 2023), a "
            f"Python implementation of DESeq2 (Love et al. 2014), {ENGINE_NOTE},"
        )
        settings = f"{_dispersion_text(de)} "
        settings += f"In each test, {_cooks_text(de)}. "
    return (
        "For differential expression, raw UMI counts were summed per animal and cell type "
        "(pseudobulk, scanpy's sc.get.aggregate), so that the animal is the unit of "
        "replication. Pseudobulk samples with fewer than "
        f"{pb.get('min_nuclei', 10)} nuclei or fewer than {_n(pb.get('min_counts', 1000))} "
        f"UMIs were dropped ({_n((~kept).sum())} of {_n(len(samples))} animal \u00d7 cell type "
        f"samples). {_filter_text(gf, variables, 'per cell type')}, and cell types with "
        "fewer than "
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
    rows = [
        ("animals (samples)", len(filters)),
        ("nuclei in the input matrices", filters["nuclei_in"].sum()),
    ]
    rows += [
        (f"nuclei failing the {words} filter", filters[col].sum()) for col, words in QC_FILTERS
    ]
    rows += [
        ("nuclei failing any QC filter", filters["failed_qc"].sum()),
        ("doublets removed (Scrublet)", filters["doublets"].sum()),
        (
            "doublets removed (marker co-expression)",
            filters.get("coexpression_doublets", pd.Series([0])).sum(),
        ),
        ("nuclei kept after QC", filters["nuclei_kept"].sum()),
        ("Leiden clusters", len(clusters)),
    ]
    types = clusters["cell_type"].astype(str)
    per_type = (
        clusters.groupby(types)["n_nuclei"].sum().sort_values(ascending=False, kind="mergesort")
    )
    rows += [(f"nuclei annotated as {t}", n) for t, n in per_type.items() if t != "Unassigned"]
    rows += [
        ("clusters Unassigned", int((types == "Unassigned").sum())),
        (
            "nuclei Unassigned (left out of composition and pseudobulk)",
            per_type.get("Unassigned", 0),
        ),
    ]
    kept = samples["kept"].astype(str).str.lower() == "true"
    rows += [
        ("pseudobulk samples (animal \u00d7 cell type)", len(samples)),
        ("pseudobulk samples dropped (too few nuclei or UMIs)", (~kept).sum()),
        ("pseudobulk samples kept", kept.sum()),
    ]
    tested = plan[plan["status"] == "tested"]
    rows += [
        ("cell type \u00d7 contrast tested", len(tested)),
        ("cell type \u00d7 contrast skipped", int((plan["status"] != "tested").sum())),
    ]
    rows += [
        (f"cell type \u00d7 contrast skipped: {kind}", n) for kind, n in skip_reasons(plan).items()
    ]
    for cell_type in pd.unique(tested["cell_type"]):
        mine = kept & (samples["cell_type"] == cell_type)
        rows.append(
            (
                f"nuclei in the {int(mine.sum())} kept pseudobulk samples of {cell_type} (tested)",
                samples.loc[mine, "n_nuclei"].sum(),
            )
        )
    return [{"step": f"snRNA: {step}", "n": int(n)} for step, n in rows]
