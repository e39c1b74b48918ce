"""Rule enrichment_ora: over-representation of up- and down-regulated genes (gseapy).

One job for every DE table: gseapy is imported once.
"""

import logging

from acc_tiam1 import enrichment, io
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    sets = enrichment.read_genesets(smk.input.genesets)
    tables = {
        tuple(key): io.read_tsv(path, index_col=None)
        for key, path in zip(p.table_keys, smk.input.tables, strict=True)
    }
    result = enrichment.ora_tables(
        tables,
        sets,
        padj=p.padj,
        lfc_threshold=p.lfc_threshold,
        min_size=p.min_size,
        max_size=p.max_size,
    )
    logging.info(
        "%d DE tables; %d rows with overlap", len(tables), int(result["term"].notna().sum())
    )
    io.write_tsv(result, smk.output.table, index=False)
    io.write_tsv(enrichment.ora_summary(result, p.fdr), smk.output.overview, index=False)


run_rule(main, snakemake)
