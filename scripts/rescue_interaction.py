"""Rule rescue_interaction_de: bulk DESeq2 fit with the surgery x drug interaction, and
its model (normalised counts, design matrix, the coefficient as a contrast vector) for
CAMERA."""

import logging

import pandas as pd
from acc_tiam1 import de, design, io
from acc_tiam1.html_table import interactive_table
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    counts, genes = io.read_prepared_counts(smk.input.counts)
    samples = io.read_sample_sheet(smk.input.samples)
    pseudo = [
        design.Contrast(f"interaction_{var}", var, target, ref)
        for var, (target, ref) in p.levels.items()
    ]
    coldata = design.make_coldata(samples.loc[counts.columns], p.design, pseudo)
    logging.info(
        "design %s; reference levels: %s; testing %s",
        p.design,
        {c: str(coldata[c].cat.categories[0]) for c in coldata.columns},
        p.coefficient,
    )
    dds = de.fit_deseq(counts, coldata, p.design, min_replicates=p.de["min_replicates_for_replace"])
    table = de.coefficient_table(
        dds,
        p.coefficient,
        genes,
        alpha=p.de["alpha"],
        cooks_filter=p.de["cooks_filter"],
        independent_filter=p.de["independent_filter"],
        shrink=p.de["lfc_shrink"],
    )
    alpha = p.de["alpha"]
    logging.info("%d genes with padj < %g", int((table["padj"] < alpha).sum()), alpha)
    io.write_tsv(table, smk.output.table, index=False)
    page = interactive_table(
        table,
        f"bulk: interaction {p.coefficient}",
        "Sorted by p-value; the full table is interaction_de.tsv in results/rescue/bulk/.",
        p.max_rows,
        keep=table["gene"].isin(p.highlight),
    )
    io.write_text(page, smk.output.html)
    design_table = de.design_table(dds)
    vector = pd.DataFrame(
        {p.coefficient: (design_table.columns == p.coefficient).astype(float)},
        index=pd.Index(design_table.columns, name="coefficient"),
    )
    io.write_tsv(de.normalized_counts(dds, genes), smk.output.normalized)
    io.write_tsv(design_table, smk.output.design)
    io.write_tsv(vector, smk.output.contrasts)


run_rule(main, snakemake)
