"""Rules *_de_summary: number of significant genes per DE table."""

from acc_tiam1 import de, io
from acc_tiam1.runner import run_rule


def main(smk):
    tables = {
        name: io.read_tsv(path, index_col=None)
        for name, path in zip(smk.params.names, smk.input.tables, strict=True)
    }
    io.write_tsv(de.summarise_tables(tables, smk.params.alpha), smk.output.summary, index=False)


run_rule(main, snakemake)
