"""Rule bulk_vst: blind variance-stabilised counts for QC."""

from acc_tiam1 import bulk, io
from acc_tiam1.runner import run_rule


def main(smk):
    counts, genes = io.read_prepared_counts(smk.input.counts)
    io.write_tsv(genes.join(bulk.vst(counts)), smk.output.vst)


run_rule(main, snakemake)
