"""Rules enrichment_gsea_* (every DE table of a branch) and rescue_interaction_gsea (one
table): GSEA prerank of DE tables on their Wald statistic, and CAMERA of the same gene
sets on the DE fit's model (limma's moderated t on log2(normalised count + 1), design
matrix and contrast vector of the DE job)."""

import logging

from acc_tiam1 import de, enrichment, io
from acc_tiam1.runner import run_rule


def gsea(table, path, sets, p):
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


def with_camera(path, model, contrast, sets, p):
    """GSEA and CAMERA of one DE table; ``model`` = (normalised counts, design, contrasts)."""
    table = io.read_tsv(path, index_col=None)
    result = gsea(table, path, sets, p)
    expression = enrichment.log_normalized(io.read_tsv(model[0]))
    design = io.read_tsv(model[1])
    vector = de.read_contrast(io.read_tsv(model[2]), contrast, design)
    camera = enrichment.camera_de(
        table, expression, design, vector, sets, p["min_size"], p["max_size"]
    )
    tested = camera["tested"].astype(bool)
    logging.info(
        "%s: CAMERA tested %d sets; %d at FDR < 0.05 (%s)",
        path,
        int(tested.sum()),
        int((tested & (camera["FDR"] < 0.05)).sum()),
        camera["statistic"].iloc[0] if len(camera) else "",
    )
    return enrichment.add_camera(result, camera)


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
        model = (smk.input.normalized, smk.input.design, smk.input.contrasts)
        result = with_camera(smk.input.table, model, smk.params.coefficient, sets, p)
        io.write_tsv(result, smk.output.table, index=False)
        return
    tables = {
        tuple(k): path for k, path in zip(smk.params.table_keys, smk.input.tables, strict=True)
    }
    models = {
        dataset: files
        for dataset, *files in zip(
            smk.params.model_keys,
            smk.input.normalized,
            smk.input.design,
            smk.input.contrasts,
            strict=True,
        )
    }
    for key, out in zip(smk.params.outputs, smk.output.tables, strict=True):
        dataset, contrast = key
        if tuple(key) in tables:
            result = with_camera(tables[tuple(key)], models[dataset], contrast, sets, p)
        else:
            note = "contrast not tested in this dataset (no DE table); nothing tested"
            logging.info("%s %s: %s", *key, note)
            result = enrichment.add_camera(enrichment.untested_table(sets, note), None)
        io.write_tsv(result, out, index=False)


run_rule(main, snakemake)
