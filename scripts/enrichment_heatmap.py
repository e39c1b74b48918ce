"""Rule enrichment_heatmap: NES of datasets x gene sets, one heatmap per contrast."""

import pandas as pd
from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    results = io.read_tsv(smk.input.nes, index_col=None)
    for contrast, path in zip(p.contrasts, smk.output.heatmaps, strict=True):
        title = p.figure_titles[contrast]
        long = results[results["contrast"] == contrast]
        chosen = enrichment.select_sets(long, p.focus_sets, p.top_sets, p.fdr)
        if not chosen:
            fig = plotting.message_figure(title, "No gene set was tested in this contrast.")
        else:
            datasets = list(pd.unique(long["dataset"]))
            nes, fdr = enrichment.nes_matrix(long, chosen, datasets)
            nes.index = fdr.index = [p.titles.get(d, d) for d in datasets]
            fig = plots.nes_heatmap(nes, fdr, title, p.fdr)
        plotting.save(fig, path)


run_rule(main, snakemake)
