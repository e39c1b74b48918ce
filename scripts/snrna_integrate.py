"""Rule snrna_integrate: merge samples, normalise, HVGs, PCA, Harmony, neighbour graph."""

import json
import logging

from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    sheet = io.read_sample_sheet(smk.input.samples)
    qc = dict(zip(smk.params.samples, smk.input.h5ads, strict=True))
    adata = snrna.merge_samples(
        snrna.iter_qc_samples(qc), sheet, smk.params.allow_gene_intersection
    )
    logging.info("merged: %d nuclei x %d genes", adata.n_obs, adata.n_vars)
    snrna.normalise(adata, keep_counts=False)
    p = smk.params.integration
    info = snrna.integrate(
        adata,
        n_top_genes=p["n_top_genes"],
        n_pcs=p["n_pcs"],
        batch_key=p["batch_key"],
        harmony=p["harmony"],
        n_neighbors=p["n_neighbors"],
        exact_neighbors_max=p["exact_neighbors_max"],
        seed=smk.params.seed,
        threads=smk.threads,
    )
    logging.info("integration: %s", info)
    snrna.write_h5ad(snrna.integration_result(adata), smk.output.h5ad)
    # Small record of what was done, for the Methods text (no need to open the .h5ad).
    info.update(
        n_nuclei=adata.n_obs, n_genes=adata.n_vars, genes_dropped=adata.uns["genes_dropped"]
    )
    io.write_text(json.dumps(info, indent=1) + "\n", smk.output.info)


run_rule(main, snakemake)
