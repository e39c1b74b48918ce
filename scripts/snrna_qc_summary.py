"""Rule snrna_qc_summary: nuclei removed by each filter and doublet rule, one row per
sample."""

import logging

import pandas as pd
from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    table = pd.concat(
        [io.read_tsv(p, index_col=None) for p in smk.input.summaries], ignore_index=True
    )
    ambient = io.read_tsv(smk.input.contamination, index_col=None)
    table = snrna.filter_summary(table, ambient.set_index("sample")["coexpression_doublets"])
    logging.info("%d of %d nuclei kept", table["nuclei_kept"].sum(), table["nuclei_in"].sum())
    io.write_tsv(table, smk.output.table, index=False)


run_rule(main, snakemake)
