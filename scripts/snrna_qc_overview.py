"""Rule snrna_qc_overview: nuclei kept and removed per sample."""

from acc_tiam1 import io, plotting
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    table = io.read_tsv(smk.input.table, index_col=None)
    plotting.save(plots.qc_overview(table), smk.output.png)


run_rule(main, snakemake)
