"""Rule rescue_tables: gene classes, class counts and gene-set rescue of every dataset of
one branch (bulk, or each snRNA cell type), stacked with a ``dataset`` column.

Genes: DESeq2 padj of the pain and the ketamine contrast and the DE job's equivalence
test. Gene sets: the CAMERA calls of the enrichment summary (focus sets across
datasets) and the set-score equivalence test."""

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
    nes = io.read_tsv(smk.input.nes, index_col=None)
    set_eq = io.read_tsv(smk.input.set_equivalence, index_col=None)
    label = enrichment.ACROSS_METHODS[p.across]
    genes, counts, pathways = [], [], []
    for dataset_id, pain, ketamine, equivalence in zip(
        p.datasets, smk.input.pain, smk.input.ketamine, smk.input.equivalence, strict=True
    ):
        dataset = p.titles.get(dataset_id, dataset_id)
        classified = rescue.classify_genes(
            io.read_tsv(pain, index_col=None),
            io.read_tsv(ketamine, index_col=None),
            io.read_tsv(equivalence, index_col=None),
            padj=p.padj,
            reference=p.reference,
        )
        table = rescue.class_counts(classified, focus)
        mine = nes[nes["dataset"] == dataset_id]
        reversal = rescue.pathway_rescue(
            mine[mine["contrast"] == p.pain_contrast],
            mine[mine["contrast"] == p.ketamine_contrast],
            set_eq[set_eq["dataset"] == dataset_id],
            p.fdr,
            label,
        )
        logging.info(
            "%s (%s vs %s):\n%s\nfocus sets:\n%s",
            dataset,
            p.pain_contrast,
            p.ketamine_contrast,
            table.to_string(index=False),
            reversal.loc[reversal["focus"], ["term", "class", "FDR_pain", "FDR_ketamine"]],
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
        if path == smk.output.genes:
            io.write_text(rescue.genes_page(table, p.max_rows, p.highlight), smk.output.genes_html)


run_rule(main, snakemake)
