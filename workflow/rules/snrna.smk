include: "snrna_common.smk"


rule snrna_qc_sample:
    input:
        lambda wc: SNRNA.inputs[wc.sample],
    output:
        h5ad="results/snrna/qc/{sample}.h5ad",
        nuclei="results/snrna/qc/{sample}.nuclei.tsv",
        summary="results/snrna/qc/{sample}.filters.tsv",
    log:
        "logs/snrna/qc/{sample}.log",
    benchmark:
        "benchmarks/snrna/qc_{sample}.tsv"
    wildcard_constraints:
        sample="|".join(SNRNA_SAMPLES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 4),
        runtime=runtime(15, 0.2),
    params:
        path=lambda wc: SNRNA.paths[wc.sample],
        qc=SNRNA_CONFIG.get("qc"),
        seed=config["seed"],
    script:
        "../../scripts/snrna_qc_sample.py"


rule snrna_qc_plots:
    input:
        nuclei=rules.snrna_qc_sample.output.nuclei,
        summary=rules.snrna_qc_sample.output.summary,
    output:
        png=report(
            "results/snrna/qc/{sample}.qc.png",
            caption="../report/snrna_qc_sample.rst",
            category="3. snRNA QC",
            subcategory="per sample",
            labels={"sample": "{sample}", "figure": "nucleus QC"},
        ),
    log:
        "logs/snrna/qc_plots/{sample}.log",
    benchmark:
        "benchmarks/snrna/qc_plots_{sample}.tsv"
    wildcard_constraints:
        sample="|".join(SNRNA_SAMPLES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 3),
        runtime=runtime(10),
    params:
        qc=SNRNA_CONFIG.get("qc"),
    script:
        "../../scripts/snrna_qc_plots.py"


rule snrna_qc_summary:
    input:
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
    output:
        table=report(
            "results/snrna/qc/filter_summary.tsv",
            caption="../report/snrna_filter_summary.rst",
            category="3. snRNA QC",
            subcategory="all samples",
            labels={"table": "nuclei removed per filter"},
        ),
    log:
        "logs/snrna/qc_summary.log",
    benchmark:
        "benchmarks/snrna/qc_summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(5),
    params:
        qc=SNRNA_CONFIG.get("qc"),
    script:
        "../../scripts/snrna_qc_summary.py"


rule snrna_qc_overview:
    input:
        table=rules.snrna_qc_summary.output.table,
    output:
        png=report(
            "results/snrna/qc/nuclei_per_sample.png",
            caption="../report/snrna_nuclei_per_sample.rst",
            category="3. snRNA QC",
            subcategory="all samples",
            labels={"figure": "nuclei per sample"},
        ),
    log:
        "logs/snrna/qc_overview.log",
    benchmark:
        "benchmarks/snrna/qc_overview.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(5),
    script:
        "../../scripts/snrna_qc_overview.py"


rule snrna_integrate:
    input:
        h5ads=expand(rules.snrna_qc_sample.output.h5ad, sample=SNRNA_SAMPLES),
        samples=lambda wc: SNRNA.samples_path,
    output:
        h5ad="results/snrna/integrated.h5ad",
        info="results/snrna/integration.json",
    log:
        "logs/snrna/integrate.log",
    benchmark:
        "benchmarks/snrna/integrate.tsv"
    conda:
        ENV
    threads: 2
    resources:
        mem_mb=mem_mb(2000, 5),
        runtime=runtime(20, 0.05),
    params:
        samples=SNRNA_SAMPLES,
        integration=SNRNA_INTEGRATION,
        seed=config["seed"],
    script:
        "../../scripts/snrna_integrate.py"


rule snrna_umap:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
    output:
        umap="results/snrna/umap.tsv",
    log:
        "logs/snrna/umap.log",
    benchmark:
        "benchmarks/snrna/umap.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 0.5),
        runtime=runtime(15, 0.02),
    params:
        umap_min_dist=SNRNA_CONFIG.get("integration", {}).get("umap_min_dist"),
        seed=config["seed"],
    script:
        "../../scripts/snrna_umap.py"


rule snrna_annotate:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
        markers=lambda wc: SNRNA.markers_path,
    output:
        nuclei="results/snrna/annotation/nuclei.tsv",
        clusters=report(
            "results/snrna/annotation/clusters.tsv",
            caption="../report/snrna_clusters.rst",
            category="4. snRNA clustering and annotation",
            subcategory="annotation",
            labels={"table": "cluster annotation"},
        ),
    log:
        "logs/snrna/annotate.log",
    benchmark:
        "benchmarks/snrna/annotate.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 1.5),
        runtime=runtime(15, 0.02),
    params:
        annotation=SNRNA_CONFIG.get("annotation"),
        seed=config["seed"],
    script:
        "../../scripts/snrna_annotate.py"


rule snrna_assemble:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
        nuclei=rules.snrna_annotate.output.nuclei,
        umap=rules.snrna_umap.output.umap,
        markers=lambda wc: SNRNA.markers_path,
    output:
        h5ad="results/snrna/annotated.h5ad",
    log:
        "logs/snrna/assemble.log",
    benchmark:
        "benchmarks/snrna/assemble.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 2),
        runtime=runtime(10, 0.02),
    script:
        "../../scripts/snrna_assemble.py"


rule snrna_annotation_plots:
    input:
        h5ad=rules.snrna_assemble.output.h5ad,
        clusters=rules.snrna_annotate.output.clusters,
        markers=lambda wc: SNRNA.markers_path,
    output:
        dotplot=report(
            "results/snrna/annotation/marker_dotplot.png",
            caption="../report/snrna_dotplot.rst",
            category="4. snRNA clustering and annotation",
            subcategory="annotation",
            labels={"figure": "marker dot plot"},
        ),
        scores=report(
            "results/snrna/annotation/cluster_scores.png",
            caption="../report/snrna_cluster_scores.rst",
            category="4. snRNA clustering and annotation",
            subcategory="annotation",
            labels={"figure": "marker scores per cluster"},
        ),
    log:
        "logs/snrna/annotation_plots.log",
    benchmark:
        "benchmarks/snrna/annotation_plots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 1.5),
        runtime=runtime(10, 0.02),
    params:
        annotation=SNRNA_CONFIG.get("annotation"),
    script:
        "../../scripts/snrna_annotation_plots.py"


rule snrna_umap_plots:
    input:
        h5ad=rules.snrna_assemble.output.h5ad,
    output:
        cell_type=report(
            "results/snrna/annotation/umap_cell_type.png",
            caption="../report/snrna_umap.rst",
            category="4. snRNA clustering and annotation",
            subcategory="UMAP",
            labels={"figure": "UMAP", "colour": "cell type"},
        ),
        sample=report(
            "results/snrna/annotation/umap_sample.png",
            caption="../report/snrna_umap.rst",
            category="4. snRNA clustering and annotation",
            subcategory="UMAP",
            labels={"figure": "UMAP", "colour": "sample"},
        ),
        condition=report(
            "results/snrna/annotation/umap_condition.png",
            caption="../report/snrna_umap.rst",
            category="4. snRNA clustering and annotation",
            subcategory="UMAP",
            labels={"figure": "UMAP", "colour": "condition"},
        ),
        genes=report(
            "results/snrna/annotation/umap_genes.png",
            caption="../report/snrna_umap.rst",
            category="4. snRNA clustering and annotation",
            subcategory="UMAP",
            labels={"figure": "UMAP", "colour": "pathway genes"},
        ),
    log:
        "logs/snrna/umap_plots.log",
    benchmark:
        "benchmarks/snrna/umap_plots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 1.5),
        runtime=runtime(10, 0.02),
    params:
        colour_by=CONTRASTS[0].variable,
        genes=SNRNA_CONFIG.get("pathway_genes"),
        integration=SNRNA_CONFIG.get("integration"),
    script:
        "../../scripts/snrna_umap_plots.py"


rule snrna_composition:
    input:
        nuclei=rules.snrna_annotate.output.nuclei,
        samples=lambda wc: SNRNA.samples_path,
        markers=lambda wc: SNRNA.markers_path,
    output:
        counts=report(
            "results/snrna/composition/counts.tsv",
            caption="../report/snrna_composition_counts.rst",
            category="4. snRNA clustering and annotation",
            subcategory="composition",
            labels={"table": "nuclei per sample and cell type"},
        ),
        tests=report(
            "results/snrna/composition/tests.tsv",
            caption="../report/snrna_composition_tests.rst",
            category="4. snRNA clustering and annotation",
            subcategory="composition",
            labels={"table": "composition tests"},
        ),
    log:
        "logs/snrna/composition.log",
    benchmark:
        "benchmarks/snrna/composition.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 0.2),
        runtime=runtime(10),
    params:
        design=lambda wc: SNRNA.design,
        contrasts=config["contrasts"],
        composition=SNRNA_CONFIG.get("composition"),
    script:
        "../../scripts/snrna_composition.py"


rule snrna_composition_plots:
    input:
        counts=rules.snrna_composition.output.counts,
        tests=rules.snrna_composition.output.tests,
        samples=lambda wc: SNRNA.samples_path,
    output:
        bars=report(
            "results/snrna/composition/composition.png",
            caption="../report/snrna_composition_bars.rst",
            category="4. snRNA clustering and annotation",
            subcategory="composition",
            labels={"figure": "composition per sample"},
        ),
        strips=report(
            "results/snrna/composition/proportions.png",
            caption="../report/snrna_composition_strips.rst",
            category="4. snRNA clustering and annotation",
            subcategory="composition",
            labels={"figure": "proportions per animal"},
        ),
    log:
        "logs/snrna/composition_plots.log",
    benchmark:
        "benchmarks/snrna/composition_plots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800),
        runtime=runtime(5),
    params:
        colour_by=CONTRASTS[0].variable,
    script:
        "../../scripts/snrna_composition_plots.py"


checkpoint snrna_pseudobulk:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
        nuclei=rules.snrna_annotate.output.nuclei,
        samples=lambda wc: SNRNA.samples_path,
        markers=lambda wc: SNRNA.markers_path,
    output:
        h5ad="results/snrna/pseudobulk/pseudobulk.h5ad",
        samples=report(
            "results/snrna/pseudobulk/samples.tsv",
            caption="../report/snrna_pseudobulk_samples.rst",
            category="5. snRNA pseudobulk DE",
            subcategory="overview",
            labels={"table": "pseudobulk samples"},
        ),
        plan=report(
            "results/snrna/pseudobulk/plan.tsv",
            caption="../report/snrna_pseudobulk_plan.rst",
            category="5. snRNA pseudobulk DE",
            subcategory="overview",
            labels={"table": "tested and skipped cell types"},
        ),
        cell_types=directory("results/snrna/pseudobulk/cell_types"),
    log:
        "logs/snrna/pseudobulk.log",
    benchmark:
        "benchmarks/snrna/pseudobulk.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 2),
        runtime=runtime(15, 0.02),
    params:
        design=lambda wc: SNRNA.design,
        contrasts=config["contrasts"],
        pseudobulk=SNRNA_CONFIG.get("pseudobulk"),
        min_group_size=config["de"]["min_group_size"],
    script:
        "../../scripts/snrna_pseudobulk.py"


rule snrna_de_fit:
    input:
        counts=snrna_pseudobulk_counts,
        samples=lambda wc: SNRNA.samples_path,
    output:
        fit="results/snrna/de/{cell_type}/deseq2_fit.pkl",
        # Matrices, not results to read: kept out of the report to keep it small.
        normalized="results/snrna/de/{cell_type}/normalized_counts.tsv",
    log:
        "logs/snrna/de/{cell_type}/fit.log",
    benchmark:
        "benchmarks/snrna/de_fit_{cell_type}.tsv"
    wildcard_constraints:
        cell_type="|".join(SNRNA_SAFE_TYPES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 20),
        runtime=runtime(20, 1),
    params:
        design=lambda wc: SNRNA.design,
        contrasts=snrna_fit_contrasts,
        de=de_params(),
        label=lambda wc: snrna_label(wc.cell_type),
    script:
        "../../scripts/de_fit.py"


rule snrna_de_contrast:
    input:
        fit=rules.snrna_de_fit.output.fit,
    output:
        # In the report as a searchable table (rule snrna_de_table_html): 63 full TSVs
        # would make the single-file report too large to open.
        table="results/snrna/de/{cell_type}/{contrast}.tsv",
    log:
        "logs/snrna/de/{cell_type}/{contrast}.log",
    benchmark:
        "benchmarks/snrna/de_{cell_type}_{contrast}.tsv"
    wildcard_constraints:
        cell_type="|".join(SNRNA_SAFE_TYPES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 2),
        runtime=runtime(15, 0.2),
    params:
        contrast=lambda wc: contrast_config(wc.contrast),
        de=de_params(),
        label=lambda wc: snrna_label(wc.cell_type),
    script:
        "../../scripts/de_contrast.py"


rule snrna_de_plots:
    input:
        table=rules.snrna_de_contrast.output.table,
    output:
        volcano=report(
            "results/snrna/de/{cell_type}/{contrast}.volcano.png",
            caption="../report/volcano.rst",
            category="5. snRNA pseudobulk DE",
            subcategory=lambda wc: snrna_label(wc.cell_type),
            labels=lambda wc: {
                "cell type": snrna_label(wc.cell_type),
                "contrast": wc.contrast,
                "figure": "volcano plot",
            },
        ),
        ma=report(
            "results/snrna/de/{cell_type}/{contrast}.ma.png",
            caption="../report/ma.rst",
            category="5. snRNA pseudobulk DE",
            subcategory=lambda wc: snrna_label(wc.cell_type),
            labels=lambda wc: {
                "cell type": snrna_label(wc.cell_type),
                "contrast": wc.contrast,
                "figure": "MA plot",
            },
        ),
    log:
        "logs/snrna/de/{cell_type}/{contrast}.plots.log",
    benchmark:
        "benchmarks/snrna/de_plots_{cell_type}_{contrast}.tsv"
    wildcard_constraints:
        cell_type="|".join(SNRNA_SAFE_TYPES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 5),
        runtime=runtime(10),
    params:
        title=lambda wc: f"snRNA {snrna_label(wc.cell_type)}: {contrast_label(wc.contrast)}",
        padj_threshold=config["plots"]["padj_threshold"],
        lfc_threshold=config["plots"]["lfc_threshold"],
        label_top=config["plots"]["label_top"],
        highlight_genes=config["plots"]["highlight_genes"],
    script:
        "../../scripts/de_plots.py"


rule snrna_de_summary:
    input:
        plan=rules.snrna_pseudobulk.output.plan,
        tables=snrna_de_files("results/snrna/de/{cell_type}/{contrast}.tsv"),
        plots=snrna_de_files("results/snrna/de/{cell_type}/{contrast}.volcano.png"),
        html=snrna_de_files("results/snrna/de/{cell_type}/{contrast}.table.html"),
    output:
        summary=report(
            "results/snrna/de/summary.tsv",
            caption="../report/snrna_de_summary.rst",
            category="5. snRNA pseudobulk DE",
            subcategory="overview",
            labels={"table": "significant genes per cell type and contrast"},
        ),
    log:
        "logs/snrna/de_summary.log",
    benchmark:
        "benchmarks/snrna/de_summary.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 2),
        runtime=runtime(5),
    params:
        table_keys=lambda wc: snrna_tested(),
        alpha=config["de"]["alpha"],
    script:
        "../../scripts/snrna_de_summary.py"


rule snrna_pathway:
    input:
        h5ad=rules.snrna_pseudobulk.output.h5ad,
        samples=lambda wc: SNRNA.samples_path,
        genesets=SNRNA_CONFIG.get("pathway_genesets", []),
    output:
        table=report(
            "results/snrna/pathway/per_animal.tsv",
            caption="../report/snrna_pathway_table.rst",
            category="5. snRNA pseudobulk DE",
            subcategory="Tiam1/Rac1 pathway",
            labels={"table": "per-animal pathway values"},
        ),
    log:
        "logs/snrna/pathway.log",
    benchmark:
        "benchmarks/snrna/pathway.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 2),
        runtime=runtime(10),
    params:
        genes=SNRNA_CONFIG.get("pathway_genes"),
    script:
        "../../scripts/snrna_pathway.py"


rule snrna_pathway_plots:
    input:
        table=rules.snrna_pathway.output.table,
        markers=lambda wc: SNRNA.markers_path,
    output:
        genes=report(
            "results/snrna/pathway/genes.png",
            caption="../report/snrna_pathway_genes.rst",
            category="5. snRNA pseudobulk DE",
            subcategory="Tiam1/Rac1 pathway",
            labels={"figure": "genes per animal"},
        ),
        sets=report(
            "results/snrna/pathway/gene_sets.png",
            caption="../report/snrna_pathway_sets.rst",
            category="5. snRNA pseudobulk DE",
            subcategory="Tiam1/Rac1 pathway",
            labels={"figure": "gene-set scores per animal"},
        ),
    log:
        "logs/snrna/pathway_plots.log",
    benchmark:
        "benchmarks/snrna/pathway_plots.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800),
        runtime=runtime(5),
    params:
        colour_by=CONTRASTS[0].variable,
        genes=SNRNA_CONFIG.get("pathway_genes"),
    script:
        "../../scripts/snrna_pathway_plots.py"


rule snrna_de_table_html:
    input:
        table="results/snrna/de/{cell_type}/{contrast}.tsv",
    output:
        html=report(
            "results/snrna/de/{cell_type}/{contrast}.table.html",
            caption="../report/snrna_de_table_html.rst",
            category="5. snRNA pseudobulk DE",
            subcategory=lambda wc: snrna_label(wc.cell_type),
            labels=lambda wc: {
                "cell type": snrna_label(wc.cell_type),
                "contrast": wc.contrast,
                "figure": "DE table",
            },
        ),
    log:
        "logs/snrna/de/{cell_type}/{contrast}.table_html.log",
    benchmark:
        "benchmarks/snrna/de_table_html_{cell_type}_{contrast}.tsv"
    wildcard_constraints:
        cell_type="|".join(SNRNA_SAFE_TYPES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 5),
        runtime=runtime(5),
    params:
        title=lambda wc: f"snRNA {snrna_label(wc.cell_type)}: {contrast_label(wc.contrast)}",
        note="Pseudobulk DE (sum of counts per animal). Sorted by p-value; the full table "
        "is the TSV next to this file.",
        max_rows=1000,
    script:
        "../../scripts/table_html.py"
