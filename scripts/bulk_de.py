"""Rule bulk_de: gene filter, one DESeq2 fit, then a Wald test per contrast of it.

Every configured contrast gets a table. The job also writes the fitted model (design
matrix and one contrast vector per tested comparison) for CAMERA and the set-score
equivalence test, and, with the rescue analysis on, the per-gene equivalence test of the
ketamine contrast's target vs the pain contrast's reference (DESeq2 ``lessAbs``) from the
same fit (columns only when it is off).
"""

import logging

from acc_tiam1 import de, design, io
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    counts, genes = io.read_prepared_counts(smk.input.counts)
    samples = io.read_sample_sheet(smk.input.samples)
    tested = design.parse_contrasts(p.contrasts)
    keep = de.expression_filter(
        counts, samples, sorted({c.variable for c in tested}), p.gene_filter
    )
    record = de.filter_record(keep, p.gene_filter)
    logging.info("gene filter: %s", record.iloc[0].to_dict())
    io.write_tsv(record, smk.output.gene_filter, index=False)
    counts, genes = counts[keep], genes[keep]
    result = de.fit_dataset(
        counts,
        genes,
        samples,
        p.design,
        tested,
        p.contrast_names,
        p.de,
        equivalence=p.equivalence,
        label=p.label,
    )
    result.write(smk.output.tables, {k: smk.output[k] for k in de.MODEL_OUTPUTS})


run_rule(main, snakemake)
