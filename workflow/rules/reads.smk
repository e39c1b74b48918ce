# Reads front end: bulk FASTQ -> fastp -> salmon (or STAR + featureCounts) -> gene counts
# where the bulk branch reads them; 10x FASTQ -> STARsolo (GeneFull, EmptyDrops_CR) ->
# filtered and raw matrices where the snRNA branch reads them; MultiQC over all logs.
# Every FASTQ and reference check runs before any index is built (reads_checks).


include: "reads_common.smk"


READS_REPORT = "0. Reads to counts"


rule demo_reads:
    input:
        genesets="config/genesets/tiam1_rac1.gmt",
        markers="config/markers/acc_markers.tsv",
        bulk_samples=READS_DEMO.sheets["bulk_samples"],
        bulk_units=READS_DEMO.sheets["bulk_units"],
        snrna_samples=READS_DEMO.sheets["snrna_samples"],
        snrna_units=READS_DEMO.sheets["snrna_units"],
    output:
        **READS_DEMO.reference,
        **READS_DEMO.truth,
        fastq=READS_DEMO.fastq,
    log:
        "logs/demo/reads.log",
    benchmark:
        "benchmarks/demo/reads.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(20),
    params:
        seed=config["seed"],
        fragments=config["demo"]["reads_fragments"],
        nuclei=config["demo"]["reads_nuclei"],
        umis=config["demo"]["reads_umis"],
        empty_droplets=config["demo"]["reads_empty_droplets"],
    script:
        "../../scripts/demo_reads.py"


rule reads_check_fastq:
    input:
        lambda wc: reads_units(wc.branch).files(wc.sample),
    output:
        "results/reads/{branch}/checks/{sample}.tsv",
    log:
        "logs/reads/check_fastq/{branch}/{sample}.log",
    benchmark:
        "benchmarks/reads/check_fastq_{branch}_{sample}.tsv"
    wildcard_constraints:
        branch="bulk|snrna",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(10, 0.02),
    params:
        units=lambda wc: reads_units(wc.branch).rows(wc.sample),
        min_read1=lambda wc: READS.min_read1_length(wc.branch),
    script:
        "../../scripts/reads_check_fastq.py"


rule reads_check_reference:
    input:
        unpack(lambda wc: READS.reference_inputs),
    output:
        tx2gene="results/reads/reference/tx2gene.tsv",
        genes="results/reads/reference/genes.tsv",
        decoys="results/reads/reference/decoys.txt",
        sa_nbases="results/reads/reference/star_sa_index_nbases.txt",
        summary="results/reads/reference/check.json",
    log:
        "logs/reads/check_reference.log",
    benchmark:
        "benchmarks/reads/check_reference.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(2000, 0.5),
        runtime=runtime(10, 0.05),
    params:
        sa_nbases=READS_SETTINGS.get("star_sa_index_nbases"),
    script:
        "../../scripts/reads_check_reference.py"


rule reads_whitelist:
    input:
        READS_SETTINGS.get("whitelist", []),
    output:
        "results/reads/snrna/whitelist.txt",
    log:
        "logs/reads/whitelist.log",
    benchmark:
        "benchmarks/reads/whitelist.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 3),
        runtime=runtime(5),
    params:
        chemistry=READS_SETTINGS.get("chemistry"),
    script:
        "../../scripts/reads_whitelist.py"


rule reads_gunzip:
    input:
        lambda wc: READS.reference[wc.key],
    output:
        temp("results/reads/reference/plain/{key}"),
    log:
        "logs/reads/gunzip_{key}.log",
    benchmark:
        "benchmarks/reads/gunzip_{key}.tsv"
    wildcard_constraints:
        key="genome|gtf",
    conda:
        "../envs/star.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(200),
        runtime=runtime(10, 0.01),
    shell:
        "gzip -dc {input} > {output} 2> {log}"


rule reads_gentrome:
    input:
        transcriptome=lambda wc: READS.reference["transcriptome"],
        genome=lambda wc: READS.reference["genome"],
        checks=reads_checks,
    output:
        temp("results/reads/index/gentrome.fa"),
    log:
        "logs/reads/gentrome.log",
    benchmark:
        "benchmarks/reads/gentrome.tsv"
    conda:
        "../envs/salmon.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb(200),
        runtime=runtime(10, 0.01),
    shell:
        # salmon's decoy-aware index: transcripts first, then the genome (the decoys).
        "(gzip -cdf {input.transcriptome}; gzip -cdf {input.genome}) > {output} 2> {log}"


rule reads_salmon_index:
    input:
        fasta=lambda wc: (
            rules.reads_gentrome.output[0]
            if READS_SETTINGS["salmon_decoys"]
            else READS.reference["transcriptome"]
        ),
        decoys=rules.reads_check_reference.output.decoys,
        checks=reads_checks,
    output:
        directory("results/reads/index/salmon"),
    log:
        "logs/reads/salmon_index.log",
    benchmark:
        "benchmarks/reads/salmon_index.tsv"
    conda:
        "../envs/salmon.yaml"
    threads: 8
    resources:
        mem_mb=reads_mem_mb(2000, 8, READS_SALMON_MB),
        runtime=runtime(30, 0.05),
    params:
        decoys=lambda wc, input: (
            f"-d {input.decoys}" if READS_SETTINGS["salmon_decoys"] else ""
        ),
        gencode="--gencode" if READS_SETTINGS.get("salmon_gencode") else "",
    shell:
        "salmon index -t {input.fasta} {params.decoys} {params.gencode} -i {output} "
        "-p {threads} > {log} 2>&1"


rule reads_star_index:
    input:
        genome=reads_plain("genome"),
        gtf=reads_plain("gtf"),
        sa_nbases=rules.reads_check_reference.output.sa_nbases,
        checks=reads_checks,
    output:
        directory("results/reads/index/star"),
    log:
        "logs/reads/star_index.log",
    benchmark:
        "benchmarks/reads/star_index.tsv"
    conda:
        "../envs/star.yaml"
    threads: 8
    resources:
        mem_mb=reads_mem_mb(4000, 11, READS_GENOME_MB),
        runtime=runtime(60, 0.1),
    params:
        overhang=READS_SETTINGS.get("star_sjdb_overhang"),
    shell:
        "mkdir -p {output} && STAR --runMode genomeGenerate --runThreadN {threads} "
        "--genomeDir {output} --genomeFastaFiles {input.genome} --sjdbGTFfile {input.gtf} "
        "--sjdbOverhang {params.overhang} --genomeSAindexNbases $(cat {input.sa_nbases}) "
        "--limitGenomeGenerateRAM $(({resources.mem_mb} * 1000000)) "
        "--outFileNamePrefix {output}/ --outTmpDir {output}/_STARtmp > {log} 2>&1"


rule reads_fastp_pe:
    input:
        r1=lambda wc: READS.bulk.row(wc.sample, wc.unit)["fq1"],
        r2=lambda wc: READS.bulk.row(wc.sample, wc.unit)["fq2"],
        check="results/reads/bulk/checks/{sample}.tsv",
    output:
        r1=temp("results/reads/bulk/trimmed/{sample}.{unit}.1.fastq.gz"),
        r2=temp("results/reads/bulk/trimmed/{sample}.{unit}.2.fastq.gz"),
        json="results/reads/bulk/fastp/{sample}.{unit}.fastp.json",
        html="results/reads/bulk/fastp/{sample}.{unit}.fastp.html",
    log:
        "logs/reads/fastp/{sample}.{unit}.log",
    benchmark:
        "benchmarks/reads/fastp_{sample}.{unit}.tsv"
    wildcard_constraints:
        sample=READS_BULK_RE,
        unit="[A-Za-z0-9_-]+",
    conda:
        "../envs/fastp.yaml"
    threads: 4
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(15, 0.05),
    shell:
        "fastp -i {input.r1} -I {input.r2} -o {output.r1} -O {output.r2} "
        "--detect_adapter_for_pe -w {threads} -j {output.json} -h {output.html} > {log} 2>&1"


rule reads_fastp_se:
    input:
        r1=lambda wc: READS.bulk.row(wc.sample, wc.unit)["fq1"],
        check="results/reads/bulk/checks/{sample}.tsv",
    output:
        r1=temp("results/reads/bulk/trimmed/{sample}.{unit}.fastq.gz"),
        json="results/reads/bulk/fastp/{sample}.{unit}.fastp.json",
        html="results/reads/bulk/fastp/{sample}.{unit}.fastp.html",
    log:
        "logs/reads/fastp/{sample}.{unit}.log",
    benchmark:
        "benchmarks/reads/fastp_{sample}.{unit}.tsv"
    wildcard_constraints:
        sample=READS_BULK_RE,
        unit="[A-Za-z0-9_-]+",
    conda:
        "../envs/fastp.yaml"
    threads: 4
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(15, 0.05),
    shell:
        "fastp -i {input.r1} -o {output.r1} -w {threads} -j {output.json} -h {output.html} "
        "> {log} 2>&1"


ruleorder: reads_fastp_pe > reads_fastp_se


rule reads_salmon_quant:
    input:
        r1=reads_trimmed(1),
        r2=reads_trimmed(2),
        index=rules.reads_salmon_index.output[0],
    output:
        quant="results/reads/bulk/salmon/{sample}/quant.sf",
        lib="results/reads/bulk/salmon/{sample}/lib_format_counts.json",
        meta="results/reads/bulk/salmon/{sample}/aux_info/meta_info.json",
        fld="results/reads/bulk/salmon/{sample}/libParams/flenDist.txt",
    log:
        "logs/reads/salmon/{sample}.log",
    benchmark:
        "benchmarks/reads/salmon_{sample}.tsv"
    wildcard_constraints:
        sample=READS_BULK_RE,
    conda:
        "../envs/salmon.yaml"
    threads: 8
    resources:
        mem_mb=reads_mem_mb(2000, 8, READS_SALMON_MB),
        runtime=runtime(30, 0.05),
    params:
        outdir=subpath(output.quant, parent=True),
        libtype=lambda wc: READS.salmon_libtype(wc.sample),
        reads=lambda wc, input: (
            f"-1 {' '.join(input.r1)} -2 {' '.join(input.r2)}"
            if input.r2
            else f"-r {' '.join(input.r1)}"
        ),
    shell:
        "salmon quant -i {input.index} -l {params.libtype} {params.reads} -p {threads} "
        "--validateMappings -o {params.outdir} > {log} 2>&1"


rule reads_star_align:
    input:
        r1=reads_trimmed(1),
        r2=reads_trimmed(2),
        index=rules.reads_star_index.output[0],
    output:
        bam="results/reads/bulk/star/{sample}.Aligned.sortedByCoord.out.bam",
        log_final="results/reads/bulk/star/{sample}.Log.final.out",
        genes="results/reads/bulk/star/{sample}.ReadsPerGene.out.tab",
    log:
        "logs/reads/star/{sample}.log",
    benchmark:
        "benchmarks/reads/star_{sample}.tsv"
    wildcard_constraints:
        sample=READS_BULK_RE,
    conda:
        "../envs/star.yaml"
    threads: 8
    resources:
        mem_mb=reads_mem_mb(4000, 11, READS_GENOME_MB),
        runtime=runtime(60, 0.1),
    params:
        prefix=subpath(output.bam, strip_suffix="Aligned.sortedByCoord.out.bam"),
        reads=lambda wc, input: " ".join(
            ",".join(files) for files in (input.r1, input.r2) if files
        ),
    shell:
        # A killed run leaves STAR's temporary folder, which STAR refuses to reuse.
        "rm -rf {params.prefix}_STARtmp && "
        "STAR --runThreadN {threads} --genomeDir {input.index} --readFilesIn {params.reads} "
        "--readFilesCommand zcat --outSAMtype BAM SortedByCoordinate --quantMode GeneCounts "
        "--outFileNamePrefix {params.prefix} > {log} 2>&1"


rule reads_strandedness:
    input:
        orientation=lambda wc: READS.orientation_files(
            rules.reads_salmon_quant.output.lib, rules.reads_star_align.output.genes
        ),
    output:
        table=report(
            "results/reads/bulk/strandedness.tsv",
            caption="../report/reads_strandedness.rst",
            category=READS_REPORT,
            labels={"table": "strandedness"},
        ),
        codes=expand(
            "results/reads/bulk/strandedness/{sample}.txt", sample=READS_BULK_SAMPLES
        ),
        mqc="results/reads/bulk/strandedness_mqc.tsv",
    log:
        "logs/reads/strandedness.log",
    benchmark:
        "benchmarks/reads/strandedness.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(5),
    params:
        samples=READS_BULK_SAMPLES,
        configured=READS_SETTINGS.get("strandedness"),
        quantifier=READS_SETTINGS.get("quantifier"),
    script:
        "../../scripts/reads_strandedness.py"


rule reads_featurecounts:
    input:
        bam=rules.reads_star_align.output.bam,
        strand="results/reads/bulk/strandedness/{sample}.txt",
        gtf=lambda wc: READS.reference["gtf"],
    output:
        counts="results/reads/bulk/featurecounts/{sample}.tsv",
        summary="results/reads/bulk/featurecounts/{sample}.tsv.summary",
    log:
        "logs/reads/featurecounts/{sample}.log",
    benchmark:
        "benchmarks/reads/featurecounts_{sample}.tsv"
    wildcard_constraints:
        sample=READS_BULK_RE,
    conda:
        "../envs/subread.yaml"
    threads: 4
    resources:
        mem_mb=mem_mb(1000),
        runtime=runtime(30, 0.02),
    params:
        # Paired-end: count fragments (subread 2.0.3 needs --countReadPairs with -p).
        paired=lambda wc: "-p --countReadPairs" if READS.bulk.paired(wc.sample) else "",
    shell:
        "featureCounts -T {threads} -a {input.gtf} -o {output.counts} "
        "-s $(cat {input.strand}) {params.paired} {input.bam} > {log} 2>&1"


rule reads_gene_counts:
    input:
        counts=lambda wc: (
            expand(rules.reads_salmon_quant.output.quant, sample=READS_BULK_SAMPLES)
            if READS_SETTINGS["quantifier"] == "salmon"
            else expand(
                rules.reads_featurecounts.output.counts, sample=READS_BULK_SAMPLES
            )
        ),
        genes=rules.reads_check_reference.output.genes,
        tx2gene=rules.reads_check_reference.output.tx2gene,
    output:
        READS_BULK_COUNTS,
    log:
        "logs/reads/gene_counts.log",
    benchmark:
        "benchmarks/reads/gene_counts.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(1000, 5),
        runtime=runtime(10),
    params:
        samples=READS_BULK_SAMPLES,
        quantifier=READS_SETTINGS.get("quantifier"),
        salmon_counts=READS_SETTINGS.get("salmon_counts"),
    script:
        "../../scripts/reads_gene_counts.py"


rule reads_starsolo:
    input:
        r1=lambda wc: READS.snrna.read_files(wc.sample, 1),
        r2=lambda wc: READS.snrna.read_files(wc.sample, 2),
        index=rules.reads_star_index.output[0],
        whitelist=rules.reads_whitelist.output[0],
    output:
        solo=directory("results/reads/snrna/starsolo/{sample}/Solo.out"),
        log_final="results/reads/snrna/starsolo/{sample}/Log.final.out",
    log:
        "logs/reads/starsolo/{sample}.log",
    benchmark:
        "benchmarks/reads/starsolo_{sample}.tsv"
    wildcard_constraints:
        sample=READS_SNRNA_RE,
    conda:
        "../envs/star.yaml"
    threads: 8
    resources:
        mem_mb=reads_mem_mb(4000, 11, READS_GENOME_MB),
        runtime=runtime(60, 0.1),
    params:
        prefix=subpath(output.log_final, strip_suffix="Log.final.out"),
        # STARsolo reads the cDNA read first, then the barcode read.
        reads=lambda wc, input: f"{','.join(input.r2)} {','.join(input.r1)}",
        read_command=lambda wc: "zcat" if READS.snrna.gzipped(wc.sample) else "cat",
        solo=lambda wc, input: reads_lib.solo_arguments(
            READS_SETTINGS["chemistry"], input.whitelist, READS_SETTINGS["cell_filter"]
        ),
    shell:
        "rm -rf {params.prefix}_STARtmp && mkdir -p {params.prefix} && "
        "STAR --runThreadN {threads} --genomeDir {input.index} "
        "--readFilesIn {params.reads} --readFilesCommand {params.read_command} {params.solo} "
        "--outFileNamePrefix {params.prefix} > {log} 2>&1"


rule reads_solo_matrices:
    input:
        solo=rules.reads_starsolo.output.solo,
        genes=rules.reads_check_reference.output.genes,
    output:
        filtered=reads_matrix_files("filtered"),
        raw=reads_matrix_files("raw"),
        summary="results/reads/snrna/starsolo/{sample}/matrices.json",
    log:
        "logs/reads/solo_matrices/{sample}.log",
    benchmark:
        "benchmarks/reads/solo_matrices_{sample}.tsv"
    wildcard_constraints:
        sample=READS_SNRNA_RE,
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(15),
    params:
        folders=lambda wc: READS.matrices[wc.sample],
    script:
        "../../scripts/reads_solo_matrices.py"


rule reads_cell_calling:
    input:
        summaries=expand(
            rules.reads_solo_matrices.output.summary, sample=READS_SNRNA_SAMPLES
        ),
        solo=expand(rules.reads_starsolo.output.solo, sample=READS_SNRNA_SAMPLES),
    output:
        table=report(
            "results/reads/snrna/cell_calling.tsv",
            caption="../report/reads_cell_calling.rst",
            category=READS_REPORT,
            labels={"table": "STARsolo nuclei per sample"},
        ),
        mqc="results/reads/snrna/cell_calling_mqc.tsv",
    log:
        "logs/reads/cell_calling.log",
    benchmark:
        "benchmarks/reads/cell_calling.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(500),
        runtime=runtime(5),
    params:
        samples=READS_SNRNA_SAMPLES,
        cell_filter=READS_SETTINGS.get("cell_filter"),
    script:
        "../../scripts/reads_cell_calling.py"


rule reads_multiqc:
    input:
        unpack(reads_multiqc_inputs),
    output:
        html=report(
            "results/reads/multiqc/multiqc_report.html",
            caption="../report/reads_multiqc.rst",
            category=READS_REPORT,
            labels={"report": "MultiQC"},
        ),
        stats="results/reads/multiqc/multiqc_report_data/multiqc_general_stats.txt",
    log:
        "logs/reads/multiqc.log",
    benchmark:
        "benchmarks/reads/multiqc.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=mem_mb(2000),
        runtime=runtime(15),
    script:
        "../../scripts/reads_multiqc.py"
