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

The single-nucleus part: cell types, profiles and planted effects in
:mod:`acc_tiam1.demo._snrna`, one mouse's droplets (nuclei, lysate-made ambient RNA,
heterotypic doublets, empty droplets) in :mod:`acc_tiam1.demo._nuclei`; ``_writers``
writes them in the formats labs bring (Cell Ranger .h5, matrix folder, .h5ad, and the raw
droplet matrix as ``raw_feature_bc_matrix.h5`` or a raw matrix folder).
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
from ._nuclei import (
    NUCLEI_TRUTH_COLUMNS,
    SOUP_MITO_FRACTION,
    SOUP_NEURON_WEIGHT,
    SimulatedSample,
    contamination_levels,
    simulate_droplets,
    simulate_sample,
    soup_table,
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
    truth_genes,
)
from ._writers import (
    write_10x_h5,
    write_mtx_folder,
    write_processed_h5ad,
    write_raw_droplets,
    write_sample,
)

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
    "NUCLEI_TRUTH_COLUMNS",
    "NULL_TYPES",
    "PATHWAY_TYPES",
    "PROPORTIONS",
    "RESCUE_PLAN",
    "SOUP_MITO_FRACTION",
    "SOUP_NEURON_WEIGHT",
    "SimulatedSample",
    "SnrnaStudy",
    "build_study",
    "contamination_levels",
    "demo_gene_universe",
    "demo_modules",
    "group_log2fc",
    "plant_bulk_effects",
    "simulate_bulk",
    "simulate_droplets",
    "simulate_sample",
    "soup_table",
    "truth_genes",
    "write_10x_h5",
    "write_mtx_folder",
    "write_processed_h5ad",
    "write_raw_droplets",
    "write_sample",
]
