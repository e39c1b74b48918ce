"""The bundled demo study: a simulated mouse ACC experiment with planted effects.

Groups sham, pain, pain_ketamine and sham_ketamine (a 2 x 2 of surgery and drug), both
sexes, two batches. Real mouse symbols for pathway, marker, sex, mitochondrial and
housekeeping genes; synthetic ``Demo#####`` names for filler genes. Counts are negative
binomial with DESeq2's mean-dispersion trend (``alpha = a0 + a1 / mu``).

Planted effects (log2 scale, written to a truth table):

- pain raises the Tiam1/Rac1 core (modules A-C), the PSD scaffold (D) and the
  ketamine/activity response (E) modules, plus random up/down filler genes;
- ketamine in pain mice reverses most of that: per planted gene, full rescue,
  partial rescue (half) or none;
- ketamine alone changes a separate set of genes in both sham and pain mice.

The single-nucleus part is :mod:`acc_tiam1.demo._snrna`; ``_writers`` writes simulated
samples in the formats labs bring (Cell Ranger .h5, matrix folder, .h5ad).
"""

from ._bulk import RESCUE_PLAN, group_log2fc, plant_bulk_effects, simulate_bulk
from ._common import (
    ACTIVITY_MODULE,
    CORE_MODULES,
    FEMALE_GENES,
    HOUSEKEEPING_GENES,
    MALE_GENES,
    MITO_GENES,
    demo_gene_universe,
    demo_modules,
)
from ._snrna import (
    CLASS_GENES,
    COMPOSITION_PAIN,
    DOUBLET_FRACTION,
    EXPRESSED_FILLERS,
    FILLER_PAIN_TYPES,
    KETAMINE_TYPES,
    LOW_QUALITY_FRACTION,
    MEDIAN_UMIS,
    NULL_TYPES,
    PATHWAY_TYPES,
    PROPORTIONS,
    SnrnaStudy,
    build_study,
    simulate_sample,
    truth_genes,
)
from ._writers import write_10x_h5, write_mtx_folder, write_processed_h5ad, write_sample

__all__ = [
    "ACTIVITY_MODULE",
    "CLASS_GENES",
    "COMPOSITION_PAIN",
    "CORE_MODULES",
    "DOUBLET_FRACTION",
    "EXPRESSED_FILLERS",
    "FEMALE_GENES",
    "FILLER_PAIN_TYPES",
    "HOUSEKEEPING_GENES",
    "KETAMINE_TYPES",
    "LOW_QUALITY_FRACTION",
    "MALE_GENES",
    "MEDIAN_UMIS",
    "MITO_GENES",
    "NULL_TYPES",
    "PATHWAY_TYPES",
    "PROPORTIONS",
    "RESCUE_PLAN",
    "SnrnaStudy",
    "build_study",
    "demo_gene_universe",
    "demo_modules",
    "group_log2fc",
    "plant_bulk_effects",
    "simulate_bulk",
    "simulate_sample",
    "truth_genes",
    "write_10x_h5",
    "write_mtx_folder",
    "write_processed_h5ad",
    "write_sample",
]
