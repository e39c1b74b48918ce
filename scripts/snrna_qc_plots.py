"""Rule snrna_qc_plots: QC metrics of one sample's nuclei with the thresholds used."""

from acc_tiam1 import io, plotting
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    nuclei = io.read_tsv(smk.input.nuclei)
    summary = io.read_tsv(smk.input.summary, index_col=None).iloc[0].to_dict()
    fig = plots.qc_sample(nuclei, summary, smk.wildcards.sample)
    plotting.save(fig, smk.output.png)


run_rule(main, snakemake)
