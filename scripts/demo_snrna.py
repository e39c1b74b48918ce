"""Rule demo_snrna: simulate the single-nucleus part of the demo study."""

import logging

import pandas as pd
from acc_tiam1 import demo, inputs, io
from acc_tiam1.runner import run_rule


def main(smk):
    sheet = io.read_sample_sheet(smk.input.samples)
    modules = demo.demo_modules(smk.input.genesets)
    markers = io.read_markers(smk.input.markers)
    study = demo.build_study(
        markers,
        modules,
        n_genes=smk.params.n_genes,
        seed=smk.params.seed,
        cell_types=smk.params.cell_types,
    )
    truths = []
    for i, (sample, row) in enumerate(sheet.iterrows()):
        adata, truth = demo.simulate_sample(
            study, sample, row.to_dict(), i, smk.params.nuclei_per_sample
        )
        path = inputs.resolve_sample_path(row["path"], smk.input.samples)
        demo.write_sample(adata, path)
        logging.info(
            "%s: %d nuclei x %d genes (%d doublets, %d low-quality) -> %s",
            sample,
            adata.n_obs,
            adata.n_vars,
            truth["doublet"].sum(),
            truth["low_quality"].sum(),
            path,
        )
        truths.append(truth)
    io.write_tsv(pd.concat(truths, ignore_index=True), smk.output.truth_nuclei, index=False)
    io.write_tsv(demo.truth_genes(study), smk.output.truth_genes, index=False)
    io.write_tsv(study.cell_types, smk.output.truth_cell_types)


run_rule(main, snakemake)
