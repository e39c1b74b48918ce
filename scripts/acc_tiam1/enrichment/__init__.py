"""Gene-set enrichment of DE tables: GSEA prerank (vectorised) and over-representation.

Layout: ``_genesets`` (GMT files, matching sets to a DE table), ``_gsea`` (prerank),
``_ora`` (over-representation), ``_summary`` (tables over datasets); figures in
:mod:`acc_tiam1.enrichment.plots`.
"""

from ._genesets import GeneSet, match_genesets, read_genesets, source_name
from ._gsea import (
    GSEA_COLUMNS,
    PERMUTATION_BLOCK,
    enrichment_scores,
    gsea_statistics,
    leading_edge,
    permutation_blocks,
    prerank,
    ranking_from_de,
    running_sum,
    untested_table,
)
from ._ora import ORA_COLUMNS, ora, ora_summary, ora_tables
from ._summary import (
    bulk_vs_pseudobulk,
    coverage_table,
    log_summary,
    long_results,
    nes_matrix,
    select_sets,
    significant_focus,
)

__all__ = [
    "GSEA_COLUMNS",
    "ORA_COLUMNS",
    "PERMUTATION_BLOCK",
    "GeneSet",
    "bulk_vs_pseudobulk",
    "coverage_table",
    "enrichment_scores",
    "gsea_statistics",
    "leading_edge",
    "log_summary",
    "long_results",
    "match_genesets",
    "nes_matrix",
    "ora",
    "ora_summary",
    "ora_tables",
    "permutation_blocks",
    "prerank",
    "ranking_from_de",
    "read_genesets",
    "running_sum",
    "select_sets",
    "significant_focus",
    "source_name",
    "untested_table",
]
