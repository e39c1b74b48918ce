"""Rule rescue_plots: gene scatter (pain vs ketamine log2FC) and gene-set scatter (NES),
one panel per dataset of the branch."""

from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.rescue import plots
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    highlight = {
        s.term: s.genes
        for s in enrichment.read_genesets(smk.input.genesets)
        if s.term in p.focus_sets
    }
    genes = io.read_tsv(smk.input.genes, index_col=None)
    pathways = io.read_tsv(smk.input.pathways, index_col=None)
    by_dataset = {d: t for d, t in genes.groupby("dataset", sort=False)} if len(genes) else {}
    title = f"{p.pain_contrast} vs {p.ketamine_contrast}"
    plotting.save(
        plotting.panel_grid(
            plots.rescue_scatter,
            by_dataset,
            f"Gene rescue: {title}",
            highlight=highlight,
            label_top=p.label_top,
            pain_label=p.pain_contrast,
            ketamine_label=p.ketamine_contrast,
        ),
        smk.output.genes,
    )
    by_dataset = {d: t for d, t in pathways.groupby("dataset", sort=False)} if len(pathways) else {}
    plotting.save(
        plotting.panel_grid(
            plots.pathway_scatter,
            by_dataset,
            f"Gene-set NES: {title} (rescue class, CAMERA calls at FDR < {p.fdr:g})",
            focus=p.focus_sets,
            pain_label=p.pain_contrast,
            ketamine_label=p.ketamine_contrast,
        ),
        smk.output.pathways,
    )


run_rule(main, snakemake)
