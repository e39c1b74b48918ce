"""Rule provenance: Methods paragraph, versions, config and counts for the report."""

from pathlib import Path

import pandas as pd
import yaml
from acc_tiam1 import design, io, provenance
from acc_tiam1.runner import run_rule


def main(smk):
    config = smk.params.config
    versions = provenance.package_versions()
    methods, counts = [], []
    if "bulk_qc" in smk.input.keys():
        qc = io.read_tsv(smk.input.bulk_qc)
        summary = io.read_tsv(smk.input.bulk_summary, index_col=None)
        sheet = io.read_sample_sheet(smk.input.bulk_samples)
        variables = design.design_variables(config["bulk"]["design"])
        refs = design.reference_levels(
            sheet, variables, design.parse_contrasts(config["contrasts"])
        )
        n_genes = int(summary["genes_tested"].max()) if len(summary) else 0
        methods.append(provenance.bulk_methods(
            config, versions, len(qc), n_genes, refs, int(qc["outlier"].sum())
        ))
        counts.append({"step": "bulk: samples in the sheet", "n": len(sheet)})
        counts.append({"step": "bulk: samples analysed", "n": len(qc)})
        counts.append({"step": "bulk: samples flagged as outliers (kept)",
                       "n": int(qc["outlier"].sum())})
        for _, row in summary.iterrows():
            counts.append({"step": f"bulk: genes tested, {row['contrast']}",
                           "n": int(row["genes_tested"])})
    page = provenance.provenance_page(
        "Methods and provenance", methods, versions, config, pd.DataFrame(counts)
    )
    Path(smk.output.html).write_text(page)
    io.write_tsv(versions, smk.output.versions, index=False)
    Path(smk.output.config).write_text(yaml.safe_dump(dict(config), sort_keys=False))


run_rule(main, snakemake)
