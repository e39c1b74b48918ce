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
        f"p-value or FDR of 0 means below 1/{_n(perm)}. Over-representation of up- and of "
        "down-regulated genes "
        f"({called}) was tested separately with gseapy.enrich (hypergeometric test), "
        "offline, against a background of every gene with an adjusted p-value in that DE "
        f"table; sets were restricted to the background and tested when {size} of their "
        "genes were in it, and p-values were adjusted by the Benjamini-Hochberg procedure "
        "per gene-set file and direction over all tested sets. " + camera_text(e)
    )


def camera_text(enrichment: Mapping) -> str:
    """Methods sentences of CAMERA and of the error control across datasets.

    Parameters
    ----------
    enrichment
        The config's ``enrichment`` section (``focus_sets``, ``fdr``,
        ``across_datasets``).
    """
    fdr = enrichment.get("fdr", 0.05)
    focus = ", ".join(enrichment.get("focus_sets", [])) or "none"
    method = enrichment.get("across_datasets", "hierarchical")
    common = (
        "Gene sets were called from a test that allows for correlation between the genes "
        "of a set, which gene-permutation GSEA ignores (a set whose genes move together "
        "from animal to animal looks enriched although no condition effect exists): "
        "CAMERA (Wu & Smyth 2012), implemented as limma::camera (limma 3.54, "
        "inter.gene.cor = NA, allow.neg.cor = FALSE) and checked against it, on "
        "log2(normalised count + 1) of the genes of each DE table with that fit's design "
        "matrix and contrast vector. The per-gene statistic was limma's moderated t of "
        "the contrast (empirical Bayes variance moderation, Smyth 2004), the inter-gene "
        "correlation of each set was estimated from the residuals of the linear model, "
        "and the set's mean statistic was compared with the other genes' by a t test "
        "widened by the variance inflation factor this correlation implies; sets were "
        "tested within the same size limits as for GSEA, and p-values were adjusted by "
        "the Benjamini-Hochberg procedure per gene-set file. GSEA's NES and leading edge "
        f"describe the sets; CAMERA makes the calls. For the focus sets ({focus}), the "
        "CAMERA p-values of each contrast were adjusted over all datasets tested in that "
        "contrast (bulk and every cell type) "
    )
    if method == "global":
        rule = (
            "by the Benjamini-Hochberg procedure over all dataset x set tests (global), "
            "which controls the expected proportion of false (dataset, set) claims. "
        )
    else:
        rule = (
            "by the hierarchical procedure of Benjamini & Bogomolov (2014): the Simes "
            "p-value of each dataset's focus sets selected datasets by the "
            "Benjamini-Hochberg procedure over datasets, and within each of the R selected "
            f"of m datasets the sets were tested at level {fdr:g} x R / m (reported as the "
            "smallest level at which the procedure rejects). It was chosen over "
            "Benjamini-Hochberg over all dataset x set tests because the report's claim "
            "is where (which cell types) a set changes: it bounds the expected "
            "proportion of reported datasets in which no focus set changes, and the "
            "average proportion of false sets within a reported dataset, while global "
            "Benjamini-Hochberg bounds the proportion of false (dataset, set) pairs and "
            "lets null cell types in when a few cell types carry many true changes (with "
            "all 6 sets changed in 2 of 20 cell types, simulated at level 0.05, the "
            "proportion of falsely reported cell types was 0.104 with global "
            "Benjamini-Hochberg and 0.044 with Benjamini & Bogomolov, at equal power). "
        )
    return (
        common
        + rule
        + f"A focus set was called up or down in a dataset when this FDR was below {fdr:g} "
        "(direction from CAMERA), other sets when their table's CAMERA FDR was below "
        f"{fdr:g}, which is not corrected for the number of datasets."
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
        f"{coefficient}{meaning}, analysed with the same preranked GSEA and CAMERA (the "
        "coefficient as the contrast vector)."
    )


def rescue_methods(config: Mapping, rescue: Mapping, datasets: Sequence[str]) -> str:
    """Methods paragraph of the ketamine-rescue classification (and interaction model).

    Parameters
    ----------
    config
        The validated config (``rescue``, ``enrichment``, ``contrasts``).
    rescue
        The checked rescue settings (:class:`acc_tiam1.inputs.RescueSettings` as a dict):
        ``pain_contrast``, ``ketamine_contrast``, ``equivalence_contrast`` and, when
        fitted, ``interaction_design``, ``interaction_coefficient``,
        ``interaction_levels``.
    datasets
        Names of the datasets compared (those with DE tables of both contrasts).
    """
    r = config["rescue"]
    e = config["enrichment"]
    padj, fdr = r.get("padj", 0.05), e.get("fdr", 0.05)
    gene_margin, set_margin = r.get("gene_margin", 0.5), r.get("set_margin", 1.7)
    eq = rescue.get("equivalence_contrast")
    head = (
        "Ketamine rescue was assessed in each dataset with DE tables of both contrasts "
        f"({', '.join(datasets) or 'none'}) from three tests of the same fit: the pain "
        f"effect ({_contrast_text(config, rescue['pain_contrast'])}), its reversal by "
        "ketamine in the opposite direction "
        f"({_contrast_text(config, rescue['ketamine_contrast'])}) and"
    )
    if not eq:
        return (
            f"{head} no equivalence test, since the two contrasts are on different "
            "variables: significant reversals were called partially rescued, and nothing "
            "fully rescued. Pain effects and reversals were called from DESeq2 padj < "
            f"{padj:g} for genes and from CAMERA as above for gene sets."
            + _interaction_text(config, rescue)
        )
    cmp = f"{eq['target']} vs {eq['reference']}"
    across = e.get("across_datasets", "hierarchical")
    across_text = "Benjamini & Bogomolov" if across == "hierarchical" else "global BH"
    return (
        f"{head} equivalence of {cmp} ({eq['variable']}), because a non-significant "
        f"difference to {eq['reference']} does not show that ketamine brought the animals "
        "back to control level. A gene was classed fully rescued when its pain effect "
        f"(DESeq2 padj < {padj:g}), the opposite ketamine effect (padj < {padj:g}) and "
        f"equivalence of {cmp} within |log2 fold change| < {gene_margin:g} (DESeq2 "
        f"results(lfcThreshold = {gene_margin:g}, altHypothesis = 'lessAbs'), two "
        f"one-sided Wald tests, padj < {padj:g}) were all significant, partially rescued "
        "with the first two only, not rescued with a pain effect and no significant "
        "reversal, aggravated when ketamine pushed it further, inconclusive with a pain "
        "effect and equivalence but no significant reversal, and ketamine-only with a "
        "ketamine effect but no pain effect; the share of the pain log2 fold change "
        "undone by ketamine is reported but makes no call. A gene set's pain effect and "
        f"reversal were its CAMERA calls (focus sets at FDR across datasets < {fdr:g}); "
        "its equivalence was tested on a per-animal set score (the mean of the set's "
        "genes' log2 expression, each gene centred and scaled over animals) with an "
        f"ordinary least-squares fit of the DE design: two one-sided t tests of {cmp} "
        f"against a margin of {set_margin:g} residual standard deviations of the score "
        "(noncentral t, Schuirmann 1987), adjusted like the CAMERA calls (focus sets "
        f"across datasets, {across_text}; other sets by Benjamini-Hochberg within the "
        f"dataset), at {fdr:g}." + _interaction_text(config, rescue)
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
