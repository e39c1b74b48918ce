"""Differential expression with DESeq2's method, shared by bulk and pseudobulk data.

One fit per design (:func:`fit_deseq`), then one Wald test per contrast on that fit
(:func:`contrast_table`); :func:`fit_dataset` does both for one dataset (bulk, or one
pseudobulk cell type) and returns every table its DE job writes. The defaults follow R's
DESeq2 (alpha 0.1, independent filtering, Cook's distance filtering and outlier
replacement from 7 replicates).

The fit is a pydeseq2 ``DeseqDataSet`` whose estimation steps are replaced by
:mod:`acc_tiam1.deseq2`, which runs them as R's DESeq2 does (so that the called
genes agree with R's) and vectorised over genes (so that it is faster than R).

Equivalence to a reference (``|log2FC| < margin``, DESeq2's ``lessAbs`` test) is
:func:`gene_equivalence` (:func:`equivalence_table` as a table with symbols). The
fitted design matrix and contrast vectors (:func:`design_table`,
:func:`contrast_vectors`) are written next to the DE tables for CAMERA and the set-score
equivalence test.

Figures (volcano, MA) are in :mod:`acc_tiam1.de.plots`.
"""

from ._dataset import MODEL_OUTPUTS, DatasetResult, fit_dataset, untested_dataset
from ._equivalence import gene_equivalence
from ._filter import FILTER_DEFAULTS, expression_filter, filter_by_expr, filter_record
from ._fit import DE_COLUMNS, fit_deseq, normalized_counts
from ._model import (
    EQUIVALENCE_COLUMNS,
    contrast_vectors,
    design_table,
    equivalence_table,
    read_contrast,
    untested_equivalence,
)
from ._tables import (
    coefficient_table,
    contrast_table,
    sort_de_table,
    summarise_tables,
    untested_table,
)

__all__ = [
    "DE_COLUMNS",
    "EQUIVALENCE_COLUMNS",
    "FILTER_DEFAULTS",
    "MODEL_OUTPUTS",
    "DatasetResult",
    "coefficient_table",
    "contrast_table",
    "contrast_vectors",
    "design_table",
    "equivalence_table",
    "expression_filter",
    "filter_by_expr",
    "filter_record",
    "fit_dataset",
    "fit_deseq",
    "gene_equivalence",
    "normalized_counts",
    "read_contrast",
    "sort_de_table",
    "summarise_tables",
    "untested_dataset",
    "untested_equivalence",
    "untested_table",
]
