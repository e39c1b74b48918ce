"""Rule bulk_prepare: read and check the user's matrix, write it in sample-sheet order."""

import logging

from acc_tiam1 import io
from acc_tiam1.runner import run_rule


def main(smk):
    samples = io.read_sample_sheet(smk.input.samples)
    counts, genes = io.read_count_matrix(smk.input.counts)
    mapping = io.match_samples(counts.columns, samples.index, smk.input.counts, smk.input.samples)
    counts = counts.rename(columns=mapping)[list(samples.index)]
    logging.info("%d genes x %d samples read from %s", *counts.shape, smk.input.counts)
    io.write_tsv(genes.join(counts), smk.output.counts)


run_rule(main, snakemake)
