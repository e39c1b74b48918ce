rule bulk_prepare:
    input:
        counts=lambda wc: BULK.counts,
        samples=lambda wc: BULK.samples_path,
    output:
        counts="results/bulk/counts.tsv",
    log:
        "logs/bulk/prepare.log",
    benchmark:
        "benchmarks/bulk/prepare.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 20),
        runtime=runtime(10),
    script:
        "../../scripts/bulk_prepare.py"


rule bulk_sample_qc:
    input:
        counts=rules.bulk_prepare.output.counts,
        samples=lambda wc: BULK.samples_path,
    output:
        # A matrix, not a result to read: kept out of the report to keep it small.
        vst="results/bulk/vst.tsv",
        table=report(
            "results/bulk/qc/sample_qc.tsv",
            caption="../report/bulk_sample_qc.rst",
            category="1. Bulk QC",
            labels={"figure": "sample QC table"},
        ),
        distances="results/bulk/qc/sample_distances.tsv",
        variance="results/bulk/qc/pca_variance.tsv",
        sex=report(
            "results/bulk/qc/sex_check.tsv",
            caption="../report/sex_check.rst",
            category="1. Bulk QC",
            labels={"figure": "sex check (table)"},
        ),
    log:
        "logs/bulk/sample_qc.log",
    benchmark:
        "benchmarks/bulk/sample_qc.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(15, 0.5),
    params:
        top_variable_genes=config["bulk_qc"]["top_variable_genes"],
        outlier_mad=config["bulk_qc"]["outlier_mad"],
        group_by=CONTRASTS[0].variable,
        sex_mismatch=config["qc"]["sex_mismatch"],
    script:
        "../../scripts/bulk_sample_qc.py"


rule bulk_qc_plots:
    input:
        samples=lambda wc: BULK.samples_path,
        table=rules.bulk_sample_qc.output.table,
        distances=rules.bulk_sample_qc.output.distances,
        variance=rules.bulk_sample_qc.output.variance,
        sex=rules.bulk_sample_qc.output.sex,
    output:
        library_sizes=report(
            "results/bulk/qc/library_sizes.png",
            caption="../report/bulk_library_sizes.rst",
            category="1. Bulk QC",
            labels={"figure": "library sizes"},
        ),
        pca=report(
            "results/bulk/qc/pca.png",
            caption="../report/bulk_pca.rst",
            category="1. Bulk QC",
            labels={"figure": "PCA"},
        ),
        distances=report(
            "results/bulk/qc/sample_distances.png",
            caption="../report/bulk_distances.rst",
            category="1. Bulk QC",
            labels={"figure": "sample distances"},
        ),
        sex=report(
            "results/bulk/qc/sex_check.png",
            caption="../report/sex_check_plot.rst",
            category="1. Bulk QC",
            labels={"figure": "sex check"},
        ),
    log:
        "logs/bulk/qc_plots.log",
    benchmark:
        "benchmarks/bulk/qc_plots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(10),
    params:
        colour_by=CONTRASTS[0].variable,
        top_variable_genes=config["bulk_qc"]["top_variable_genes"],
    script:
        "../../scripts/bulk_qc_plots.py"


rule bulk_de:
    input:
        counts=rules.bulk_prepare.output.counts,
        samples=lambda wc: BULK.samples_path,
    output:
        # Every gene of each contrast; the report shows the top rows (bulk_de_plots).
        tables=[f"results/bulk/de/{contrast}.tsv" for contrast in CONTRAST_NAMES],
        # A matrix, not a result to read: kept out of the report to keep it small.
        normalized="results/bulk/normalized_counts.tsv",
        gene_filter="results/bulk/de/gene_filter.tsv",
        # The fitted model, for CAMERA and the set-score equivalence test.
        design="results/bulk/de/model/design.tsv",
        contrasts="results/bulk/de/model/contrasts.tsv",
        # Equivalence to control (DESeq2 lessAbs); columns only when the rescue is off.
        equivalence="results/bulk/de/equivalence.tsv",
    log:
        "logs/bulk/de.log",
    benchmark:
        "benchmarks/bulk/de.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 30),
        runtime=runtime(30, 1.2),
    params:
        label="bulk",
        design=lambda wc: BULK.design,
        contrasts=config["contrasts"],
        contrast_names=CONTRAST_NAMES,
        de=de_params(),
        gene_filter=config["de"]["filter"],
        equivalence=lambda wc: de_equivalence(),
    script:
        "../../scripts/bulk_de.py"


rule bulk_de_plots:
    input:
        tables=rules.bulk_de.output.tables,
    output:
        volcano=[
            report(
                f"results/bulk/de/{contrast}.volcano.png",
                caption="../report/volcano.rst",
                category="2. Bulk differential expression",
                subcategory=contrast,
                labels={"contrast": contrast, "figure": "volcano plot"},
            )
            for contrast in CONTRAST_NAMES
        ],
        ma=[
            report(
                f"results/bulk/de/{contrast}.ma.png",
                caption="../report/ma.rst",
                category="2. Bulk differential expression",
                subcategory=contrast,
                labels={"contrast": contrast, "figure": "MA plot"},
            )
            for contrast in CONTRAST_NAMES
        ],
        html=[
            report(
                f"results/bulk/de/{contrast}.table.html",
                caption="../report/de_table_html.rst",
                category="2. Bulk differential expression",
                subcategory=contrast,
                labels={"contrast": contrast, "figure": "interactive table"},
            )
            for contrast in CONTRAST_NAMES
        ],
    log:
        "logs/bulk/de_plots.log",
    benchmark:
        "benchmarks/bulk/de_plots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        datasets=[("bulk", c) for c in CONTRAST_NAMES],
        titles=[f"bulk: {contrast_label(c)}" for c in CONTRAST_NAMES],
        padj_threshold=config["plots"]["padj_threshold"],
        lfc_threshold=config["plots"]["lfc_threshold"],
        label_top=config["plots"]["label_top"],
        highlight_genes=config["plots"]["highlight_genes"],
        note="Sorted by p-value; click a column to sort, type to search genes.",
        max_rows=config["plots"]["table_rows"],
    script:
        "../../scripts/de_report.py"


rule bulk_de_summary:
    input:
        tables=rules.bulk_de.output.tables,
    output:
        summary=report(
            "results/bulk/de/summary.tsv",
            caption="../report/de_summary.rst",
            category="2. Bulk differential expression",
            subcategory="summary",
            labels={"table": "significant genes per contrast"},
        ),
    log:
        "logs/bulk/de_summary.log",
    benchmark:
        "benchmarks/bulk/de_summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        names=CONTRAST_NAMES,
        alpha=config["de"]["alpha"],
    script:
        "../../scripts/de_summary.py"
