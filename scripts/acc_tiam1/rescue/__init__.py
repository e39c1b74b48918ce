"""Ketamine rescue: which pain effects ketamine reverses, gene by gene and pathway by pathway.

Two contrasts are compared: the *pain effect* (e.g. pain vs sham) and the *ketamine
effect* in pain animals (e.g. pain + ketamine vs pain). A pain-induced change is
rescued when the ketamine effect points the other way and undoes enough of it.

Gene rule (:func:`classify_genes`), with ``r = -LFC_ketamine / LFC_pain``, the fraction of
the pain effect that ketamine removes (1 = back to sham level, 0 = no change, < 0 =
pushed further):

- **pain gene**: ``padj_pain < padj`` and ``|LFC_pain| >= lfc_threshold``;
- ``rescued``: pain gene, ``padj_ketamine < padj`` and ``r >= rescued_fraction``;
- ``partially_rescued``: pain gene, ``padj_ketamine < padj`` and
  ``partial_fraction <= r < rescued_fraction``;
- ``not_rescued``: every other pain gene (ketamine effect not significant, too small,
  or in the same direction as pain);
- ``ketamine_only``: not a pain gene, ``padj_ketamine < padj`` and
  ``|LFC_ketamine| >= lfc_threshold``;
- ``unchanged``: the rest (including genes without an adjusted p-value in a contrast).

Fold changes are the unshrunk maximum-likelihood estimates (``log2FoldChange``), which
exist for every contrast; shrunk ones exist only where a contrast is one coefficient.

Pathway rule (:func:`pathway_reversal`): a set is ``reversed`` when it is enriched
(FDR < ``fdr``) in the pain contrast and enriched in the opposite direction in the
ketamine contrast.

Equivalence classes (:func:`classify_rescue`, :data:`RESCUE_CLASSES`): "fully rescued"
needs pain + ketamine shown equivalent to sham (two one-sided tests against a margin,
:func:`score_equivalence` for set scores, :func:`acc_tiam1.de.gene_equivalence` for
genes), "partially rescued" a significant reversal without it.

Figures are in :mod:`acc_tiam1.rescue.plots`.
"""

from ._classes import (
    CLASSES,
    STATUSES,
    class_counts,
    classify_genes,
    interaction_references,
    pathway_reversal,
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
    class_count_matrix,
    coverage_notes,
    findings_settings,
    findings_summary,
    key_findings,
    key_findings_html,
)

__all__ = [
    "CLASSES",
    "RESCUE_CLASSES",
    "STATUSES",
    "class_count_matrix",
    "class_counts",
    "classify_genes",
    "classify_rescue",
    "coverage_notes",
    "findings_settings",
    "findings_summary",
    "interaction_references",
    "key_findings",
    "key_findings_html",
    "ols_contrast",
    "pathway_reversal",
    "score_equivalence",
    "set_scores",
    "tost",
]
