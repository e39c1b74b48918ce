"""Ketamine rescue: which pain effects ketamine reverses, gene by gene and set by set.

Three tests of the same fit decide a class (:func:`classify_rescue`,
:data:`RESCUE_CLASSES`): the *pain effect* (e.g. pain vs sham), its *reversal* by
ketamine in pain animals (e.g. pain + ketamine vs pain, opposite direction), and
*equivalence* of pain + ketamine to the pain contrast's control (two one-sided tests
against a margin). "Fully rescued" needs all three; "partially rescued" is a
significant reversal without shown equivalence. A non-significant difference to control
is never taken as "back at control level".

Genes (:func:`classify_genes`): DESeq2 padj for pain effect and reversal, DESeq2's
``lessAbs`` test (:func:`acc_tiam1.de.gene_equivalence`, margin in log2) for
equivalence; ``reversal_fraction`` (the share of the pain log2FC ketamine undoes) is
descriptive.

Gene sets (:func:`pathway_rescue`): CAMERA calls (focus sets with the FDR across
datasets), and the TOST of set scores (:func:`set_equivalence`, margin in residual SDs
of the score; :func:`equivalence_across` adjusts the focus sets across datasets).

Key findings (:func:`key_findings`, :func:`findings_summary`): a table and plain
sentences per focus set. Figures are in :mod:`acc_tiam1.rescue.plots`.
"""

from ._classes import (
    GENE_COLUMNS,
    class_counts,
    classify_genes,
    gene_test_text,
    genes_page,
    interaction_references,
)
from ._equivalence import (
    RESCUE_CLASSES,
    classify_rescue,
    ols_contrast,
    score_equivalence,
    set_scores,
    tost,
)
from ._findings import (
    FINDINGS_COLUMNS,
    REVERSED_TEXT,
    class_count_matrix,
    coverage_notes,
    findings_settings,
    findings_summary,
    key_findings,
    key_findings_html,
)
from ._sets import (
    PATHWAY_COLUMNS,
    SET_EQUIVALENCE_COLUMNS,
    equivalence_across,
    pathway_rescue,
    pathway_test_text,
    set_equivalence,
)

__all__ = [
    "FINDINGS_COLUMNS",
    "GENE_COLUMNS",
    "PATHWAY_COLUMNS",
    "RESCUE_CLASSES",
    "REVERSED_TEXT",
    "SET_EQUIVALENCE_COLUMNS",
    "class_count_matrix",
    "class_counts",
    "classify_genes",
    "classify_rescue",
    "coverage_notes",
    "equivalence_across",
    "findings_settings",
    "findings_summary",
    "gene_test_text",
    "genes_page",
    "interaction_references",
    "key_findings",
    "key_findings_html",
    "ols_contrast",
    "pathway_rescue",
    "pathway_test_text",
    "score_equivalence",
    "set_equivalence",
    "set_scores",
    "tost",
]
