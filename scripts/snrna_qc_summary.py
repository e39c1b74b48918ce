"""Rule snrna_qc_summary: nuclei removed by each filter, one row per sample."""

import logging

import pandas as pd
from acc_tiam1 import io
from acc_tiam1.runner import run_rule


def main(smk):
    table = pd.concat(
        [io.read_tsv(p, index_col=None) for p in smk.input.summaries], ignore_index=True
    )
    logging.info("%d of %d nuclei kept", table["nuclei_kept"].sum(), table["nuclei_in"].sum())
    io.write_tsv(table, smk.output.table, index=False)


run_rule(main, snakemake)
