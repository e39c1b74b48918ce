"""Rule snrna_assemble: the annotated AnnData (counts, log-normalised X, cell types, UMAP)."""

import anndata as ad
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    adata = ad.read_h5ad(smk.input.h5ad)
    markers = io.read_markers(smk.input.markers)
    table = snrna.read_annotation_table(smk.input.nuclei)
    snrna.apply_annotation(adata, table, list(markers["cell_type"]))
    umap = io.read_tsv(smk.input.umap).loc[adata.obs_names]
    adata.obsm["X_umap"] = umap[["UMAP1", "UMAP2"]].to_numpy()
    snrna.write_h5ad(adata, smk.output.h5ad)


run_rule(main, snakemake)
