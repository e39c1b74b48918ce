"""Single-nucleus RNA-seq: reading, per-sample QC, integration, annotation, pseudobulk.

Every function works on plain AnnData/pandas objects and knows nothing about
Snakemake, so each step can be tested on a few hundred simulated nuclei.

Conventions
-----------
- Per-sample matrices are standardised by :func:`read_sample`: ``X`` holds raw integer
  counts (CSR, int32), ``var`` is indexed by gene id with the symbol in ``var["gene"]``
  and ``obs`` by the barcode.
- After merging, ``layers["counts"]`` keeps the raw counts and ``X`` the log-normalised
  values; ``obs["sample"]`` names the animal, the unit of every test.
- Cell-type labels (``"L2/3 IT"``) become file names through :func:`safe_name` only.

Layout: ``_readers`` (10x .h5, matrix folders, .h5ad), ``_qc`` (per-sample QC and
doublets), ``_integrate`` (merge, normalise, PCA, Harmony in ``_harmony``, kNN, UMAP,
Leiden), ``_annotate`` (marker scores, per-nucleus tables), ``_assign`` (cluster
labels from relative marker evidence, annotation warnings), ``_composition``,
``_pseudobulk`` (counts per animal x cell type, filters, DE plan), ``_pathway``; figures in
:mod:`acc_tiam1.snrna.plots`. The demo's nuclei are simulated by :mod:`acc_tiam1.demo`.
"""

from ._ambient import METHODS as AMBIENT_METHODS
from ._ambient import (
    ambient_by_cell_type,
    apply_ambient,
    corrected_samples,
    read_soup,
    read_soups,
    sample_ambient,
    sample_totals,
)
from ._ambient_correct import flag_counts, flag_mostly_ambient
from ._annotate import (
    ANNOTATION_COLUMNS,
    annotate,
    annotation_table,
    apply_annotation,
    cluster_score_means,
    gene_values,
    marker_expression,
    marker_genes,
    marker_scores,
    read_annotation_table,
)
from ._assign import (
    CLUSTER_COLUMNS,
    WARNING_COLUMNS,
    Evidence,
    annotation_warnings,
    assign_clusters,
    marker_evidence,
    read_annotation_warnings,
    rules_from_config,
    warning_sentences,
)
from ._composition import clr, composition_counts, composition_tests
from ._counts import (
    PATH_COLUMNS,
    assemble,
    iter_qc_samples,
    lognorm_genes,
    merge_samples,
    read_qc_sample,
    sample_categories,
    shared_genes,
)
from ._integrate import (
    batch_levels,
    integrate,
    integration_result,
    leiden,
    neighbour_search,
    normalise,
    umap,
)
from ._names import UNASSIGNED, safe_name, safe_names
from ._pathway import log_cpm, pathway_table
from ._pseudobulk import (
    filter_pseudobulk_samples,
    plan_cell_type,
    plan_pairs,
    pseudobulk,
    pseudobulk_plan,
)
from ._qc import (
    QC_COLUMNS,
    detect_doublets,
    filter_summary,
    mad_bounds,
    mito_mask,
    qc_flags,
    qc_metrics,
    qc_thresholds,
    removed_by,
    sample_qc,
)
from ._readers import (
    FORMAT_HELP,
    H5AD_ID_COLUMNS,
    H5AD_SYMBOL_COLUMNS,
    CountsStore,
    input_format,
    mtx_files,
    read_h5ad_parts,
    read_sample,
    write_h5ad,
)
from ._soup import SoupProfile, sample_soup, soup_table, thin_curve

__all__ = [
    "AMBIENT_METHODS",
    "ANNOTATION_COLUMNS",
    "CLUSTER_COLUMNS",
    "FORMAT_HELP",
    "H5AD_ID_COLUMNS",
    "H5AD_SYMBOL_COLUMNS",
    "PATH_COLUMNS",
    "QC_COLUMNS",
    "UNASSIGNED",
    "WARNING_COLUMNS",
    "CountsStore",
    "Evidence",
    "SoupProfile",
    "ambient_by_cell_type",
    "annotate",
    "annotation_table",
    "annotation_warnings",
    "apply_ambient",
    "apply_annotation",
    "assemble",
    "assign_clusters",
    "batch_levels",
    "clr",
    "cluster_score_means",
    "composition_counts",
    "composition_tests",
    "corrected_samples",
    "detect_doublets",
    "filter_pseudobulk_samples",
    "filter_summary",
    "flag_counts",
    "flag_mostly_ambient",
    "gene_values",
    "input_format",
    "integrate",
    "integration_result",
    "iter_qc_samples",
    "leiden",
    "log_cpm",
    "lognorm_genes",
    "mad_bounds",
    "marker_evidence",
    "marker_expression",
    "marker_genes",
    "marker_scores",
    "merge_samples",
    "mito_mask",
    "mtx_files",
    "neighbour_search",
    "normalise",
    "pathway_table",
    "plan_cell_type",
    "plan_pairs",
    "pseudobulk",
    "pseudobulk_plan",
    "qc_flags",
    "qc_metrics",
    "qc_thresholds",
    "read_annotation_table",
    "read_annotation_warnings",
    "read_h5ad_parts",
    "read_qc_sample",
    "read_sample",
    "read_soup",
    "read_soups",
    "removed_by",
    "rules_from_config",
    "safe_name",
    "safe_names",
    "sample_ambient",
    "sample_categories",
    "sample_qc",
    "sample_soup",
    "sample_totals",
    "shared_genes",
    "soup_table",
    "thin_curve",
    "umap",
    "warning_sentences",
    "write_h5ad",
]
