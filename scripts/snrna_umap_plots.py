"""Rule snrna_umap_plots: UMAPs by cell type, sample, condition and pathway genes."""

import logging

import numpy as np
from acc_tiam1 import plotting, snrna
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots
from scipy import sparse


def main(smk):
    adata = snrna.read_h5ad_parts(smk.input.h5ad, x=True, obsm=["X_umap"])
    xy = np.asarray(adata.obsm["X_umap"])
    obs = adata.obs
    n = adata.n_obs
    plotting.save(
        plots.umap_categorical(
            xy, obs["cell_type"], f"Cell types ({n} nuclei)", label_on_data=True
        ),
        smk.output.cell_type,
    )
    plotting.save(plots.umap_categorical(xy, obs["sample"], "Samples (animals)"), smk.output.sample)
    colour = smk.params.colour_by
    plotting.save(plots.umap_categorical(xy, obs[colour], f"{colour}"), smk.output.condition)
    symbols = adata.var["gene"].astype(str).to_numpy()
    values = {}
    for gene in smk.params.genes:
        hits = np.flatnonzero(symbols == gene)
        if not len(hits):
            logging.warning("gene %s is not in the data", gene)
            continue
        col = adata.X[:, hits[0]]
        values[gene] = np.asarray(col.toarray() if sparse.issparse(col) else col).ravel()
    plotting.save(plots.umap_genes(xy, values, "Pathway genes"), smk.output.genes)


run_rule(main, snakemake)
