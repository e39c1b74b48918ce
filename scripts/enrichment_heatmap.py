"""Rule enrichment_heatmap: NES of datasets x gene sets, one heatmap per contrast.

Colour: GSEA's NES. Marks: the calls of the enrichment summary; focus sets by CAMERA
with the FDR across datasets (stars), other sets by CAMERA within their dataset only
(``+``), which is not corrected for the number of datasets.
"""

import pandas as pd
from acc_tiam1 import enrichment, io, plotting
from acc_tiam1.enrichment import plots
from acc_tiam1.runner import run_rule


def legend(p) -> str:
    method = enrichment.ACROSS_METHODS[p.across]
    return (
        f"focus sets (left of the line): * CAMERA FDR across datasets ({method}) < {p.fdr:g}, "
        f"** < {p.fdr / 10:g}\nother sets: + CAMERA FDR < {p.fdr:g} within the dataset only; "
        "grey n.t. = not tested"
    )


def main(smk):
    p = smk.params
    results = io.read_tsv(smk.input.nes, index_col=None)
    for contrast, path in zip(p.contrasts, smk.output.heatmaps, strict=True):
        title = p.figure_titles[contrast]
        long = results[results["contrast"] == contrast]
        chosen = enrichment.select_sets(long, p.focus_sets, p.top_sets, p.fdr)
        if not chosen:
            fig = plotting.message_figure(title, "No gene set was tested in this contrast.")
        else:
            datasets = list(pd.unique(long["dataset"]))
            nes, call_fdr = enrichment.nes_matrix(long, chosen, datasets, column="call_FDR")
            nes.index = call_fdr.index = [p.titles.get(d, d) for d in datasets]
            n_focus = sum(term in p.focus_sets for _, term in chosen)
            marks = enrichment.call_marks(call_fdr, p.fdr)
            other = marks.columns[n_focus:]
            marks[other] = marks[other].where(marks[other] == "", "+")
            fig = plots.nes_heatmap(nes, marks, title, legend(p), n_focus)
        plotting.save(fig, path)


run_rule(main, snakemake)
