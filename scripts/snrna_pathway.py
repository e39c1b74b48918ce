"""Rule snrna_pathway: Tiam1/Rac1 genes and gene sets per animal and cell type."""

import anndata as ad
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    pb = ad.read_h5ad(smk.input.h5ad)
    sheet = io.read_sample_sheet(smk.input.samples)
    sets = io.read_gmt(smk.input.genesets)
    table = snrna.pathway_table(pb, sheet, sets, smk.params.genes)
    io.write_tsv(table, smk.output.table, index=False)


run_rule(main, snakemake)
