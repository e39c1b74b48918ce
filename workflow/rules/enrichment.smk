# Gene-set enrichment of every DE table (bulk, and snRNA pseudobulk per cell type);
# helpers in enrichment_common.smk.


include: "enrichment_common.smk"


rule enrichment_gsea_bulk:
    input:
        tables=lambda wc: [de_table(ds, c) for ds, c in enrichment_pairs("bulk")],
        genesets=GENESET_FILES,
        # The DE fit's model, for CAMERA: one of each per dataset (params.model_keys).
        normalized=model_inputs("normalized", "bulk"),
        design=model_inputs("design", "bulk"),
        contrasts=model_inputs("contrasts", "bulk"),
    output:
        tables=[
            report(
                gsea_table("bulk", contrast),
                caption="../report/enrichment_gsea.rst",
                category="6. Pathway enrichment",
                subcategory="bulk",
                labels={"dataset": "bulk", "contrast": contrast, "table": "GSEA"},
            )
            for contrast in CONTRAST_NAMES
        ],
    log:
        "logs/enrichment/gsea_bulk.log",
    benchmark:
        "benchmarks/enrichment/gsea_bulk.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(20, 0.5),
    params:
        gsea=gsea_params(),
        genesets=GENESET_FILES,
        # (dataset, contrast) of every output, and of every input table, in order.
        outputs=[("bulk", c) for c in CONTRAST_NAMES],
        table_keys=lambda wc: enrichment_pairs("bulk"),
        model_keys=lambda wc: model_datasets("bulk"),
    script:
        "../../scripts/enrichment_gsea.py"


rule enrichment_gsea_snrna:
    input:
        tables=lambda wc: [de_table(ds, c) for ds, c in enrichment_pairs("snrna")],
        genesets=GENESET_FILES,
        # The DE fit's model, for CAMERA: one of each per dataset (params.model_keys).
        normalized=model_inputs("normalized", "snrna"),
        design=model_inputs("design", "snrna"),
        contrasts=model_inputs("contrasts", "snrna"),
    output:
        # One table per cell type of the marker table and contrast; those not tested
        # say so. Summarised in the report by the NES heatmaps and the key findings.
        tables=[gsea_table(ds, c) for ds, c in snrna_gsea_outputs()],
    log:
        "logs/enrichment/gsea_snrna.log",
    benchmark:
        "benchmarks/enrichment/gsea_snrna.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(20, 0.5),
    params:
        gsea=gsea_params(),
        genesets=GENESET_FILES,
        outputs=snrna_gsea_outputs(),
        table_keys=lambda wc: enrichment_pairs("snrna"),
        model_keys=lambda wc: model_datasets("snrna"),
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
        # Every set, dataset and contrast: large with big collections, kept out of the report.
        nes="results/enrichment/summary/nes.tsv",
        focus=report(
            "results/enrichment/summary/focus_sets.tsv",
            caption="../report/enrichment_focus.rst",
            category="6. Pathway enrichment",
            subcategory="summary",
            labels={"table": "focus sets, FDR across datasets"},
        ),
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
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        table_keys=lambda wc: enrichment_pairs(),
        focus_sets=config["enrichment"]["focus_sets"],
        across=config["enrichment"]["across_datasets"],
        fdr=config["enrichment"]["fdr"],
    script:
        "../../scripts/enrichment_summary.py"


rule enrichment_heatmap:
    input:
        nes=rules.enrichment_summary.output.nes,
    output:
        heatmaps=[
            report(
                f"results/enrichment/summary/{contrast}.nes_heatmap.png",
                caption="../report/enrichment_heatmap.rst",
                category="6. Pathway enrichment",
                subcategory="summary",
                labels={"contrast": contrast, "figure": "NES heatmap"},
            )
            for contrast in CONTRAST_NAMES
        ],
    log:
        "logs/enrichment/heatmap.log",
    benchmark:
        "benchmarks/enrichment/heatmap.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        contrasts=CONTRAST_NAMES,
        focus_sets=config["enrichment"]["focus_sets"],
        top_sets=config["enrichment"]["heatmap_top_sets"],
        fdr=config["enrichment"]["fdr"],
        across=config["enrichment"]["across_datasets"],
        titles=dataset_titles(),
        figure_titles={c: f"NES, {contrast_label(c)}" for c in CONTRAST_NAMES},
    script:
        "../../scripts/enrichment_heatmap.py"


rule enrichment_running_sum:
    input:
        de=lambda wc: [de_table(ds, c) for ds, c in enrichment_pairs()],
        nes=rules.enrichment_summary.output.nes,
        genesets=GENESET_FILES,
    output:
        plots=[
            report(
                f"results/enrichment/summary/{contrast}.running_sum.png",
                caption="../report/enrichment_running_sum.rst",
                category="6. Pathway enrichment",
                subcategory="summary",
                labels={"contrast": contrast, "figure": "running-sum plots"},
            )
            for contrast in CONTRAST_NAMES
        ],
    log:
        "logs/enrichment/running_sum.log",
    benchmark:
        "benchmarks/enrichment/running_sum.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10, 0.1),
    params:
        contrasts=CONTRAST_NAMES,
        table_keys=lambda wc: enrichment_pairs(),
        titles=dataset_titles(),
        focus_sets=config["enrichment"]["focus_sets"],
        fdr=config["enrichment"]["fdr"],
        weight=config["enrichment"]["weight"],
        figure_titles={c: contrast_label(c) for c in CONTRAST_NAMES},
    script:
        "../../scripts/enrichment_running_sum.py"


rule enrichment_bulk_vs_pseudobulk:
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
        plots=[
            report(
                f"results/enrichment/summary/{contrast}.bulk_vs_pseudobulk.png",
                caption="../report/enrichment_bulk_vs_pseudobulk_plot.rst",
                category="6. Pathway enrichment",
                subcategory="bulk vs pseudobulk",
                labels={"contrast": contrast, "figure": "NES scatter"},
            )
            for contrast in CONTRAST_NAMES
        ],
    log:
        "logs/enrichment/bulk_vs_pseudobulk.log",
    benchmark:
        "benchmarks/enrichment/bulk_vs_pseudobulk.tsv"
    priority: LONG_FIGURES
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        contrasts=CONTRAST_NAMES,
        fdr=config["enrichment"]["fdr"],
        focus_sets=config["enrichment"]["focus_sets"],
        titles=dataset_titles(),
        figure_titles={
            c: f"Gene-set NES, bulk vs pseudobulk: {contrast_label(c)}"
            for c in CONTRAST_NAMES
        },
    script:
        "../../scripts/enrichment_bulk_vs_pseudobulk.py"
