"""Rule enrichment_bulk_vs_pseudobulk: gene-set NES in bulk vs each cell type, a table
over all contrasts and one scatter figure per contrast."""

from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    long = io.read_tsv(smk.input.nes, index_col=None)
    long["dataset"] = long["dataset"].map(lambda d: p.titles.get(d, d))
    io.write_tsv(
        enrichment.bulk_vs_pseudobulk(long, p.focus_sets, p.fdr), smk.output.table, index=False
    )
    for contrast, path in zip(p.contrasts, smk.output.plots, strict=True):
        sub = long[long["contrast"] == contrast]
        fig = plots.bulk_vs_pseudobulk(sub, p.figure_titles[contrast], p.focus_sets, p.fdr)
        plotting.save(fig, path)


run_rule(main, snakemake)
