"""Rule snrna_qc_plots: per-sample nucleus QC with the thresholds used, and nuclei kept and
removed per sample."""

from acc_tiam1 import io, plotting
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    per_sample = zip(
        smk.params.samples,
        smk.input.nuclei,
        smk.input.summaries,
        smk.output.per_sample,
        strict=True,
    )
    for sample, nuclei, summary, png in per_sample:
        fig = plots.qc_sample(
            io.read_tsv(nuclei), io.read_tsv(summary, index_col=None).iloc[0].to_dict(), sample
        )
        plotting.save(fig, png)
    table = io.read_tsv(smk.input.table, index_col=None)
    plotting.save(plots.qc_overview(table), smk.output.overview)


run_rule(main, snakemake)
