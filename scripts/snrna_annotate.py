"""Rule snrna_annotate: Leiden clusters and marker-based cell types."""

import logging

from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    adata = snrna.read_h5ad_parts(smk.input.h5ad, x=True, graph=True)
    markers = io.read_markers(smk.input.markers)
    p = smk.params.annotation
    table = snrna.annotate(
        adata, markers, p["resolution"], p["min_score"], p["min_fraction"], smk.params.seed
    )
    counts = adata.obs["cell_type"].value_counts()
    logging.info(
        "%d Leiden clusters; nuclei per cell type:\n%s", len(table), counts[counts > 0].to_string()
    )
    io.write_tsv(table, smk.output.clusters)
    io.write_tsv(snrna.annotation_table(adata), smk.output.nuclei)


run_rule(main, snakemake)
