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
    script:
        "../../scripts/demo_bulk.py"
