rule provenance:
    input:
        unpack(provenance_inputs),
    output:
        html=report(
            "results/provenance/methods.html",
            caption="../report/provenance.rst",
            category="9. Methods and provenance",
            labels={"page": "Methods, versions, config"},
        ),
        versions="results/provenance/versions.tsv",
        config="results/provenance/config.yaml",
    log:
        "logs/provenance.log",
    benchmark:
        "benchmarks/provenance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(5),
    params:
        # Plot options are left out so that changing them reruns plots only.
        config={k: v for k, v in config.items() if k != "plots"},
        # The checked rescue settings (contrasts, interaction coefficient), or None.
        rescue=vars(RESCUE) if RESCUE is not None else None,
        titles=dataset_titles(),
        # The checked reads front-end settings (defaults filled in), or None.
        reads=READS_SETTINGS if READS.active else None,
    script:
        "../../scripts/provenance.py"


rule report_start_page:
    input:
        unpack(start_page_inputs),
        description="workflow/report/workflow.rst",
    output:
        page=START_PAGE,
    log:
        "logs/report_start_page.log",
    benchmark:
        "benchmarks/report_start_page.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800),
        runtime=runtime(5),
    params:
        sex_tables=start_page_sex_tables(),
        heatmap_contrasts=start_page_heatmap_contrasts(),
    script:
        "../../scripts/report_start_page.py"
