"""Rule enrichment_running_sum: running-sum plots of the focus sets where enriched, one
figure per contrast."""

import logging

from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    sets = enrichment.read_genesets(smk.input.genesets)
    tables = list(zip(p.table_keys, smk.input.de, smk.input.gsea, strict=True))
    for contrast, path in zip(p.contrasts, smk.output.plots, strict=True):
        panels = []
        for (dataset_id, table_contrast), de_path, gsea_path in tables:
            if table_contrast != contrast:
                continue
            dataset = p.titles.get(dataset_id, dataset_id)
            result = io.read_tsv(gsea_path, index_col=None)
            hits = enrichment.significant_focus(result, p.focus_sets, p.fdr)
            if hits.empty:
                continue
            ranking = enrichment.ranking_from_de(io.read_tsv(de_path, index_col=None))
            for _, row in hits.iterrows():
                genes = next(
                    s.genes for s in sets if s.term == row["term"] and s.source == row["source"]
                )
                curve, positions, es = enrichment.running_sum(ranking, genes, p.weight)
                panels.append(
                    {
                        "title": f"{dataset}: {row['term']}",
                        "curve": curve,
                        "hits": positions,
                        "metric": ranking.to_numpy(),
                        "es": es,
                        "nes": row["NES"],
                        "fdr": row["FDR"],
                    }
                )
        logging.info("%s: %d panel(s)", contrast, len(panels))
        title = p.figure_titles[contrast]
        if panels:
            fig = plots.running_sum_panels(panels, title)
        else:
            fig = plotting.message_figure(
                title,
                f"None of {', '.join(p.focus_sets)} reached FDR < {p.fdr:g} in any "
                "dataset of this contrast.",
            )
        plotting.save(fig, path)


run_rule(main, snakemake)
