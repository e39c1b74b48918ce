"""Rule bulk_vst: blind variance-stabilised counts for QC."""

from acc_tiam1 import io, qc
from acc_tiam1.runner import run_rule


def main(smk):
    counts, genes = io.read_prepared_counts(smk.input.counts)
    io.write_tsv(genes.join(qc.vst(counts, n_cpus=smk.threads)), smk.output.vst)


run_rule(main, snakemake)
