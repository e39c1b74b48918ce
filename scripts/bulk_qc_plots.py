"""Rule bulk_qc_plots: library sizes, PCA per covariate, sample-distance heatmap, sex check."""

from acc_tiam1 import io, plotting, sexcheck
from acc_tiam1.bulk import plots
from acc_tiam1.runner import run_rule


def main(smk):
    sheet = io.read_sample_sheet(smk.input.samples)
    table = io.read_tsv(smk.input.table)
    variance = io.read_tsv(smk.input.variance, index_col=None)["variance_explained"].to_numpy()
    distances = io.read_tsv(smk.input.distances)
    covariates = [c for c in sheet.columns if 1 < sheet[c].nunique() < len(sheet)]
    colour_by = smk.params.colour_by if smk.params.colour_by in sheet else covariates[0]
    plotting.save(
        plots.library_sizes(table, sheet[colour_by], table["outlier"]), smk.output.library_sizes
    )
    scores = table[[c for c in table.columns if c.startswith("PC")]]
    plotting.save(plots.pca_grid(scores, variance, sheet, covariates), smk.output.pca)
    plotting.save(plots.distance_heatmap(distances, sheet, covariates[:2]), smk.output.distances)
    sex = io.read_tsv(smk.input.sex)
    plotting.save(sexcheck.plot_sex_check(sex, "Sex check (bulk)"), smk.output.sex)


run_rule(main, snakemake)
