"""Rules *_table_html: a result table as a searchable, sortable HTML page for the report."""

from acc_tiam1 import io
from acc_tiam1.html_table import interactive_table
from acc_tiam1.runner import run_rule


def main(smk):
    table = io.read_tsv(smk.input.table, index_col=None)
    page = interactive_table(table, smk.params.title, smk.params.note, smk.params.max_rows)
    io.write_text(page, smk.output.html)


run_rule(main, snakemake)
