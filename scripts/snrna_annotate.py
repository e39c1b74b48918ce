"""Rule snrna_annotate: Leiden clusters and marker-based cell types."""

import logging

from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    graph = snrna.read_h5ad_parts(smk.input.h5ad, x=False, graph=True)
    markers = io.read_markers(smk.input.markers)
    symbols = {g for genes in markers["markers"] for g in genes}
    qc = dict(zip(smk.params.samples, smk.input.qc, strict=True))
    adata = snrna.lognorm_genes(qc, symbols, genes=graph.var_names)[graph.obs_names].copy()
    adata.obs = graph.obs
    adata.obsp = graph.obsp
    adata.uns["neighbors"] = graph.uns["neighbors"]
    p = smk.params.annotation
    table, warnings = snrna.annotate(adata, markers, p["resolution"], smk.params.seed, p)
    counts = adata.obs["cell_type"].value_counts()
    logging.info(
        "%d Leiden clusters; nuclei per cell type:\n%s", len(table), counts[counts > 0].to_string()
    )
    for sentence in snrna.warning_sentences(warnings):
        logging.warning("%s", sentence)
    io.write_tsv(table, smk.output.clusters)
    io.write_tsv(warnings, smk.output.warnings, index=False)
    io.write_tsv(snrna.annotation_table(adata), smk.output.nuclei)


run_rule(main, snakemake)
