"""Rule rescue_key_findings: the table, the sentences and the page that open the report."""

import pandas as pd
from acc_tiam1 import enrichment, io, rescue
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    pathways = {}
    for path in smk.input.pathways:
        table = io.read_tsv(path, index_col=None)
        for dataset, sub in table.groupby("dataset", sort=False):
            pathways[dataset] = sub.drop(columns="dataset")
    interaction = None
    if p.interaction_coefficient:
        interaction = {"bulk": io.read_tsv(smk.input.interaction, index_col=None)}
    findings = rescue.key_findings(pathways, p.focus_sets, p.fdr, interaction)
    io.write_tsv(findings, smk.output.table, index=False)
    reference = p.equivalence["reference"] if p.equivalence else "control"
    sentences = rescue.findings_summary(findings, p.fdr, reference)
    io.write_text("\n".join(sentences) + "\n", smk.output.sentences)
    counts = pd.concat(
        [io.read_tsv(f, index_col=None) for f in smk.input.counts], ignore_index=True
    )
    notes = rescue.coverage_notes(io.read_tsv(smk.input.coverage, index_col=None))
    settings = rescue.findings_settings(
        p.pain_contrast,
        p.ketamine_contrast,
        p.fdr,
        p.rescue,
        p.interaction_coefficient,
        enrichment.ACROSS_METHODS[p.across],
        p.equivalence,
    )
    html = rescue.key_findings_html(
        findings, sentences, rescue.class_count_matrix(counts), notes, settings
    )
    io.write_text(html, smk.output.html)


run_rule(main, snakemake)
