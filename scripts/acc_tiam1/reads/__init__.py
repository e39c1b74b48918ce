"""Reads-to-counts front end: FASTQ to the counts the bulk and snRNA branches read.

Bulk FASTQ -> fastp -> salmon or STAR + featureCounts -> gene counts; 10x FASTQ ->
STARsolo (GeneFull, EmptyDrops_CR) -> filtered and raw matrices.

The tools run in Snakemake rules (``workflow/rules/reads.smk``); this package holds what
is checked and computed around them, importable and testable without Snakemake:

- config-time checks of units sheets, reference files and FASTQ heads
  (:func:`check_reads`, :func:`sheet_with_matrices`);
- the full checks that run before any index is built (:func:`scan_fastq`,
  :func:`check_pair`, :func:`check_reference`, :func:`check_whitelist`);
- strandedness inference (:func:`strandedness_table`);
- gene-count matrices from salmon (tximport's lengthScaledTPM) and featureCounts
  (:func:`summarize_to_gene`, :func:`count_matrix`);
- STARsolo matrices converted for the snRNA branch (:func:`convert_solo`);
- the reads demo simulator (:func:`write_demo`).
"""

from ._counts import (
    SALMON_COUNTS,
    count_matrix,
    read_featurecounts,
    read_salmon_quant,
    summarize_to_gene,
)
from ._demo import DEMO_CELL_TYPES, DemoFiles, DemoSettings, demo_outputs, write_demo
from ._fastq import FastqStats, check_pair, check_sample_fastq, peek_fastq, read_name, scan_fastq
from ._inputs import ReadsInputs, Units, check_reads, read_units, sheet_with_matrices
from ._multiqc import MULTIQC_CONFIG, custom_content, multiqc_command
from ._reference import (
    ReferenceCheck,
    check_chromosomes,
    check_reference,
    fasta_mb,
    fasta_records,
    match_transcripts,
    read_gtf_exons,
    star_sa_index_nbases,
)
from ._solo import (
    CHEMISTRY,
    cell_calling_table,
    check_whitelist,
    chemistry,
    convert_solo,
    read_solo_summary,
    solo_arguments,
)
from ._strand import (
    FEATURECOUNTS_STRAND,
    SALMON_LIBTYPE,
    STRANDEDNESS,
    call_strandedness,
    salmon_orientation,
    star_orientation,
    strandedness_table,
)

__all__ = [
    "CHEMISTRY",
    "DEMO_CELL_TYPES",
    "FEATURECOUNTS_STRAND",
    "MULTIQC_CONFIG",
    "SALMON_COUNTS",
    "SALMON_LIBTYPE",
    "STRANDEDNESS",
    "DemoFiles",
    "DemoSettings",
    "FastqStats",
    "ReadsInputs",
    "ReferenceCheck",
    "Units",
    "call_strandedness",
    "cell_calling_table",
    "check_chromosomes",
    "check_pair",
    "check_reads",
    "check_reference",
    "check_sample_fastq",
    "check_whitelist",
    "chemistry",
    "convert_solo",
    "count_matrix",
    "custom_content",
    "demo_outputs",
    "fasta_mb",
    "fasta_records",
    "match_transcripts",
    "multiqc_command",
    "peek_fastq",
    "read_featurecounts",
    "read_gtf_exons",
    "read_name",
    "read_salmon_quant",
    "read_solo_summary",
    "read_units",
    "salmon_orientation",
    "scan_fastq",
    "sheet_with_matrices",
    "solo_arguments",
    "star_orientation",
    "star_sa_index_nbases",
    "strandedness_table",
    "summarize_to_gene",
    "write_demo",
]
