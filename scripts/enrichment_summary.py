"""Rule enrichment_summary: all enrichment results in one long table, with the focus
sets' CAMERA p-values adjusted across datasets per contrast and the call of every set;
the focus sets' rows alone (for the report); gene-set coverage."""

import logging

from acc_tiam1 import enrichment, io
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    tables, meta = {}, {}
    for (dataset, contrast), path in zip(p.table_keys, smk.input.tables, strict=True):
        key = f"{dataset}:{contrast}"
        tables[key] = io.read_tsv(path, index_col=None)
        meta[key] = {"dataset": dataset, "contrast": contrast}
    long = enrichment.long_results(tables, meta)
    if len(long):
        long = enrichment.across_datasets(long, p.focus_sets, p.across, p.fdr)
        called = long[long["focus"] & long["call"].isin(["up", "down"])]
        logging.info(
            "focus-set calls (%s):\n%s",
            enrichment.ACROSS_METHODS[p.across],
            called[["contrast", "dataset", "term", "call", "camera_FDR", "call_FDR"]].to_string(
                index=False
            )
            if len(called)
            else "none",
        )
    io.write_tsv(long, smk.output.nes, index=False)
    focus = long[long["focus"]] if len(long) else long
    io.write_tsv(focus, smk.output.focus, index=False)
    # Genes found per dataset: from its first contrast (every contrast of a dataset ranks
    # the same genes, up to genes without a statistic).
    first = {}
    for key, m in meta.items():
        first.setdefault(m["dataset"], tables[key])
    io.write_tsv(enrichment.coverage_table(first), smk.output.coverage, index=False)


run_rule(main, snakemake)
