"""Rule demo_snrna: simulate the single-nucleus part of the demo study."""

import logging

from acc_tiam1 import config, demo, demo_snrna, io
from acc_tiam1.runner import run_rule


def main(smk):
    sheet = io.read_sample_sheet(smk.input.samples)
    modules = {
        k: v
        for k, v in io.read_gmt(smk.input.genesets).items()
        if k in (*demo.CORE_MODULES, demo.ACTIVITY_MODULE)
    }
    markers = io.read_markers(smk.input.markers)
    study = demo_snrna.build_study(
        markers, modules, n_genes=smk.params.n_genes, seed=smk.params.seed,
        cell_types=smk.params.cell_types,
    )
    truths = []
    for i, (sample, row) in enumerate(sheet.iterrows()):
        adata, truth = demo_snrna.simulate_sample(
            study, sample, row.to_dict(), i, smk.params.nuclei_per_sample
        )
        path = config.resolve_sample_path(row["path"], smk.input.samples)
        demo_snrna.write_sample(adata, path)
        logging.info("%s: %d nuclei x %d genes (%d doublets, %d low-quality) -> %s",
                     sample, adata.n_obs, adata.n_vars, truth["doublet"].sum(),
                     truth["low_quality"].sum(), path)
        truths.append(truth)
    import pandas as pd

    io.write_tsv(pd.concat(truths, ignore_index=True), smk.output.truth_nuclei, index=False)
    io.write_tsv(demo_snrna.truth_genes(study), smk.output.truth_genes, index=False)
    io.write_tsv(study.cell_types, smk.output.truth_cell_types)


run_rule(main, snakemake)
