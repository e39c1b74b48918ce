"""Checkpoint snrna_pseudobulk: counts per sample x cell type (co-expression doublets out,
ambient RNA removed), what the soup explains per cell type, the sex check, and what can
be tested."""

import logging
from pathlib import Path

from acc_tiam1 import design, io, sexcheck, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    genes = snrna.read_h5ad_parts(smk.input.h5ad, x=False).var_names
    sheet = io.read_sample_sheet(smk.input.samples)
    markers = io.read_markers(smk.input.markers)
    cell_types = snrna.read_annotation_table(smk.input.nuclei)["cell_type"]
    ambient = io.read_tsv(smk.input.ambient)
    soups = {}
    if p.ambient_method == "soup":
        files = zip(smk.input.summaries, smk.input.soups, strict=True)
        soups = snrna.read_soups(dict(zip(p.samples, files, strict=True)), genes)
    qc = dict(zip(p.samples, smk.input.qc, strict=True))
    nuclei = snrna.corrected_samples(qc, ambient, cell_types, genes, soups)
    # X: ambient-corrected counts, what DE tests; layers["X"]: the counts as measured.
    pb = snrna.pseudobulk(
        nuclei, cell_types, layers=("ambient_corrected", None), obs_sums=("ambient_umis",)
    )
    samples, plan, counts = snrna.pseudobulk_plan(
        pb,
        sheet,
        list(markers["cell_type"]),
        p.design,
        design.parse_contrasts(p.contrasts),
        p.pseudobulk,
        p.min_group_size,
        p.gene_filter,
    )
    pb.obs["kept"] = samples.loc[pb.obs_names, "kept"].to_numpy()
    pb.obs["dropped_reason"] = samples.loc[pb.obs_names, "dropped_reason"].to_numpy()
    for row in plan[plan["status"] == "skipped"].itertuples():
        logging.info("skipped: %s x %s: %s", row.cell_type, row.contrast, row.reason)
    explained = (
        snrna.ambient_by_cell_type(pb, {s: soup.profile for s, soup in soups.items()})
        if soups
        else {}
    )
    Path(smk.output.cell_types).mkdir(parents=True, exist_ok=True)
    for safe, table in counts.items():
        io.write_tsv(table, p.files[safe]["counts"])
        if safe in explained:
            io.write_tsv(explained[safe], p.files[safe]["ambient"], index=False)
        logging.info("%s: %d genes x %d samples for DE", safe, *table.drop(columns="gene").shape)

    sex, mismatches = sexcheck.sex_check(sexcheck.sex_gene_counts(snrna.sample_totals(pb)), sheet)
    io.write_tsv(sex, smk.output.sex)
    sexcheck.act_on_mismatches(mismatches, sex, p.sex_mismatch, smk.input.samples)

    snrna.write_h5ad(pb, smk.output.h5ad)
    io.write_tsv(samples, smk.output.samples)
    io.write_tsv(plan, smk.output.plan, index=False)


run_rule(main, snakemake)
