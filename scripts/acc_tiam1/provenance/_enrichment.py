"""Methods paragraphs and step counts of enrichment and ketamine rescue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ._text import _contrast_text, _n, _plural, _v


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
        f" and |log2 fold change| >= {lfc:g} (unshrunk)" if lfc else ""
    )
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
        meaning = (
            f" (the effect of {inner} {i_t} vs {i_r} in {outer} = {o_t} minus that "
            f"in {outer} = {o_r})"
        )
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
    rows = [
        {"step": f"enrichment: gene sets in {path}", "n": int(n)} for path, n in gene_sets.items()
    ]
    if nes.empty:
        return rows
    tested = nes["tested"].astype(str).str.lower() == "true"
    counts = tested.groupby([nes["dataset"], nes["contrast"]], sort=False).sum()
    rows.append({"step": "enrichment: DE tables analysed", "n": len(counts)})
    for dataset in pd.unique(nes["dataset"]):
        mine = counts.loc[dataset]
        name = titles.get(dataset, dataset)
        if mine.nunique() == 1:
            rows.append(
                {
                    "step": f"enrichment: gene sets tested, {name} (each of {len(mine)} contrasts)",
                    "n": int(mine.iloc[0]),
                }
            )
            continue
        rows += [
            {"step": f"enrichment: gene sets tested, {name}, {contrast}", "n": int(n)}
            for contrast, n in mine.items()
        ]
    return rows
