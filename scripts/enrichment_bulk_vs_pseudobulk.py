"""Rules enrichment_bulk_vs_pseudobulk_*: gene-set NES in bulk vs each cell type."""

from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    long = io.read_tsv(smk.input.nes, index_col=None)
    long["dataset"] = long["dataset"].map(lambda d: p.titles.get(d, d))
    if "table" in smk.output.keys():
        io.write_tsv(
            enrichment.bulk_vs_pseudobulk(long, p.focus_sets, p.fdr), smk.output.table, index=False
        )
    if "plot" in smk.output.keys():
        sub = long[long["contrast"] == smk.wildcards.contrast]
        plotting.save(plots.bulk_vs_pseudobulk(sub, p.title, p.focus_sets, p.fdr), smk.output.plot)


run_rule(main, snakemake)
