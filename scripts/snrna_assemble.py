"""Rule snrna_assemble: the annotated object of every nucleus (raw counts, QC metrics,
cell types, marker scores, PCs, Harmony, UMAP, neighbour graph)."""

import anndata as ad
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    sheet = io.read_sample_sheet(smk.input.samples)
    integrated = ad.read_h5ad(smk.input.h5ad)  # no expression matrix: small
    adatas = {
        s: snrna.read_qc_sample(p, s) for s, p in zip(smk.params.samples, smk.input.qc, strict=True)
    }
    adata = snrna.merge_samples(adatas, sheet, smk.params.allow_gene_intersection)
    del adatas
    adata = adata[integrated.obs_names, integrated.var_names].copy()
    markers = io.read_markers(smk.input.markers)
    snrna.apply_annotation(
        adata, snrna.read_annotation_table(smk.input.nuclei), list(markers["cell_type"])
    )
    umap = io.read_tsv(smk.input.umap).loc[adata.obs_names]
    snrna.assemble(adata, integrated, umap[["UMAP1", "UMAP2"]].to_numpy())
    snrna.write_h5ad(adata, smk.output.h5ad)


run_rule(main, snakemake)
