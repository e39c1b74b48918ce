rule demo_bulk:
    input:
        samples="config/demo/bulk_samples.tsv",
        genesets="config/genesets/tiam1_rac1.gmt",
        markers="config/markers/acc_markers.tsv",
    output:
        counts="resources/demo/bulk_counts.tsv",
        truth="resources/demo/bulk_truth.tsv",
    log:
        "logs/demo/bulk.log",
    benchmark:
        "benchmarks/demo/bulk.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(10),
    params:
        seed=config["seed"],
        n_genes=config["demo"]["bulk_genes"],
        null=config["demo"]["bulk_null"],
    script:
        "../../scripts/demo_bulk.py"


rule demo_snrna:
    input:
        samples=inputs.DEMO_SNRNA_SHEET,
        genesets="config/genesets/tiam1_rac1.gmt",
        markers="config/markers/acc_markers.tsv",
    output:
        matrices=inputs.demo_snrna_outputs(),
        truth_nuclei=inputs.DEMO_SNRNA_TRUTH["nuclei"],
        truth_genes=inputs.DEMO_SNRNA_TRUTH["genes"],
        truth_cell_types=inputs.DEMO_SNRNA_TRUTH["cell_types"],
        truth_samples=inputs.DEMO_SNRNA_TRUTH["samples"],
        truth_soup=inputs.DEMO_SNRNA_TRUTH["soup"],
    log:
        "logs/demo/snrna.log",
    benchmark:
        "benchmarks/demo/snrna.tsv"
    conda:
        ENV
    threads: 1
    resources:
        # One sample at a time: ~1 GB for 16,700 nuclei x 20,000 genes; ~2 ms per nucleus.
        mem_mb=mem_mb(
            max(2000, 1000 + 0.06 * config["demo"]["snrna_nuclei_per_sample"])
        ),
        runtime=runtime(
            max(
                30,
                10
                + inputs.demo_snrna_nuclei(config["demo"]["snrna_nuclei_per_sample"])
                // 5000,
            )
        ),
    params:
        seed=config["seed"],
        n_genes=config["demo"]["snrna_genes"],
        nuclei_per_sample=config["demo"]["snrna_nuclei_per_sample"],
        cell_types=config["demo"]["snrna_cell_types"],
        contamination=config["demo"]["snrna_contamination"],
        empty_droplets=config["demo"]["snrna_empty_droplets"],
        umi_scale=config["demo"]["snrna_umi_scale"],
        marker_log2=config["demo"]["snrna_marker_log2"],
        activity_sd=config["demo"]["snrna_activity_sd"],
        null=config["demo"]["snrna_null"],
    script:
        "../../scripts/demo_snrna.py"
