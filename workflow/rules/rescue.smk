# Ketamine rescue of pain effects per dataset (pain effect, reversal, equivalence to
# control), and the key findings that open the report; helpers in enrichment_common.smk.


rule rescue_set_equivalence:
    input:
        # One of each per rescue dataset, all branches (params.datasets): the pain DE
        # table gives the tested genes, the model files the design and contrast.
        tables=lambda wc: [
            de_table(ds, RESCUE.pain_contrast) for ds in rescue_datasets()
        ],
        normalized=lambda wc: [de_model(ds, "normalized") for ds in rescue_datasets()],
        design=lambda wc: [de_model(ds, "design") for ds in rescue_datasets()],
        contrasts=lambda wc: [de_model(ds, "contrasts") for ds in rescue_datasets()],
        genesets=GENESET_FILES,
    output:
        table=report(
            "results/rescue/set_equivalence.tsv",
            caption="../report/rescue_set_equivalence.rst",
            category="7. Ketamine rescue",
            subcategory="gene sets",
            labels={"figure": "set-score equivalence (table)"},
        ),
    log:
        "logs/rescue/set_equivalence.log",
    benchmark:
        "benchmarks/enrichment/rescue/set_equivalence.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10, 0.05),
    params:
        datasets=lambda wc: rescue_datasets(),
        contrast=(
            RESCUE.equivalence_contrast["name"]
            if RESCUE and RESCUE.equivalence_contrast
            else None
        ),
        margin=config["rescue"]["set_margin"],
        min_size=config["enrichment"]["min_size"],
        max_size=config["enrichment"]["max_size"],
        focus_sets=config["enrichment"]["focus_sets"],
        across=config["enrichment"]["across_datasets"],
        fdr=config["enrichment"]["fdr"],
    script:
        "../../scripts/rescue_set_equivalence.py"


rule rescue_tables:
    input:
        pain=rescue_inputs("de", lambda r: r.pain_contrast),
        ketamine=rescue_inputs("de", lambda r: r.ketamine_contrast),
        equivalence=rescue_inputs("equivalence", None),
        nes=rules.enrichment_summary.output.nes,
        set_equivalence=rules.rescue_set_equivalence.output.table,
        genesets=GENESET_FILES,
    output:
        # Every gene of every dataset; the report shows the classified genes (genes_html).
        genes="results/rescue/{branch}/genes.tsv",
        genes_html=report(
            "results/rescue/{branch}/genes.table.html",
            caption="../report/rescue_genes.rst",
            category="7. Ketamine rescue",
            subcategory="{branch}",
            labels={"branch": "{branch}", "figure": "gene classes (table)"},
        ),
        counts=report(
            "results/rescue/{branch}/class_counts.tsv",
            caption="../report/rescue_class_counts.rst",
            category="7. Ketamine rescue",
            subcategory="{branch}",
            labels={"branch": "{branch}", "figure": "class counts"},
        ),
        pathways=report(
            "results/rescue/{branch}/pathways.tsv",
            caption="../report/rescue_pathways.rst",
            category="7. Ketamine rescue",
            subcategory="{branch}",
            labels={"branch": "{branch}", "figure": "gene-set reversal (table)"},
        ),
    log:
        "logs/rescue/{branch}/tables.log",
    benchmark:
        "benchmarks/enrichment/rescue/{branch}/tables.tsv"
    wildcard_constraints:
        branch="bulk|snrna",
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10, 0.05),
    params:
        datasets=lambda wc: rescue_datasets(wc.branch),
        titles=dataset_titles(),
        pain_contrast=lambda wc: RESCUE.pain_contrast,
        ketamine_contrast=lambda wc: RESCUE.ketamine_contrast,
        padj=config["rescue"]["padj"],
        reference=lambda wc: (RESCUE.equivalence_contrast or {}).get(
            "reference", "control"
        ),
        focus_sets=config["enrichment"]["focus_sets"],
        fdr=config["enrichment"]["fdr"],
        across=config["enrichment"]["across_datasets"],
        max_rows=config["plots"]["table_rows"],
        highlight=config["plots"]["highlight_genes"],
    script:
        "../../scripts/rescue_tables.py"


rule rescue_plots:
    input:
        genes=rules.rescue_tables.output.genes,
        pathways=rules.rescue_tables.output.pathways,
        genesets=GENESET_FILES,
    output:
        genes=report(
            "results/rescue/{branch}/genes_scatter.png",
            caption="../report/rescue_genes_scatter.rst",
            category="7. Ketamine rescue",
            subcategory="{branch}",
            labels={"branch": "{branch}", "figure": "gene scatter"},
        ),
        pathways=report(
            "results/rescue/{branch}/pathways_scatter.png",
            caption="../report/rescue_pathways_scatter.rst",
            category="7. Ketamine rescue",
            subcategory="{branch}",
            labels={"branch": "{branch}", "figure": "gene-set scatter"},
        ),
    log:
        "logs/rescue/{branch}/plots.log",
    benchmark:
        "benchmarks/enrichment/rescue/{branch}/plots.tsv"
    wildcard_constraints:
        branch="bulk|snrna",
    priority: LONG_FIGURES
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 5),
        runtime=runtime(10),
    params:
        pain_contrast=lambda wc: RESCUE.pain_contrast,
        ketamine_contrast=lambda wc: RESCUE.ketamine_contrast,
        focus_sets=config["enrichment"]["focus_sets"],
        label_top=config["rescue"]["label_top"],
        fdr=config["enrichment"]["fdr"],
    script:
        "../../scripts/rescue_plots.py"


rule rescue_interaction_de:
    input:
        counts="results/bulk/counts.tsv",
        samples=lambda wc: BULK.samples_path,
    output:
        # Every gene; the report shows the top rows (html).
        table="results/rescue/bulk/interaction_de.tsv",
        html=report(
            "results/rescue/bulk/interaction_de.table.html",
            caption="../report/rescue_interaction_de.rst",
            category="7. Ketamine rescue",
            subcategory="bulk",
            labels={"dataset": "bulk", "figure": "interaction DE (table)"},
        ),
        # The fit's model, for CAMERA of the interaction coefficient.
        normalized="results/rescue/bulk/interaction_model/normalized_counts.tsv",
        design="results/rescue/bulk/interaction_model/design.tsv",
        contrasts="results/rescue/bulk/interaction_model/contrasts.tsv",
    log:
        "logs/rescue/bulk/interaction_de.log",
    benchmark:
        "benchmarks/enrichment/rescue/bulk/interaction_de.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 30),
        runtime=runtime(30, 1),
    params:
        design=lambda wc: RESCUE.interaction_design,
        levels=lambda wc: RESCUE.interaction_levels,
        coefficient=lambda wc: RESCUE.interaction_coefficient,
        de=de_params(),
        max_rows=config["plots"]["table_rows"],
        highlight=config["plots"]["highlight_genes"],
    script:
        "../../scripts/rescue_interaction.py"


rule rescue_interaction_gsea:
    input:
        table=rules.rescue_interaction_de.output.table,
        normalized=rules.rescue_interaction_de.output.normalized,
        design=rules.rescue_interaction_de.output.design,
        contrasts=rules.rescue_interaction_de.output.contrasts,
        genesets=GENESET_FILES,
    output:
        table=report(
            "results/rescue/bulk/interaction_gsea.tsv",
            caption="../report/rescue_interaction_gsea.rst",
            category="7. Ketamine rescue",
            subcategory="bulk",
            labels={"dataset": "bulk", "figure": "interaction GSEA (table)"},
        ),
    log:
        "logs/rescue/bulk/interaction_gsea.log",
    benchmark:
        "benchmarks/enrichment/rescue/bulk/interaction_gsea.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(20, 0.5),
    params:
        gsea=gsea_params(),
        genesets=GENESET_FILES,
        coefficient=lambda wc: RESCUE.interaction_coefficient,
    script:
        "../../scripts/enrichment_gsea.py"


rule rescue_key_findings:
    input:
        pathways=expand(
            "results/rescue/{branch}/pathways.tsv", branch=rescue_branches()
        ),
        counts=expand(
            "results/rescue/{branch}/class_counts.tsv", branch=rescue_branches()
        ),
        interaction=(
            "results/rescue/bulk/interaction_gsea.tsv" if has_interaction() else []
        ),
        coverage=rules.enrichment_summary.output.coverage,
    output:
        table="results/key_findings.tsv",
        # The sentences of the page's first list, one per line (plain text).
        sentences="results/key_findings.txt",
        html=report(
            "results/key_findings.html",
            caption="../report/key_findings.rst",
            category="0. Key findings",
            labels={"figure": "key findings"},
        ),
    log:
        "logs/rescue/key_findings.log",
    benchmark:
        "benchmarks/enrichment/rescue/key_findings.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        titles=dataset_titles(),
        focus_sets=config["enrichment"]["focus_sets"],
        fdr=config["enrichment"]["fdr"],
        across=config["enrichment"]["across_datasets"],
        pain_contrast=RESCUE.pain_contrast if RESCUE else None,
        ketamine_contrast=RESCUE.ketamine_contrast if RESCUE else None,
        equivalence=RESCUE.equivalence_contrast if RESCUE else None,
        interaction_coefficient=(
            RESCUE.interaction_coefficient if has_interaction() else None
        ),
        rescue={
            k: config["rescue"].get(k)
            for k in ("padj", "gene_margin", "set_margin", "interaction")
        },
    script:
        "../../scripts/rescue_key_findings.py"
