"""Rules *_de_plots: volcano and MA plot of one DE table."""

from acc_tiam1 import io, plotting
from acc_tiam1.de import plots
from acc_tiam1.runner import run_rule


def main(smk):
    table = io.read_tsv(smk.input.table, index_col=None)
    p = smk.params
    plotting.save(
        plots.volcano(
            table, p.title, p.padj_threshold, p.lfc_threshold, p.label_top, p.highlight_genes
        ),
        smk.output.volcano,
    )
    plotting.save(
        plots.ma(table, p.title, p.padj_threshold, p.label_top, p.highlight_genes),
        smk.output.ma,
    )


run_rule(main, snakemake)
