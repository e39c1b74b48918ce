"""Rule enrichment_heatmap: NES of datasets x gene sets for one contrast."""

import pandas as pd
from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    long = io.read_tsv(smk.input.nes, index_col=None)
    long = long[long["contrast"] == smk.wildcards.contrast]
    chosen = enrichment.select_sets(long, p.focus_sets, p.top_sets, p.fdr)
    if not chosen:
        fig = plotting.message_figure(p.title, "No gene set was tested in this contrast.")
    else:
        datasets = list(pd.unique(long["dataset"]))
        nes, fdr = enrichment.nes_matrix(long, chosen, datasets)
        names = [p.titles.get(d, d) for d in datasets]
        nes.index = fdr.index = names
        fig = plots.nes_heatmap(nes, fdr, p.title, p.fdr)
    plotting.save(fig, smk.output.heatmap)


run_rule(main, snakemake)
