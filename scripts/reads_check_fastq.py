"""Rule reads_check_fastq: read every FASTQ of a sample whole before any index is built."""

import logging

import pandas as pd
from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    rows = reads.check_sample_fastq(smk.params.units, smk.wildcards.sample, smk.params.min_read1)
    table = pd.DataFrame(rows)
    logging.info("%s: %d units, %d reads", smk.wildcards.sample, len(table), table["reads"].sum())
    io.write_tsv(table, smk.output[0], index=False)


run_rule(main, snakemake)
