# Helpers of the reads front end (reads.smk): input functions, targets and resources. The
# config is checked in common.smk's reads block (READS); the logic is in acc_tiam1.reads.

import re

READS_SETTINGS = READS.settings
READS_BULK_SAMPLES = READS.bulk.samples if READS.bulk is not None else []
READS_SNRNA_SAMPLES = READS.snrna.samples if READS.snrna is not None else []
#: Wildcard constraints: exactly the configured samples (ids may hold '.').
READS_BULK_RE = "|".join(map(re.escape, READS_BULK_SAMPLES)) or "(?!)"
READS_SNRNA_RE = "|".join(map(re.escape, READS_SNRNA_SAMPLES)) or "(?!)"
READS_MATRIX_FILES = ("matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz")
#: Genome size (MB, uncompressed estimate): STAR's index is about 10 times as large.
READS_GENOME_MB = reads_lib.fasta_mb(READS.reference.get("genome"))
READS_SALMON_MB = reads_lib.fasta_mb(READS.reference.get("transcriptome")) + (
    READS_GENOME_MB if READS_SETTINGS.get("salmon_decoys") else 0
)


def reads_matrix_files(matrix):
    """The three files of a sample's ``filtered`` or ``raw`` matrix folder ({sample})."""
    folder = READS_MATRIX_DIR.format(sample="{sample}", matrix=matrix)
    return [f"{folder}/{name}" for name in READS_MATRIX_FILES]


def reads_units(branch):
    """The units sheet of a branch (``bulk`` or ``snrna``)."""
    return READS.bulk if branch == "bulk" else READS.snrna


def reads_checks(wildcards):
    """Outputs of every input check: index builds wait for them, so that bad FASTQ or
    reference files stop the run before any index is built."""
    files = [rules.reads_check_reference.output.summary]
    for branch, samples in (
        ("bulk", READS_BULK_SAMPLES),
        ("snrna", READS_SNRNA_SAMPLES),
    ):
        files += expand(
            rules.reads_check_fastq.output[0], branch=branch, sample=samples
        )
    if READS.snrna is not None:
        files.append(rules.reads_whitelist.output[0])
    return files


def reads_plain(key):
    """A reference file STAR can read: the configured one, or its decompressed copy."""
    path = READS.reference.get(key)
    if path and path.endswith(".gz"):
        return f"results/reads/reference/plain/{key}"
    return path or []


def reads_trimmed(mate):
    """Input function: the trimmed read-1 or read-2 files of a bulk sample, by unit."""

    def _files(wildcards):
        units = READS.bulk.units_of(wildcards.sample)
        if not READS.bulk.paired(wildcards.sample):
            pattern = rules.reads_fastp_se.output.r1 if mate == 1 else None
        else:
            pattern = rules.reads_fastp_pe.output[f"r{mate}"]
        if pattern is None:
            return []
        return expand(pattern, sample=wildcards.sample, unit=units)

    return _files


def reads_fastp_json():
    return [
        (
            rules.reads_fastp_pe.output.json
            if READS.bulk.paired(s)
            else rules.reads_fastp_se.output.json
        ).format(sample=s, unit=u)
        for s in READS_BULK_SAMPLES
        for u in READS.bulk.units_of(s)
    ]


def reads_multiqc_inputs(wildcards):
    """Logs MultiQC reads: fastp, salmon or STAR + featureCounts, STARsolo, and the
    strandedness and cell-calling tables as custom content."""
    inputs = {}
    if READS.bulk is not None:
        inputs["fastp"] = reads_fastp_json()
        inputs["strandedness"] = rules.reads_strandedness.output.mqc
        if READS_SETTINGS["quantifier"] == "salmon":
            out = rules.reads_salmon_quant.output
            inputs["salmon"] = expand(
                [out.lib, out.meta, out.fld], sample=READS_BULK_SAMPLES
            )
        else:
            inputs["star"] = expand(
                [
                    rules.reads_star_align.output.log_final,
                    rules.reads_star_align.output.genes,
                ],
                sample=READS_BULK_SAMPLES,
            )
            inputs["featurecounts"] = expand(
                rules.reads_featurecounts.output.summary, sample=READS_BULK_SAMPLES
            )
    if READS.snrna is not None:
        inputs["starsolo"] = expand(
            rules.reads_starsolo.output.log_final, sample=READS_SNRNA_SAMPLES
        )
        inputs["cell_calling"] = rules.reads_cell_calling.output.mqc
    return inputs


def reads_outputs():
    """Targets of the front end (the branches pull in the counts and matrices)."""
    if not READS.active:
        return []
    out = ["results/reads/multiqc/multiqc_report.html"]
    if READS.bulk is not None:
        out += ["results/reads/bulk/strandedness.tsv", READS_BULK_COUNTS]
    if READS.snrna is not None:
        out.append("results/reads/snrna/cell_calling.tsv")
    return out


def reads_mem_mb(base, factor, reference_mb):
    """Memory (MB) of a job that builds or loads an index: ``base + factor x`` the size of
    the reference it indexes, doubling with each retry."""

    def _mem(wildcards, attempt):
        return int((base + factor * reference_mb) * 2 ** (attempt - 1))

    return _mem
