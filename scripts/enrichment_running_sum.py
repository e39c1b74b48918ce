"""Rule enrichment_running_sum: running-sum plots of the focus sets where they are called
(CAMERA, FDR across datasets; see rule enrichment_summary), one figure per contrast."""

import logging

from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    sets = enrichment.read_genesets(smk.input.genesets)
    nes = io.read_tsv(smk.input.nes, index_col=None)
    called = nes[nes["focus"].astype(bool) & nes["call"].isin(["up", "down"])] if len(nes) else nes
    tables = list(zip(p.table_keys, smk.input.de, strict=True))
    for contrast, path in zip(p.contrasts, smk.output.plots, strict=True):
        panels = []
        for (dataset_id, table_contrast), de_path in tables:
            if table_contrast != contrast:
                continue
            hits = called[(called["dataset"] == dataset_id) & (called["contrast"] == contrast)]
            if hits.empty:
                continue
            dataset = p.titles.get(dataset_id, dataset_id)
            ranking = enrichment.ranking_from_de(io.read_tsv(de_path, index_col=None))
            order = {name: i for i, name in enumerate(p.focus_sets)}
            hits = hits.iloc[hits["term"].map(order).argsort(kind="stable")]
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
                        "fdr": row["call_FDR"],
                        "fdr_label": "CAMERA FDR across datasets",
                    }
                )
        logging.info("%s: %d panel(s)", contrast, len(panels))
        title = p.figure_titles[contrast]
        if panels:
            fig = plots.running_sum_panels(panels, title)
        else:
            fig = plotting.message_figure(
                title,
                f"None of {', '.join(p.focus_sets)} is called (CAMERA, FDR across datasets "
                f"< {p.fdr:g}) in any dataset of this contrast.",
            )
        plotting.save(fig, path)


run_rule(main, snakemake)
