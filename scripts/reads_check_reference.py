"""Rule reads_check_reference: GTF, transcriptome and genome agree; tables for the rules."""

import json
import logging

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    inputs = dict(smk.input.items())
    check = reads.check_reference(inputs["gtf"], inputs.get("transcriptome"), inputs.get("genome"))
    for key, value in check.summary.items():
        logging.info("%s: %s", key, value)
    if check.summary.get("gtf_chromosomes_not_in_genome"):
        logging.warning(
            "GTF chromosomes not in the genome (their genes get no reads): %s",
            ", ".join(check.summary["gtf_chromosomes_not_in_genome"][:20]),
        )
    io.write_tsv(check.tx2gene, smk.output.tx2gene, index=False)
    io.write_tsv(check.genes, smk.output.genes, index=False)
    io.write_text("".join(f"{n}\n" for n in check.genome_names), smk.output.decoys)
    nbases = smk.params.sa_nbases or (
        reads.star_sa_index_nbases(check.genome_length) if check.genome_length else 14
    )
    io.write_text(f"{nbases}\n", smk.output.sa_nbases)
    io.write_text(json.dumps(check.summary, indent=1), smk.output.summary)


run_rule(main, snakemake)
