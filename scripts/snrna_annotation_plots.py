"""Rule snrna_annotation_plots: marker dot plot and marker scores per cluster."""

from acc_tiam1 import io, plotting, snrna
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    adata = snrna.read_h5ad_parts(smk.input.h5ad, x=True, obsm=["marker_scores"])
    mean, fraction, groups = snrna.marker_expression(adata, io.read_markers(smk.input.markers))
    fig = plots.dotplot(mean, fraction, groups, "Marker genes by assigned cell type")
    plotting.save(fig, smk.output.dotplot)
    clusters = io.read_tsv(smk.input.clusters)
    clusters.index = clusters.index.astype(str)
    means = snrna.cluster_score_means(adata)
    plotting.save(plots.cluster_scores(means, clusters["cell_type"]), smk.output.scores)


run_rule(main, snakemake)
