"""What a result needs to be reproduced and published: versions, settings, counts, Methods."""

from ._bulk import bulk_counts, bulk_methods
from ._checks import sex_check_methods, snrna_ambient_methods
from ._enrichment import enrichment_counts, enrichment_methods, rescue_methods
from ._page import provenance_page
from ._reads import (
    READS_PINNED,
    reads_bulk_methods,
    reads_counts,
    reads_methods,
    reads_per_sample,
    reads_snrna_methods,
    reads_tool_versions,
)
from ._snrna import (
    QC_FILTERS,
    read_integration_info,
    skip_reasons,
    snrna_clustering_methods,
    snrna_counts,
    snrna_pseudobulk_methods,
    snrna_qc_methods,
)
from ._text import ANALYSIS_PACKAGES, ENGINE_NOTE, package_versions, reference_levels

__all__ = [
    "ANALYSIS_PACKAGES",
    "ENGINE_NOTE",
    "QC_FILTERS",
    "READS_PINNED",
    "bulk_counts",
    "bulk_methods",
    "enrichment_counts",
    "enrichment_methods",
    "package_versions",
    "provenance_page",
    "read_integration_info",
    "reads_bulk_methods",
    "reads_counts",
    "reads_methods",
    "reads_per_sample",
    "reads_snrna_methods",
    "reads_tool_versions",
    "reference_levels",
    "rescue_methods",
    "sex_check_methods",
    "skip_reasons",
    "snrna_ambient_methods",
    "snrna_clustering_methods",
    "snrna_counts",
    "snrna_pseudobulk_methods",
    "snrna_qc_methods",
]
