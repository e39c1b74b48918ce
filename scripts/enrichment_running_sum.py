"""Rule enrichment_running_sum: running-sum plots of the focus sets where enriched."""

import logging

from acc_tiam1 import enrichment, enrichment_plots, io, plots
from acc_tiam1.runner import run_rule

ROOT = "results/enrichment"


def main(smk):
    p = smk.params
    sets = enrichment.read_genesets(smk.input.genesets)
    panels = []
    for de_path, gsea_path in zip(smk.input.de, smk.input.gsea, strict=True):
        dataset_id = enrichment.dataset_from_path(gsea_path, ROOT)[0]
        dataset = p.titles.get(dataset_id, dataset_id)
        result = io.read_tsv(gsea_path, index_col=None)
        hits = enrichment.significant_focus(result, p.focus_sets, p.fdr)
        if hits.empty:
            continue
        ranking = enrichment.ranking_from_de(io.read_tsv(de_path, index_col=None))
        for _, row in hits.iterrows():
            genes = next(s.genes for s in sets
                         if s.term == row["term"] and s.source == row["source"])
            curve, positions, es = enrichment.running_sum(ranking, genes, p.weight)
            panels.append({"title": f"{dataset}: {row['term']}", "curve": curve,
                           "hits": positions, "metric": ranking.to_numpy(), "es": es,
                           "nes": row["NES"], "fdr": row["FDR"]})
    logging.info("%d panel(s)", len(panels))
    if panels:
        fig = enrichment_plots.running_sum_panels(panels, p.title)
    else:
        fig = enrichment_plots.message_figure(
            p.title, f"None of {', '.join(p.focus_sets)} reached FDR < {p.fdr:g} in any "
            "dataset of this contrast.")
    plots.save(fig, smk.output.plot)


run_rule(main, snakemake)
