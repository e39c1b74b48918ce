"""Rule snrna_annotation_plots: marker dot plot and marker scores per cluster."""

import numpy as np
import pandas as pd
from acc_tiam1 import io, plots, snrna, snrna_plots
from acc_tiam1.runner import run_rule
from scipy import sparse


def main(smk):
    adata = snrna.read_h5ad_parts(smk.input.h5ad, x=True, obsm=["marker_scores"])
    markers = io.read_markers(smk.input.markers)
    found = snrna.marker_genes(markers, adata.var["gene"])
    symbols = adata.var["gene"].astype(str).to_numpy()
    first = pd.Series(np.arange(len(symbols)), index=symbols)
    first = first[~first.index.duplicated()]
    genes = list(dict.fromkeys(g for gs in found.values() for g in gs))
    x = adata.X[:, first.loc[genes].to_numpy()]
    x = x.toarray() if sparse.issparse(x) else np.asarray(x)
    types = adata.obs["cell_type"]
    present = [t for t in types.cat.categories if (types == t).any()]
    mean = pd.DataFrame({t: x[(types == t).to_numpy()].mean(axis=0) for t in present},
                        index=genes).T
    frac = pd.DataFrame({t: (x[(types == t).to_numpy()] > 0).mean(axis=0) for t in present},
                        index=genes).T
    fig = snrna_plots.dotplot(mean, frac, {t: found[t] for t in found},
                              "Marker genes by assigned cell type")
    plots.save(fig, smk.output.dotplot)

    clusters = io.read_tsv(smk.input.clusters)
    clusters.index = clusters.index.astype(str)
    scores = pd.DataFrame(adata.obsm["marker_scores"], index=adata.obs_names,
                          columns=adata.uns["marker_score_types"])
    means = scores.groupby(adata.obs["leiden"].astype(str).to_numpy()).mean()
    means = means.loc[sorted(means.index, key=int)]
    plots.save(snrna_plots.cluster_scores(means, clusters["cell_type"]), smk.output.scores)


run_rule(main, snakemake)
