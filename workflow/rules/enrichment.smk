# Gene-set enrichment of every DE table (bulk, and snRNA pseudobulk per cell type);
# helpers in enrichment_common.smk.


include: "enrichment_common.smk"


rule enrichment_gsea:
    input:
        tables=lambda wc: [
            de_table(ds, c) for ds, c in enrichment_pairs() if ds == wc.dataset
        ],
        genesets=GENESET_FILES,
    output:
        [
            report(
                f"results/enrichment/{{dataset}}/{contrast}.tsv",
                caption="../report/enrichment_gsea.rst",
                category="6. Pathway enrichment",
                subcategory=lambda wc: dataset_title(wc.dataset),
                labels=lambda wc, contrast=contrast: {
                    "dataset": dataset_title(wc.dataset),
                    "contrast": contrast,
                    "table": "GSEA",
                },
            )
            for contrast in CONTRAST_NAMES
        ],
    log:
        "logs/enrichment/{dataset}/gsea.log",
    benchmark:
        "benchmarks/enrichment/{dataset}/gsea.tsv"
    wildcard_constraints:
        dataset=DATASET_PATTERN,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(20, 0.5),
    params:
        gsea=gsea_params(),
        genesets=GENESET_FILES,
        contrasts=CONTRAST_NAMES,
        # The contrast of each input table, in input order.
        table_contrasts=lambda wc: [
            c for ds, c in enrichment_pairs() if ds == wc.dataset
        ],
    script:
        "../../scripts/enrichment_gsea.py"


rule enrichment_ora:
    input:
        tables=lambda wc: [de_table(ds, c) for ds, c in enrichment_pairs()],
        genesets=GENESET_FILES,
    output:
        table=report(
            "results/enrichment/summary/ora.tsv",
            caption="../report/enrichment_ora.rst",
            category="6. Pathway enrichment",
            subcategory="over-representation",
            labels={"table": "ORA, all DE tables"},
        ),
        overview=report(
            "results/enrichment/summary/ora_overview.tsv",
            caption="../report/enrichment_ora_summary.rst",
            category="6. Pathway enrichment",
            subcategory="over-representation",
            labels={"table": "ORA overview"},
        ),
    log:
        "logs/enrichment/ora.log",
    benchmark:
        "benchmarks/enrichment/ora.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 2),
        runtime=runtime(15, 0.1),
    params:
        table_keys=lambda wc: enrichment_pairs(),
        padj=config["enrichment"]["ora"]["padj"],
        lfc_threshold=config["enrichment"]["ora"]["lfc_threshold"],
        min_size=config["enrichment"]["min_size"],
        max_size=config["enrichment"]["max_size"],
        fdr=config["enrichment"]["fdr"],
    script:
        "../../scripts/enrichment_ora.py"


rule enrichment_summary:
    input:
        tables=lambda wc: [gsea_table(ds, c) for ds, c in enrichment_pairs()],
    output:
        nes="results/enrichment/summary/nes.tsv",
        coverage=report(
            "results/enrichment/summary/geneset_coverage.tsv",
            caption="../report/enrichment_coverage.rst",
            category="6. Pathway enrichment",
            subcategory="summary",
            labels={"figure": "gene-set coverage per dataset"},
        ),
    log:
        "logs/enrichment/summary.log",
    benchmark:
        "benchmarks/enrichment/summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        table_keys=lambda wc: enrichment_pairs(),
    script:
        "../../scripts/enrichment_summary.py"


rule enrichment_heatmap:
    input:
        nes=rules.enrichment_summary.output.nes,
    output:
        heatmap=report(
            "results/enrichment/summary/{contrast}.nes_heatmap.png",
            caption="../report/enrichment_heatmap.rst",
            category="6. Pathway enrichment",
            subcategory="summary",
            labels={"contrast": "{contrast}", "figure": "NES heatmap"},
        ),
    log:
        "logs/enrichment/heatmap_{contrast}.log",
    benchmark:
        "benchmarks/enrichment/heatmap_{contrast}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        focus_sets=config["enrichment"]["focus_sets"],
        top_sets=config["enrichment"]["heatmap_top_sets"],
        fdr=config["enrichment"]["fdr"],
        titles=dataset_titles(),
        title=lambda wc: f"NES, {contrast_label(wc.contrast)}",
    script:
        "../../scripts/enrichment_heatmap.py"


rule enrichment_running_sum:
    input:
        de=lambda wc: [de_table(ds, c) for ds, c in enrichment_pairs(wc.contrast)],
        gsea=lambda wc: [gsea_table(ds, c) for ds, c in enrichment_pairs(wc.contrast)],
        genesets=GENESET_FILES,
    output:
        plot=report(
            "results/enrichment/summary/{contrast}.running_sum.png",
            caption="../report/enrichment_running_sum.rst",
            category="6. Pathway enrichment",
            subcategory="summary",
            labels={"contrast": "{contrast}", "figure": "running-sum plots"},
        ),
    log:
        "logs/enrichment/running_sum_{contrast}.log",
    benchmark:
        "benchmarks/enrichment/running_sum_{contrast}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        datasets=lambda wc: [ds for ds, _ in enrichment_pairs(wc.contrast)],
        titles=dataset_titles(),
        focus_sets=config["enrichment"]["focus_sets"],
        fdr=config["enrichment"]["fdr"],
        weight=config["enrichment"]["weight"],
        title=lambda wc: contrast_label(wc.contrast),
    script:
        "../../scripts/enrichment_running_sum.py"


rule enrichment_bulk_vs_pseudobulk_table:
    input:
        nes=rules.enrichment_summary.output.nes,
    output:
        table=report(
            "results/enrichment/summary/bulk_vs_pseudobulk.tsv",
            caption="../report/enrichment_bulk_vs_pseudobulk.rst",
            category="6. Pathway enrichment",
            subcategory="bulk vs pseudobulk",
            labels={"figure": "NES correlation table"},
        ),
    log:
        "logs/enrichment/bulk_vs_pseudobulk.log",
    benchmark:
        "benchmarks/enrichment/bulk_vs_pseudobulk.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        fdr=config["enrichment"]["fdr"],
        focus_sets=config["enrichment"]["focus_sets"],
        titles=dataset_titles(),
    script:
        "../../scripts/enrichment_bulk_vs_pseudobulk.py"


rule enrichment_bulk_vs_pseudobulk_plot:
    input:
        nes=rules.enrichment_summary.output.nes,
    output:
        plot=report(
            "results/enrichment/summary/{contrast}.bulk_vs_pseudobulk.png",
            caption="../report/enrichment_bulk_vs_pseudobulk_plot.rst",
            category="6. Pathway enrichment",
            subcategory="bulk vs pseudobulk",
            labels={"contrast": "{contrast}", "figure": "NES scatter"},
        ),
    log:
        "logs/enrichment/bulk_vs_pseudobulk_{contrast}.log",
    benchmark:
        "benchmarks/enrichment/bulk_vs_pseudobulk_{contrast}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        fdr=config["enrichment"]["fdr"],
        focus_sets=config["enrichment"]["focus_sets"],
        titles=dataset_titles(),
        title=lambda wc: f"Gene-set NES, bulk vs pseudobulk: {contrast_label(wc.contrast)}",
    script:
        "../../scripts/enrichment_bulk_vs_pseudobulk.py"
