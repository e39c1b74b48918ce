"""Rule provenance: Methods paragraphs, versions, config and counts for the report."""

from pathlib import Path

import pandas as pd
import yaml
from acc_tiam1 import io, provenance
from acc_tiam1 import snrna as snrna_lib
from acc_tiam1.runner import run_rule


def bulk_part(smk, config, versions, methods, counts, sex):
    qc = io.read_tsv(smk.input.bulk_qc)
    summary = io.read_tsv(smk.input.bulk_summary, index_col=None)
    sheet = io.read_sample_sheet(smk.input.bulk_samples)
    refs = provenance.reference_levels(sheet, config["bulk"]["design"], config)
    sex["bulk"] = io.read_tsv(smk.input.bulk_sex)
    n_genes = int(summary["genes_tested"].max()) if len(summary) else 0
    gene_filter = io.read_tsv(smk.input.bulk_filter, index_col=None).iloc[0]
    methods["Bulk RNA-seq"] = provenance.bulk_methods(
        config, versions, len(qc), n_genes, refs, int(qc["outlier"].sum()), gene_filter
    )
    counts += provenance.bulk_counts(sheet, qc, summary)


def snrna_part(smk, config, versions, methods, counts, sex):
    snrna, seed = config["snrna"], config["seed"]
    filters = io.read_tsv(smk.input.snrna_filters, index_col=None)
    clusters = io.read_tsv(smk.input.snrna_clusters, index_col=None)
    samples = io.read_tsv(smk.input.snrna_pseudobulk, index_col=None)
    plan = io.read_tsv(smk.input.snrna_plan, index_col=None)
    sheet = io.read_sample_sheet(smk.input.snrna_samples)
    info = provenance.read_integration_info(smk.input.snrna_integration)
    markers = io.read_markers(smk.input.snrna_markers)
    methods["Single-nucleus RNA-seq: quality control"] = provenance.snrna_qc_methods(
        snrna.get("qc", {}), filters, versions, seed
    )
    methods["Single-nucleus RNA-seq: ambient RNA"] = provenance.snrna_ambient_methods(
        snrna.get("ambient", {}), io.read_tsv(smk.input.snrna_contamination, index_col=None)
    )
    sex["single-nucleus"] = io.read_tsv(smk.input.snrna_sex)
    methods["Single-nucleus RNA-seq: integration, clustering and annotation"] = (
        provenance.snrna_clustering_methods(snrna, info, markers, clusters, versions, seed)
    )
    methods["Single-nucleus RNA-seq: pseudobulk differential expression"] = (
        provenance.snrna_pseudobulk_methods(
            config,
            versions,
            samples,
            plan,
            provenance.reference_levels(
                sheet.drop(columns=[c for c in snrna_lib.PATH_COLUMNS if c in sheet]),
                snrna["design"],
                config,
            ),
        )
    )
    counts += provenance.snrna_counts(filters, clusters, samples, plan)


def enrichment_part(smk, config, versions, methods, counts):
    gene_sets = {path: len(io.read_gmt(path)) for path in smk.input.genesets}
    nes = io.read_tsv(smk.input.nes, index_col=None)
    tables = list(dict.fromkeys(zip(nes["dataset"], nes["contrast"], strict=True)))
    methods["Gene-set enrichment"] = provenance.enrichment_methods(
        config, versions, gene_sets, tables
    )
    counts += provenance.enrichment_counts(nes, gene_sets, smk.params.titles)
    if smk.params.rescue:
        datasets = []
        for path in smk.input.rescue_counts:
            datasets += list(dict.fromkeys(io.read_tsv(path, index_col=None)["dataset"]))
        methods["Ketamine rescue"] = provenance.rescue_methods(config, smk.params.rescue, datasets)
        counts.append({"step": "rescue: datasets compared", "n": len(datasets)})


def reads_part(smk, settings, versions, methods, counts):
    """Reads paragraphs first, as the reads come first in the analysis; returns the
    versions table with the reads tools added."""
    inputs = smk.input.keys()
    tools, outputs = [], {}
    strandedness = bulk_reads = cell_calling = None
    if "reads_strandedness" in inputs:
        strandedness = io.read_tsv(smk.input.reads_strandedness, index_col=None)
        bulk_reads = provenance.reads_per_sample(
            {
                Path(f).name.removesuffix(".tsv"): io.read_tsv(f, index_col=None)
                for f in smk.input.reads_bulk_checks
            }
        )
        tools.append("fastp")
        outputs["fastp"] = smk.input.reads_fastp
        if settings.get("quantifier", "salmon") == "salmon":
            tools.append("salmon")
            outputs["salmon"] = smk.input.reads_salmon
        else:
            tools += ["STAR", "featureCounts"]
            outputs["featureCounts"] = smk.input.reads_featurecounts
    if "reads_cell_calling" in inputs:
        cell_calling = io.read_tsv(smk.input.reads_cell_calling, index_col=None)
        tools.append("STAR")
    versions = pd.concat(
        [
            versions,
            provenance.reads_tool_versions(list(dict.fromkeys(tools)), outputs),
            # The row of python is already there.
            provenance.package_versions(["multiqc"]).iloc[1:],
        ],
        ignore_index=True,
    )
    methods.update(
        provenance.reads_methods(settings, versions, strandedness, bulk_reads, cell_calling)
    )
    counts += provenance.reads_counts(bulk_reads, cell_calling)
    return versions


def main(smk):
    config = smk.params.config
    versions = provenance.package_versions()
    methods, counts, sex = {}, [], {}
    if smk.params.reads is not None:
        versions = reads_part(smk, smk.params.reads, versions, methods, counts)
    if "bulk_qc" in smk.input.keys():
        bulk_part(smk, config, versions, methods, counts, sex)
    if "snrna_filters" in smk.input.keys():
        snrna_part(smk, config, versions, methods, counts, sex)
    if sex:
        methods["Sex check"] = provenance.sex_check_methods(sex, config["qc"]["sex_mismatch"])
    if "nes" in smk.input.keys():
        enrichment_part(smk, config, versions, methods, counts)
    page = provenance.provenance_page(
        "Methods and provenance", methods, versions, config, pd.DataFrame(counts)
    )
    io.write_text(page, smk.output.html)
    io.write_tsv(versions, smk.output.versions, index=False)
    io.write_text(yaml.safe_dump(dict(config), sort_keys=False), smk.output.config)


run_rule(main, snakemake)
