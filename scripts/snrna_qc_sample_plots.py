"""Rule snrna_qc_sample_plots: per-sample nucleus QC with the thresholds used."""

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
        row = io.read_tsv(summary, index_col=None).iloc[0].to_dict()
        plotting.save(plots.qc_sample(io.read_tsv(nuclei), row, sample), png)


run_rule(main, snakemake)
