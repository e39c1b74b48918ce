"""Rule reads_strandedness: per-sample strandedness, flags, and the value featureCounts uses."""

import logging

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    salmon = smk.params.quantifier == "salmon"
    read = reads.salmon_orientation if salmon else reads.star_orientation
    orientation = {
        s: read(f) for s, f in zip(smk.params.samples, smk.input.orientation, strict=True)
    }
    source = "salmon lib_format_counts" if salmon else "STAR ReadsPerGene"
    table = reads.strandedness_table(orientation, smk.params.configured, source)
    for row in table.itertuples():
        logging.info(
            "%s: %s (forward fraction %.3f), used %s %s",
            row.sample,
            row.inferred,
            row.forward_fraction,
            row.used,
            row.flag,
        )
        if row.flag:
            logging.warning("%s: %s", row.sample, row.flag)
    for row, path in zip(table.itertuples(), smk.output.codes, strict=True):
        io.write_text(f"{reads.FEATURECOUNTS_STRAND[row.used]}\n", path)
    io.write_tsv(table, smk.output.table, index=False)
    io.write_text(
        reads.custom_content(
            table[["sample", "forward_fraction", "inferred", "used", "flag"]],
            "strandedness",
            "Strandedness",
            "Fraction of fragments whose read 1 is on the transcript's strand; "
            "inferred call and the value used for counting.",
        ),
        smk.output.mqc,
    )


run_rule(main, snakemake)
