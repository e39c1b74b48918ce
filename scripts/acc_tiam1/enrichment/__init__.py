"""Gene-set enrichment of DE tables: GSEA prerank, over-representation, and CAMERA.

GSEA prerank is vectorised; CAMERA is a competitive test that allows for inter-gene
correlation. Layout: ``_genesets`` (GMT files, matching sets to a DE table), ``_gsea``
(prerank), ``_ora`` (over-representation), ``_camera`` (CAMERA), ``_moderated``
(limma's moderated t, CAMERA's per-gene statistic), ``_camera_de`` (CAMERA of the
workflow's DE tables, beside GSEA), ``_across`` (focus-set calls with error control
across datasets), ``_summary`` (tables over datasets); figures in
:mod:`acc_tiam1.enrichment.plots`.
"""

from ._across import ACROSS_COLUMNS, ACROSS_METHODS, across_datasets, call_marks
from ._camera import (
    CAMERA_COLUMNS,
    MODERATED_T,
    camera,
    de_inputs,
    log_expression,
    set_vif,
    standardised_residuals,
    two_sample_t,
)
from ._camera_de import CAMERA_RESULT_COLUMNS, add_camera, camera_de, log_normalized
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
from ._moderated import (
    contrast_fit,
    fit_f_dist,
    moderated_t,
    squeeze_var,
    trigamma_inverse,
    zscore_t_hill,
)
from ._ora import ORA_COLUMNS, ora, ora_summary, ora_tables
from ._summary import (
    bulk_vs_pseudobulk,
    coverage_table,
    log_summary,
    long_results,
    nes_matrix,
    select_sets,
)

__all__ = [
    "ACROSS_COLUMNS",
    "ACROSS_METHODS",
    "CAMERA_COLUMNS",
    "CAMERA_RESULT_COLUMNS",
    "GSEA_COLUMNS",
    "MODERATED_T",
    "ORA_COLUMNS",
    "PERMUTATION_BLOCK",
    "GeneSet",
    "across_datasets",
    "add_camera",
    "bulk_vs_pseudobulk",
    "call_marks",
    "camera",
    "camera_de",
    "contrast_fit",
    "coverage_table",
    "de_inputs",
    "enrichment_scores",
    "fit_f_dist",
    "gsea_statistics",
    "leading_edge",
    "log_expression",
    "log_normalized",
    "log_summary",
    "long_results",
    "match_genesets",
    "moderated_t",
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
    "set_vif",
    "source_name",
    "squeeze_var",
    "standardised_residuals",
    "trigamma_inverse",
    "two_sample_t",
    "untested_table",
    "zscore_t_hill",
]
