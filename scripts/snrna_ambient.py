"""Rule snrna_ambient: contamination of every sample by ambient RNA (from genes its
annotated nuclei cannot express) and nuclei that co-express exclusive markers."""

import logging

import pandas as pd
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    markers = io.read_markers(smk.input.markers)
    cell_types = snrna.read_annotation_table(smk.input.nuclei)["cell_type"]
    rows, sets, nuclei = [], [], []
    inputs = zip(p.samples, smk.input.qc, smk.input.summaries, smk.input.soups, strict=True)
    for sample, h5ad, summary, soup_path in inputs:
        adata = snrna.read_qc_sample(h5ad, sample)
        summary_row = io.read_tsv(summary, index_col=None).iloc[0].to_dict()
        soup = snrna.read_soup(io.read_tsv(soup_path, index_col=None), summary_row, adata.var_names)
        row, per_set, table = snrna.sample_ambient(
            adata, cell_types, markers, soup, sample, p.method, p.coexpression, p.seed
        )
        logging.info(
            "%s: contamination %.4f (%s basis); %d co-expression doublets",
            sample,
            row["rho"],
            soup.basis,
            row["coexpression_doublets"],
        )
        rows.append(row)
        sets.append(per_set)
        nuclei.append(table)
    io.write_tsv(pd.DataFrame(rows), smk.output.contamination, index=False)
    io.write_tsv(pd.concat(sets, ignore_index=True), smk.output.sets, index=False)
    io.write_tsv(pd.concat(nuclei).rename_axis("nucleus"), smk.output.nuclei)


run_rule(main, snakemake)
