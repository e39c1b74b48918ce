"""Rule snrna_umap: UMAP of the neighbour graph (runs while nuclei are annotated)."""

import logging

import pandas as pd
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    adata = snrna.read_h5ad_parts(
        smk.input.h5ad, x=False, graph=True, obsm=["X_pca", "X_pca_harmony"]
    )
    xy = snrna.umap(adata, min_dist=smk.params.umap_min_dist, seed=smk.params.seed)
    logging.info("UMAP of %d nuclei", len(xy))
    table = pd.DataFrame(xy, index=adata.obs_names.rename("nucleus"), columns=["UMAP1", "UMAP2"])
    io.write_tsv(table, smk.output.umap)


run_rule(main, snakemake)
