"""Checkpoint snrna_pseudobulk: counts per sample x cell type, and what can be tested."""

import logging
from pathlib import Path

from acc_tiam1 import design, io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    genes = snrna.read_h5ad_parts(smk.input.h5ad, x=False).var_names
    sheet = io.read_sample_sheet(smk.input.samples)
    markers = io.read_markers(smk.input.markers)
    nuclei = snrna.read_annotation_table(smk.input.nuclei)
    contrasts = design.parse_contrasts(smk.params.contrasts)
    qc = dict(zip(smk.params.samples, smk.input.qc, strict=True))
    samples = ((s, a[:, genes]) for s, a in snrna.iter_qc_samples(qc))
    pb = snrna.pseudobulk(samples, nuclei["cell_type"])
    samples, plan, counts = snrna.pseudobulk_plan(
        pb,
        sheet,
        list(markers["cell_type"]),
        smk.params.design,
        contrasts,
        smk.params.pseudobulk,
        smk.params.min_group_size,
    )
    pb.obs["kept"] = samples.loc[pb.obs_names, "kept"].to_numpy()
    pb.obs["dropped_reason"] = samples.loc[pb.obs_names, "dropped_reason"].to_numpy()
    for row in plan[plan["status"] == "skipped"].itertuples():
        logging.info("skipped: %s x %s: %s", row.cell_type, row.contrast, row.reason)
    folder = Path(smk.output.cell_types)
    folder.mkdir(parents=True, exist_ok=True)
    for safe, table in counts.items():
        io.write_tsv(table, folder / f"{safe}.counts.tsv")
        logging.info("%s: %d genes x %d samples for DE", safe, *table.drop(columns="gene").shape)
    snrna.write_h5ad(pb, smk.output.h5ad)
    io.write_tsv(samples, smk.output.samples)
    io.write_tsv(plan, smk.output.plan, index=False)


run_rule(main, snakemake)
