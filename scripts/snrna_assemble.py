"""Rule snrna_assemble: the annotated object of every nucleus (raw and ambient-corrected
counts, QC metrics, contamination, cell types, marker scores, PCs, Harmony, UMAP,
neighbour graph)."""

from pathlib import Path

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
    soups = {}
    if p.ambient_method == "soup":
        files = zip(smk.input.summaries, smk.input.soups, strict=True)
        soups = snrna.read_soups(dict(zip(p.samples, files, strict=True)), genes)
    qc = dict(zip(p.samples, smk.input.qc, strict=True))
    nuclei = snrna.corrected_samples(qc, ambient, cell_types, genes, soups)
    # The counts go to disk sample by sample: every nucleus' counts, raw and corrected,
    # would be the largest thing in memory.
    with snrna.CountsStore(Path(smk.output.h5ad).parent) as counts:
        adata = snrna.merge_samples(nuclei, sheet, p.allow_gene_intersection, counts=counts)
        markers = io.read_markers(smk.input.markers)
        snrna.apply_annotation(
            adata, snrna.read_annotation_table(smk.input.nuclei), list(markers["cell_type"])
        )
        umap = io.read_tsv(smk.input.umap).loc[adata.obs_names]
        snrna.assemble(adata, integrated, umap[["UMAP1", "UMAP2"]].to_numpy())
        snrna.write_h5ad(adata, smk.output.h5ad, counts=counts)


run_rule(main, snakemake)
