"""Rules bulk_de_plots and snrna_de_plots: volcano plot, MA plot and a searchable page of
every DE table of the bulk branch, or of one contrast in every cell type (a contrast a
cell type did not test gets a note instead, with the pseudobulk plan's reason)."""

from acc_tiam1 import io, plotting, snrna
from acc_tiam1.de import plots
from acc_tiam1.html_table import interactive_table, message_page
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    skipped = {}
    if "plan" in smk.input.keys():
        _, skipped = snrna.plan_pairs(io.read_tsv(smk.input.plan, index_col=None))
    outputs = zip(
        p.datasets,
        p.titles,
        smk.input.tables,
        smk.output.volcano,
        smk.output.ma,
        smk.output.html,
        strict=True,
    )
    for key, title, table_path, volcano, ma, html in outputs:
        if key in skipped:
            note = f"Not tested: {skipped[key]}."
            for path in (volcano, ma):
                plotting.save(plotting.message_figure(title, note), path)
            io.write_text(message_page(title, note), html)
            continue
        table = io.read_tsv(table_path, index_col=None)
        plotting.save(
            plots.volcano(
                table, title, p.padj_threshold, p.lfc_threshold, p.label_top, p.highlight_genes
            ),
            volcano,
        )
        plotting.save(plots.ma(table, title, p.padj_threshold, p.label_top, p.highlight_genes), ma)
        keep = table["gene"].isin(p.highlight_genes)
        io.write_text(interactive_table(table, title, p.note, p.max_rows, keep), html)


run_rule(main, snakemake)
