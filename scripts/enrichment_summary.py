"""Rule enrichment_summary: all GSEA results in one long table; gene-set coverage."""

from acc_tiam1 import enrichment, io
from acc_tiam1.runner import run_rule


def main(smk):
    tables, meta = {}, {}
    for (dataset, contrast), path in zip(smk.params.table_keys, smk.input.tables, strict=True):
        key = f"{dataset}:{contrast}"
        tables[key] = io.read_tsv(path, index_col=None)
        meta[key] = {"dataset": dataset, "contrast": contrast}
    io.write_tsv(enrichment.long_results(tables, meta), smk.output.nes, index=False)
    # Genes found per dataset: from its first contrast (every contrast of a dataset ranks
    # the same genes, up to genes without a statistic).
    first = {}
    for key, m in meta.items():
        first.setdefault(m["dataset"], tables[key])
    io.write_tsv(enrichment.coverage_table(first), smk.output.coverage, index=False)


run_rule(main, snakemake)
