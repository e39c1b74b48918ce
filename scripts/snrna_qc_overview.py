"""Rule snrna_qc_overview: nuclei kept and removed per sample."""

from acc_tiam1 import io, plots, snrna_plots
from acc_tiam1.runner import run_rule


def main(smk):
    table = io.read_tsv(smk.input.table, index_col=None)
    plots.save(snrna_plots.qc_overview(table), smk.output.png)


run_rule(main, snakemake)
