"""Rules enrichment_gsea_* (every DE table of a branch) and rescue_interaction_gsea (one
table): GSEA prerank of DE tables on their Wald statistic."""

import logging

from acc_tiam1 import enrichment, io
from acc_tiam1.runner import run_rule


def gsea(path, sets, p):
    table = io.read_tsv(path, index_col=None)
    ranking = enrichment.ranking_from_de(table, "stat", where=path)
    result = enrichment.prerank(
        ranking,
        sets,
        min_size=p["min_size"],
        max_size=p["max_size"],
        permutations=p["permutations"],
        seed=p["seed"],
        weight=p["weight"],
    )
    logging.info("%s: %d ranked genes", path, len(ranking))
    enrichment.log_summary(result, 0.05, path)
    for _, row in result[result["genes_found"] == 0].iterrows():
        logging.warning("gene set %s (%s): %s", row["term"], row["source"], row["note"])
    return result


def main(smk):
    p = smk.params.gsea
    sets = enrichment.read_genesets(smk.params.genesets)
    logging.info(
        "%d gene sets from %d file(s); %d permutations, seed %d",
        len(sets),
        len(smk.params.genesets),
        p["permutations"],
        p["seed"],
    )
    if "tables" not in smk.input.keys():
        io.write_tsv(gsea(smk.input.table, sets, p), smk.output.table, index=False)
        return
    tables = {
        tuple(k): path for k, path in zip(smk.params.table_keys, smk.input.tables, strict=True)
    }
    for key, out in zip(smk.params.outputs, smk.output.tables, strict=True):
        if tuple(key) in tables:
            result = gsea(tables[tuple(key)], sets, p)
        else:
            note = "contrast not tested in this dataset (no DE table); nothing tested"
            logging.info("%s %s: %s", *key, note)
            result = enrichment.untested_table(sets, note)
        io.write_tsv(result, out, index=False)


run_rule(main, snakemake)
