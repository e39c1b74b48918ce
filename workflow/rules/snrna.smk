include: "snrna_common.smk"


rule snrna_qc_sample:
    input:
        matrix=lambda wc: SNRNA.inputs[wc.sample],
        raw=lambda wc: SNRNA.raw_inputs.get(wc.sample, []),
    output:
        h5ad="results/snrna/qc/{sample}.h5ad",
        nuclei="results/snrna/qc/{sample}.nuclei.tsv",
        summary="results/snrna/qc/{sample}.filters.tsv",
        soup="results/snrna/qc/{sample}.soup.tsv",
        ranks="results/snrna/qc/{sample}.barcode_ranks.tsv",
    log:
        "logs/snrna/qc/{sample}.log",
    benchmark:
        "benchmarks/snrna/qc_{sample}.tsv"
    wildcard_constraints:
        sample="|".join(SNRNA_SAMPLES),
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 4),
        runtime=runtime(15, 0.2),
    params:
        path=lambda wc: SNRNA.paths[wc.sample],
        raw_path=lambda wc: SNRNA.raw_paths.get(wc.sample),
        qc=SNRNA_QC,
        seed=config["seed"],
    script:
        "../../scripts/snrna_qc_sample.py"


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
    priority: CRITICAL_PATH
    conda:
        ENV
    # Two threads for the exact neighbour search of a large study (its result does not
    # depend on them; every other step runs on one, so that results do not depend on
    # cores): 49 -> 26 s at 88,000 nuclei (549 MB of count matrices). A small study's
    # search takes seconds, not worth waiting for a second core to be free. Sized from
    # the sheet's matrices, not from input.size_mb: Snakemake needs threads as a number
    # even before QC has run, and a dry run of a new study stopped there.
    threads: 2 if snrna_matrices_mb() > 250 else 1
    resources:
        # true peak (VmHWM) 3.9 GB for 276 MB of QC objects (88k nuclei), 15.0 GB for
        # 1.1 GB (355k): the batched highly-variable-gene search holds the matrix and
        # copies of a batch of it. 6% above the peak at 355k, so that the request still
        # fits a 16 GB node there.
        mem_mb=mem_mb(500, 14),
        runtime=runtime(20, 0.05),
    params:
        samples=SNRNA_SAMPLES,
        allow_gene_intersection=SNRNA_CONFIG.get("allow_gene_intersection", False),
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
    # Measured (docs/benchmarks.md): 0.5 GB and 78 s at 46 MB of input (88k nuclei),
    # 1.0 GB and 9 min at 182 MB (355k). Memory about 25% above that; time 5x, as a
    # cluster core can be slower and UMAP's time grows faster than its input.
    resources:
        mem_mb=mem_mb(600, 4.5),
        runtime=runtime(15, 0.2),
    params:
        umap_min_dist=SNRNA_CONFIG.get("integration", {}).get("umap_min_dist"),
        seed=config["seed"],
    script:
        "../../scripts/snrna_umap.py"


rule snrna_annotate:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
        qc=expand(rules.snrna_qc_sample.output.h5ad, sample=SNRNA_SAMPLES),
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
        warnings=report(
            "results/snrna/annotation/warnings.tsv",
            caption="../report/snrna_annotation_warnings.rst",
            category="4. snRNA clustering and annotation",
            subcategory="annotation",
            labels={"table": "annotation warnings"},
        ),
    log:
        "logs/snrna/annotate.log",
    benchmark:
        "benchmarks/snrna/annotate.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 1.5),
        runtime=runtime(15, 0.02),
    params:
        samples=SNRNA_SAMPLES,
        annotation=SNRNA_CONFIG.get("annotation"),
        seed=config["seed"],
    script:
        "../../scripts/snrna_annotate.py"


rule snrna_ambient:
    input:
        qc=expand(rules.snrna_qc_sample.output.h5ad, sample=SNRNA_SAMPLES),
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
        soups=expand(rules.snrna_qc_sample.output.soup, sample=SNRNA_SAMPLES),
        nuclei=rules.snrna_annotate.output.nuclei,
        markers=lambda wc: SNRNA.markers_path,
    output:
        contamination=report(
            "results/snrna/ambient/contamination.tsv",
            caption="../report/snrna_contamination.rst",
            category="3. snRNA QC",
            subcategory="ambient RNA",
            labels={"table": "contamination per sample"},
        ),
        sets="results/snrna/ambient/contamination_by_class.tsv",
        nuclei="results/snrna/ambient/nuclei.tsv",
    log:
        "logs/snrna/ambient.log",
    benchmark:
        "benchmarks/snrna/ambient.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1500, 2),
        runtime=runtime(15, 0.1),
    params:
        samples=SNRNA_SAMPLES,
        method=SNRNA_AMBIENT.get("method", "soup"),
        coexpression=(SNRNA_CONFIG.get("qc") or {}).get("coexpression_doublets", True),
        seed=config["seed"],
    script:
        "../../scripts/snrna_ambient.py"


rule snrna_qc_summary:
    input:
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
        contamination=rules.snrna_ambient.output.contamination,
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
    priority: LONG_FIGURES  # the QC figures wait for it
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


rule snrna_assemble:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
        qc=expand(rules.snrna_qc_sample.output.h5ad, sample=SNRNA_SAMPLES),
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
        soups=expand(rules.snrna_qc_sample.output.soup, sample=SNRNA_SAMPLES),
        ambient=rules.snrna_ambient.output.nuclei,
        samples=lambda wc: SNRNA.samples_path,
        nuclei=rules.snrna_annotate.output.nuclei,
        umap=rules.snrna_umap.output.umap,
        markers=lambda wc: SNRNA.markers_path,
    output:
        h5ad="results/snrna/annotated.h5ad",
    log:
        "logs/snrna/assemble.log",
    benchmark:
        "benchmarks/snrna/assemble.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    resources:
        # counts go to disk sample by sample: 2.0 GB at 88k nuclei (359 MB of inputs),
        # mostly one sample's counts and the nucleus tables
        mem_mb=mem_mb(1500, 2.5),
        runtime=runtime(10, 0.1),
    params:
        samples=SNRNA_SAMPLES,
        allow_gene_intersection=SNRNA_CONFIG.get("allow_gene_intersection", False),
        ambient_method=SNRNA_AMBIENT.get("method", "soup"),
    script:
        "../../scripts/snrna_assemble.py"


rule snrna_annotation_plots:
    input:
        h5ad=rules.snrna_integrate.output.h5ad,
        qc=expand(rules.snrna_qc_sample.output.h5ad, sample=SNRNA_SAMPLES),
        samples=lambda wc: SNRNA.samples_path,
        nuclei=rules.snrna_annotate.output.nuclei,
        umap=rules.snrna_umap.output.umap,
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
        samples=SNRNA_SAMPLES,
        annotation=SNRNA_CONFIG.get("annotation"),
        colour_by=CONTRASTS[0].variable,
        genes=SNRNA_CONFIG.get("pathway_genes"),
        integration=SNRNA_CONFIG.get("integration"),
    script:
        "../../scripts/snrna_annotation_plots.py"


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
        qc=expand(rules.snrna_qc_sample.output.h5ad, sample=SNRNA_SAMPLES),
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
        soups=expand(rules.snrna_qc_sample.output.soup, sample=SNRNA_SAMPLES),
        nuclei=rules.snrna_annotate.output.nuclei,
        ambient=rules.snrna_ambient.output.nuclei,
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
        sex=report(
            "results/snrna/pseudobulk/sex_check.tsv",
            caption="../report/sex_check.rst",
            category="3. snRNA QC",
            subcategory="sex check",
            labels={"table": "sex check per animal"},
        ),
        cell_types=directory(SNRNA_PSEUDOBULK_DIR),
    log:
        "logs/snrna/pseudobulk.log",
    benchmark:
        "benchmarks/snrna/pseudobulk.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    # Measured (docs/benchmarks.md): 2.1 GB at 366 MB of input (88k nuclei), 5.1 GB at
    # 1.4 GB (355k); about 25% above that.
    resources:
        mem_mb=mem_mb(1500, 3.5),
        runtime=runtime(15, 0.02),
    params:
        samples=SNRNA_SAMPLES,
        design=lambda wc: SNRNA.design,
        contrasts=config["contrasts"],
        pseudobulk=SNRNA_CONFIG.get("pseudobulk"),
        gene_filter=config["de"]["filter"],
        min_group_size=config["de"]["min_group_size"],
        ambient_method=SNRNA_AMBIENT.get("method", "soup"),
        sex_mismatch=config["qc"]["sex_mismatch"],
        files={safe: snrna_pseudobulk_files(safe) for safe in SNRNA_SAFE_TYPES},
    script:
        "../../scripts/snrna_pseudobulk.py"


# The per-sample figures need only the QC jobs' tables: drawn right after QC (beside
# integration where it runs on one thread), not after the ambient step and the sex
# check, which the figures of rule snrna_qc_plots wait for.
rule snrna_qc_sample_plots:
    input:
        nuclei=expand(rules.snrna_qc_sample.output.nuclei, sample=SNRNA_SAMPLES),
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
    output:
        per_sample=[
            report(
                f"results/snrna/qc/{sample}.qc.png",
                caption="../report/snrna_qc_sample.rst",
                category="3. snRNA QC",
                subcategory="per sample",
                labels={"sample": sample, "figure": "nucleus QC"},
            )
            for sample in SNRNA_SAMPLES
        ],
    log:
        "logs/snrna/qc_sample_plots.log",
    benchmark:
        "benchmarks/snrna/qc_sample_plots.tsv"
    priority: LONG_FIGURES
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 1),
        runtime=runtime(10, 0.05),
    params:
        samples=SNRNA_SAMPLES,
        qc=SNRNA_CONFIG.get("qc"),  # for the caption
    script:
        "../../scripts/snrna_qc_sample_plots.py"


rule snrna_qc_plots:
    input:
        summaries=expand(rules.snrna_qc_sample.output.summary, sample=SNRNA_SAMPLES),
        table=rules.snrna_qc_summary.output.table,
        ranks=expand(rules.snrna_qc_sample.output.ranks, sample=SNRNA_SAMPLES),
        contamination=rules.snrna_ambient.output.contamination,
        sex=rules.snrna_pseudobulk.output.sex,
    output:
        overview=report(
            "results/snrna/qc/nuclei_per_sample.png",
            caption="../report/snrna_nuclei_per_sample.rst",
            category="3. snRNA QC",
            subcategory="all samples",
            labels={"figure": "nuclei per sample"},
        ),
        barcode_ranks=report(
            "results/snrna/qc/barcode_ranks.png",
            caption="../report/snrna_barcode_ranks.rst",
            category="3. snRNA QC",
            subcategory="ambient RNA",
            labels={"figure": "barcode ranks per sample"},
        ),
        contamination=report(
            "results/snrna/ambient/contamination.png",
            caption="../report/snrna_contamination_plot.rst",
            category="3. snRNA QC",
            subcategory="ambient RNA",
            labels={"figure": "contamination per sample"},
        ),
        sex=report(
            "results/snrna/qc/sex_check.png",
            caption="../report/sex_check_plot.rst",
            category="3. snRNA QC",
            subcategory="sex check",
            labels={"figure": "Xist vs chrY per animal"},
        ),
    log:
        "logs/snrna/qc_plots.log",
    benchmark:
        "benchmarks/snrna/qc_plots.tsv"
    priority: LONG_FIGURES
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 1),
        runtime=runtime(10, 0.05),
    params:
        samples=SNRNA_SAMPLES,
    script:
        "../../scripts/snrna_qc_plots.py"


rule snrna_de:
    input:
        plan=rules.snrna_pseudobulk.output.plan,
        cell_types=rules.snrna_pseudobulk.output.cell_types,
        samples=lambda wc: SNRNA.samples_path,
    output:
        # In the report as searchable pages (rule snrna_de_plots), not as whole TSVs.
        tables=snrna_de_outputs("tables"),
        # A matrix, not a result to read: kept out of the report to keep it small.
        normalized=snrna_de_outputs("normalized"),
        # The fitted model, for CAMERA and the set-score equivalence test.
        design=snrna_de_outputs("design"),
        contrasts=snrna_de_outputs("contrasts"),
        # Equivalence to control (DESeq2 lessAbs); columns only when not tested.
        equivalence=snrna_de_outputs("equivalence"),
    log:
        "logs/snrna/de.log",
    benchmark:
        "benchmarks/snrna/de.tsv"
    priority: CRITICAL_PATH
    conda:
        ENV
    threads: 1
    # Sized for the largest cell type's fit (its counts are in the checkpoint's folder,
    # whose size Snakemake cannot see): about 0.3 GB at 24 mice x 20,000 genes.
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(30),
    params:
        files=snrna_de_job_files(),
        design=lambda wc: SNRNA.design,
        contrasts=config["contrasts"],
        contrast_names=CONTRAST_NAMES,
        de=de_params(),
        ambient=SNRNA_AMBIENT.get("method", "soup") != "none",
        ambient_max_fraction=SNRNA_AMBIENT.get("max_fraction", 0.5),
        equivalence=lambda wc: de_equivalence(),
    script:
        "../../scripts/snrna_de.py"


# One job per contrast: the figures are the longest job after the fits, and three jobs
# can share the cores with the summaries and enrichment while a plot tweak still never
# refits.
rule snrna_de_plots:
    input:
        tables=lambda wc: snrna_de_tables(wc.contrast),
        plan=rules.snrna_pseudobulk.output.plan,
    output:
        volcano=snrna_de_report("volcano.png", "../report/volcano.rst", "volcano plot"),
        ma=snrna_de_report("ma.png", "../report/ma.rst", "MA plot"),
        html=snrna_de_report(
            "table.html", "../report/snrna_de_table_html.rst", "DE table"
        ),
    log:
        "logs/snrna/de_plots/{contrast}.log",
    benchmark:
        "benchmarks/snrna/de_plots_{contrast}.tsv"
    priority: LONG_FIGURES
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(800, 0.5),
        runtime=runtime(20, 0.2),
    params:
        datasets=lambda wc: [(safe, wc.contrast) for safe in SNRNA_SAFE_TYPES],
        titles=lambda wc: [
            f"snRNA {snrna_label(safe)}: {contrast_label(wc.contrast)}"
            for safe in SNRNA_SAFE_TYPES
        ],
        padj_threshold=config["plots"]["padj_threshold"],
        lfc_threshold=config["plots"]["lfc_threshold"],
        label_top=config["plots"]["label_top"],
        highlight_genes=config["plots"]["highlight_genes"],
        note="Pseudobulk DE (sum of counts per animal). Sorted by p-value; the full table "
        "is the TSV next to this file in the results folder.",
        max_rows=config["plots"]["table_rows"],
    script:
        "../../scripts/de_report.py"


rule snrna_de_summary:
    input:
        plan=rules.snrna_pseudobulk.output.plan,
        tables=rules.snrna_de.output.tables,
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
        datasets=SNRNA_DE_KEYS,
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
