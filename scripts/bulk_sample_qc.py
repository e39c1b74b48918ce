"""Rule bulk_sample_qc: blind VST, per-sample metrics, PCA, distances and outlier flags."""

import logging

import pandas as pd
from acc_tiam1 import bulk, io, sexcheck
from acc_tiam1.runner import run_rule


def main(smk):
    counts, genes = io.read_prepared_counts(smk.input.counts)
    vst = bulk.vst(counts)
    io.write_tsv(genes.join(vst), smk.output.vst)
    top = bulk.top_variable(vst, smk.params.top_variable_genes)
    scores, explained = bulk.pca(top)
    distances = bulk.sample_distances(top)
    sheet = io.read_sample_sheet(smk.input.samples)
    groups = sheet[smk.params.group_by] if smk.params.group_by in sheet else None
    table = bulk.flag_outliers(
        bulk.library_stats(counts), distances, smk.params.outlier_mad, groups=groups
    )
    table = table.join(scores)
    flagged = table.index[table["outlier"]].tolist()
    logging.info("flagged outliers (kept in the analysis): %s", flagged or "none")
    io.write_tsv(table, smk.output.table)
    io.write_tsv(distances, smk.output.distances)
    io.write_tsv(
        pd.DataFrame({"component": scores.columns, "variance_explained": explained}),
        smk.output.variance,
        index=False,
    )
    sex, mismatches = sexcheck.sex_check(sexcheck.sex_gene_counts(counts, genes["gene"]), sheet)
    io.write_tsv(sex, smk.output.sex)
    sexcheck.act_on_mismatches(mismatches, sex, smk.params.sex_mismatch, smk.input.samples)


run_rule(main, snakemake)
