"""Rule reads_solo_matrices: one sample's STARsolo matrices, gzipped for the snRNA branch."""

import json
import logging

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    genes = io.read_tsv(smk.input.genes, index_col=None)
    summary = reads.convert_solo(
        smk.input.solo, smk.params.folders["path"], smk.params.folders["raw_path"], genes
    )
    logging.info("%s: %s", smk.wildcards.sample, summary)
    io.write_text(json.dumps(summary, indent=1), smk.output.summary)


run_rule(main, snakemake)
