"""Rules *_de_contrast: Wald test of one contrast on a saved fit."""

import logging

from acc_tiam1 import de, design, io
from acc_tiam1.runner import run_rule


def main(smk):
    dds = de.load_fit(smk.input.fit)
    contrast = design.Contrast(**smk.params.contrast)
    genes = dds.var[["gene"]].rename_axis("gene_id")
    table = de.contrast_table(
        dds, contrast, genes, alpha=smk.params.alpha, cooks_filter=smk.params.cooks_filter,
        independent_filter=smk.params.independent_filter, shrink=smk.params.lfc_shrink,
        n_cpus=smk.threads,
    )
    logging.info("%s: %d genes with padj < %g", contrast.name,
                 int((table["padj"] < smk.params.alpha).sum()), smk.params.alpha)
    io.write_tsv(table, smk.output.table, index=False)


run_rule(main, snakemake)
