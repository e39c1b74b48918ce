"""Rule snrna_annotation_plots: marker dot plot, marker scores per cluster, and UMAPs by
cell type, sample, condition and pathway genes."""

import logging

from acc_tiam1 import io, plotting, snrna
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    p = smk.params
    markers = io.read_markers(smk.input.markers)
    symbols = {g for genes in markers["markers"] for g in genes} | set(p.genes)
    qc = dict(zip(p.samples, smk.input.qc, strict=True))
    genes = snrna.read_h5ad_parts(smk.input.h5ad, x=False).var_names
    nuclei = snrna.read_annotation_table(smk.input.nuclei)
    adata = snrna.lognorm_genes(qc, symbols, genes=genes)[nuclei.index].copy()
    snrna.apply_annotation(adata, nuclei, list(markers["cell_type"]))

    mean, fraction, groups = snrna.marker_expression(adata, markers)
    fig = plots.dotplot(mean, fraction, groups, "Marker genes by assigned cell type")
    plotting.save(fig, smk.output.dotplot)
    clusters = io.read_tsv(smk.input.clusters)
    clusters.index = clusters.index.astype(str)
    means = snrna.cluster_score_means(adata)
    plotting.save(plots.cluster_scores(means, clusters["cell_type"]), smk.output.scores)

    xy = io.read_tsv(smk.input.umap).loc[adata.obs_names, ["UMAP1", "UMAP2"]].to_numpy()
    sheet = io.read_sample_sheet(smk.input.samples)
    sample = adata.obs["sample"].astype(str)
    title = f"Cell types ({adata.n_obs} nuclei)"
    umaps = {
        smk.output.cell_type: plots.umap_categorical(
            xy, adata.obs["cell_type"], title, label_on_data=True
        ),
        smk.output.sample: plots.umap_categorical(
            xy, snrna.sample_categories(sample, sheet), "Samples (animals)"
        ),
        smk.output.condition: plots.umap_categorical(
            xy, snrna.sample_categories(sample, sheet, p.colour_by), p.colour_by
        ),
    }
    for path, fig in umaps.items():
        plotting.save(fig, path)
    values = snrna.gene_values(adata, p.genes)
    for gene in sorted(set(p.genes) - set(values)):
        logging.warning("gene %s is not in the data", gene)
    plotting.save(plots.umap_genes(xy, values, "Pathway genes"), smk.output.genes)


run_rule(main, snakemake)
