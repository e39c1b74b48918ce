"""Rule rescue_set_equivalence: two one-sided tests of every gene set's score for the
equivalence comparison (pain + ketamine vs the pain contrast's control), in every
dataset with both rescue contrasts, on the DE fit's design; the focus sets' p-values
adjusted across datasets as the CAMERA calls are."""

import logging

import pandas as pd
from acc_tiam1 import de, enrichment, io, rescue
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    columns = ["dataset", *rescue.SET_EQUIVALENCE_COLUMNS, "focus", "fdr_across", "equivalence_FDR"]
    if p.contrast is None:
        logging.info("no equivalence comparison (the rescue contrasts differ in variable)")
        io.write_tsv(pd.DataFrame(columns=columns), smk.output.table, index=False)
        return
    sets = enrichment.read_genesets(smk.input.genesets)
    frames = []
    for dataset, table, normalized, design_path, contrasts in zip(
        p.datasets,
        smk.input.tables,
        smk.input.normalized,
        smk.input.design,
        smk.input.contrasts,
        strict=True,
    ):
        expression = enrichment.log_normalized(io.read_tsv(normalized))
        _, rows = enrichment.de_inputs(io.read_tsv(table, index_col=None), expression)
        design = io.read_tsv(design_path)
        vector = de.read_contrast(io.read_tsv(contrasts), p.contrast, design)
        result = rescue.set_equivalence(
            rows, design, vector, sets, p.margin, p.min_size, p.max_size
        )
        logging.info(
            "%s: %d sets scored; %d equivalent (padj < %g, margin %g SD)",
            dataset,
            len(result),
            int((result["padj"] < p.fdr).sum()),
            p.fdr,
            p.margin,
        )
        frames.append(result.assign(dataset=dataset))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns[:-3])
    table = rescue.equivalence_across(table, p.focus_sets, p.across, p.fdr)
    io.write_tsv(table[columns], smk.output.table, index=False)


run_rule(main, snakemake)
