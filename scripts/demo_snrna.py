"""Rule demo_snrna: simulate the single-nucleus part of the demo study."""

import logging

import pandas as pd
from acc_tiam1 import demo, inputs, io
from acc_tiam1.runner import run_rule


def main(smk):
    sheet = io.read_sample_sheet(smk.input.samples)
    modules = demo.demo_modules(smk.input.genesets)
    markers = io.read_markers(smk.input.markers)
    p = smk.params
    study = demo.build_study(
        markers,
        modules,
        n_genes=p.n_genes,
        seed=p.seed,
        cell_types=p.cell_types,
        null=p.null,
        marker_log2=p.marker_log2,
    )
    levels = demo.contamination_levels(len(sheet), *p.contamination, seed=p.seed)
    truths, summaries, soups = [], [], {}
    for i, (sample, row) in enumerate(sheet.iterrows()):
        raw = row.get("raw_path", "")
        raw_path = inputs.resolve_sample_path(raw, smk.input.samples) if raw else ""
        # One sample at a time: its matrices are written and dropped before the next.
        # Empty droplets are drawn last, so a sample without raw_path has the same nuclei.
        sim = demo.simulate_droplets(
            study,
            sample,
            row.to_dict(),
            i,
            p.nuclei_per_sample,
            contamination=levels[i],
            empties_per_nucleus=p.empty_droplets if raw_path else 0.0,
            umi_scale=p.umi_scale,
            activity_sd=p.activity_sd,
        )
        path = inputs.resolve_sample_path(row["path"], smk.input.samples)
        demo.write_sample(sim.nuclei, path)
        if raw_path:
            demo.write_raw_droplets(sim.nuclei, sim.empties, sim.empty_barcodes, raw_path)
        s = sim.summary
        logging.info(
            "%s: %d nuclei x %d genes (%d doublets, %d low-quality), contamination %.3f "
            "(%.0f ambient UMIs per droplet) -> %s; %d empty droplets -> %s",
            sample,
            s["nuclei"],
            sim.nuclei.n_vars,
            s["doublets"],
            s["low_quality"],
            s["contamination"],
            s["ambient_umis_per_droplet"],
            path,
            s["empty_droplets"],
            raw_path or "(no raw_path)",
        )
        truths.append(sim.truth)
        summaries.append({**s, "raw_path": raw_path})
        soups[sample] = sim.soup
        del sim
    io.write_tsv(pd.concat(truths, ignore_index=True), smk.output.truth_nuclei, index=False)
    io.write_tsv(demo.truth_genes(study), smk.output.truth_genes, index=False)
    io.write_tsv(study.cell_types, smk.output.truth_cell_types)
    io.write_tsv(pd.DataFrame(summaries), smk.output.truth_samples, index=False)
    io.write_tsv(demo.soup_table(study, soups), smk.output.truth_soup, index=False)


run_rule(main, snakemake)
