"""Rule reads_whitelist: check the 10x barcode whitelist and write it plain for STARsolo."""

import logging

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    chem = reads.chemistry(smk.params.chemistry)
    barcodes = reads.check_whitelist(smk.input[0], chem["cb_len"])
    logging.info("%d barcodes of %d bp", len(barcodes), chem["cb_len"])
    io.write_text("".join(f"{b}\n" for b in barcodes), smk.output[0])


run_rule(main, snakemake)
