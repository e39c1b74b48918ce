"""Rule snrna_assemble: the annotated object of every nucleus (raw and ambient-corrected
counts, QC metrics, contamination, cell types, marker scores, PCs, Harmony, UMAP,
neighbour graph)."""

import anndata as ad
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    sheet = io.read_sample_sheet(smk.input.samples)
    integrated = ad.read_h5ad(smk.input.h5ad)  # no expression matrix: small
    genes = integrated.var_names
    cell_types = snrna.read_annotation_table(smk.input.nuclei)["cell_type"]
    ambient = io.read_tsv(smk.input.ambient)
    parts = {}
    inputs = zip(p.samples, smk.input.qc, smk.input.summaries, smk.input.soups, strict=True)
    for sample, h5ad, summary, soup_path in inputs:
        adata = snrna.read_qc_sample(h5ad, sample)[:, genes]
        soup = None
        if p.ambient_method == "soup":
            row = io.read_tsv(summary, index_col=None).iloc[0].to_dict()
            soup = snrna.read_soup(io.read_tsv(soup_path, index_col=None), row, genes)
        parts[sample] = snrna.apply_ambient(adata, ambient, soup, cell_types)
    adata = snrna.merge_samples(parts, sheet, p.allow_gene_intersection)
    del parts
    # Co-expression doublets (found after integration) are not part of the result.
    kept = integrated.obs_names[integrated.obs_names.isin(adata.obs_names)]
    integrated = integrated[kept].copy()
    adata = adata[kept].copy()
    markers = io.read_markers(smk.input.markers)
    snrna.apply_annotation(
        adata, snrna.read_annotation_table(smk.input.nuclei), list(markers["cell_type"])
    )
    umap = io.read_tsv(smk.input.umap).loc[adata.obs_names]
    snrna.assemble(adata, integrated, umap[["UMAP1", "UMAP2"]].to_numpy())
    snrna.write_h5ad(adata, smk.output.h5ad)


run_rule(main, snakemake)
