"""Rule snrna_composition: nuclei per sample x cell type and sample-level CLR tests."""

import logging

from acc_tiam1 import design, io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    nuclei = snrna.read_annotation_table(smk.input.nuclei)
    sheet = io.read_sample_sheet(smk.input.samples)
    markers = io.read_markers(smk.input.markers)
    types = [*markers["cell_type"], snrna.UNASSIGNED]
    counts = snrna.composition_counts(nuclei, sheet.index, types)
    io.write_tsv(counts, smk.output.counts)
    tested = [t for t in markers["cell_type"] if counts[t].sum() > 0]
    contrasts = design.parse_contrasts(smk.params.contrasts)
    tests = snrna.composition_tests(
        counts[tested], sheet, smk.params.design, contrasts, smk.params.composition["pseudocount"]
    )
    logging.info(
        "composition changes with padj < 0.05:\n%s",
        tests[tests["padj"] < 0.05][
            ["contrast", "cell_type", "log2_prop_ratio", "padj"]
        ].to_string(),
    )
    io.write_tsv(tests, smk.output.tests, index=False)


run_rule(main, snakemake)
