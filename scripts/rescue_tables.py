"""Rule rescue_tables: gene classes, class counts and gene-set reversal of every dataset
of one branch (bulk, or each snRNA cell type), stacked with a ``dataset`` column."""

import logging

import pandas as pd
from acc_tiam1 import enrichment, io, rescue
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    focus = {
        s.term: s.genes
        for s in enrichment.read_genesets(smk.input.genesets)
        if s.term in p.focus_sets
    }
    genes, counts, pathways = [], [], []
    for dataset_id, pain, ketamine, pain_gsea, ketamine_gsea in zip(
        p.datasets,
        smk.input.pain,
        smk.input.ketamine,
        smk.input.pain_gsea,
        smk.input.ketamine_gsea,
        strict=True,
    ):
        dataset = p.titles.get(dataset_id, dataset_id)
        classified = rescue.classify_genes(
            io.read_tsv(pain, index_col=None),
            io.read_tsv(ketamine, index_col=None),
            padj=p.padj,
            lfc_threshold=p.lfc_threshold,
            rescued_fraction=p.rescued_fraction,
            partial_fraction=p.partial_fraction,
        )
        table = rescue.class_counts(classified, focus)
        reversal = rescue.pathway_reversal(
            io.read_tsv(pain_gsea, index_col=None),
            io.read_tsv(ketamine_gsea, index_col=None),
            p.fdr,
        )
        logging.info(
            "%s (%s vs %s):\n%s",
            dataset,
            p.pain_contrast,
            p.ketamine_contrast,
            table.to_string(index=False),
        )
        for frame, out in ((classified, genes), (table, counts), (reversal, pathways)):
            out.append(frame.assign(dataset=dataset)[["dataset", *frame.columns]])
    for frames, path in (
        (genes, smk.output.genes),
        (counts, smk.output.counts),
        (pathways, smk.output.pathways),
    ):
        table = (
            pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["dataset"])
        )
        io.write_tsv(table, path, index=False)


run_rule(main, snakemake)
