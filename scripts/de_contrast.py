"""Rules *_de_contrast: Wald test of one contrast on a saved fit."""

import logging

from acc_tiam1 import de, design, io
from acc_tiam1.runner import run_rule


def main(smk):
    dds = de.load_fit(smk.input.fit)
    contrast = design.Contrast(**smk.params.contrast)
    genes = dds.var[["gene"]].rename_axis("gene_id")
    p = smk.params.de
    table = de.contrast_table(
        dds,
        contrast,
        genes,
        alpha=p["alpha"],
        cooks_filter=p["cooks_filter"],
        independent_filter=p["independent_filter"],
        shrink=p["lfc_shrink"],
    )
    logging.info(
        "%s: %d genes with padj < %g",
        contrast.name,
        int((table["padj"] < p["alpha"]).sum()),
        p["alpha"],
    )
    io.write_tsv(table, smk.output.table, index=False)


run_rule(main, snakemake)
