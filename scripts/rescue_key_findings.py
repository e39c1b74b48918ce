"""Rule rescue_key_findings: the table that opens the report."""


import pandas as pd
from acc_tiam1 import io, rescue
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    reversal = {}
    for path in smk.input.pathways:
        table = io.read_tsv(path, index_col=None)
        for dataset, sub in table.groupby("dataset", sort=False):
            reversal[dataset] = sub.drop(columns="dataset")
    interaction = None
    if p.interaction_coefficient:
        interaction = {"bulk": io.read_tsv(smk.input.interaction, index_col=None)}
    findings = rescue.key_findings(reversal, p.focus_sets, p.fdr, interaction)
    io.write_tsv(findings, smk.output.table, index=False)

    frames = [io.read_tsv(path, index_col=None) for path in smk.input.counts]
    counts = pd.concat(frames, ignore_index=True)
    if len(counts):
        counts = (counts.pivot_table(index="dataset", columns="class", values="all_genes",
                                     aggfunc="sum", sort=False)
                  .reindex(columns=rescue.CLASSES).fillna(0).astype(int).reset_index())
    notes = rescue.coverage_notes(io.read_tsv(smk.input.coverage, index_col=None))
    r = p.rescue
    settings = {
        "pain effect": p.pain_contrast,
        "ketamine effect": p.ketamine_contrast,
        "gene set enriched": f"GSEA FDR < {p.fdr:g}",
        "reversed": "enriched in both contrasts with opposite NES signs",
        "gene classes": (
            f"pain gene: padj < {r['padj']:g} and |log2FC| >= {r['lfc_threshold']:g} in "
            f"{p.pain_contrast}; rescued: ketamine padj < {r['padj']:g} and it removes >= "
            f"{r['rescued_fraction']:g} of the pain log2FC; partially rescued: >= "
            f"{r['partial_fraction']:g}; not rescued: other pain genes; ketamine-only: "
            "significant for ketamine only"
        ),
    }
    if p.interaction_coefficient:
        settings["interaction"] = (f"{r['interaction']['design']}, coefficient "
                                   f"{p.interaction_coefficient} (negative NES: ketamine "
                                   "lowers the set more in pain than in sham animals)")
    html = rescue.key_findings_html(findings, rescue.findings_summary(findings), counts, notes,
                                    settings)
    io.write_text(html, smk.output.html)


run_rule(main, snakemake)
