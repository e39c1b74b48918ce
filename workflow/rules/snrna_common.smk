# Helpers of the single-nucleus rules (snrna.smk). Which cell types are tested is only
# known once nuclei are annotated: checkpoint snrna_pseudobulk writes a plan (one row per
# cell type x contrast, status tested/skipped and the reason) and the counts of every
# testable cell type; the functions below read that plan to expand the DE jobs.

import pandas as pd

# The report() flag under another name: inside a function, Snakemake's parser takes a line
# that starts with "report" for the report: directive.
from snakemake.io import report as report_entry

SNRNA_CONFIG = config.get("snrna") or {}
SNRNA_SAMPLES = list(SNRNA.samples.index) if SNRNA is not None else []
SNRNA_SAFE_TYPES = list(SNRNA.safe.values()) if SNRNA is not None else []
# Integration settings without the UMAP one, so that changing UMAP's min_dist reruns only
# rule snrna_umap (Snakemake reruns a job whose params changed).
SNRNA_INTEGRATION = {
    k: v for k, v in SNRNA_CONFIG.get("integration", {}).items() if k != "umap_min_dist"
}
# QC settings of the per-sample QC jobs: the co-expression doublet rule runs after
# annotation (rule snrna_ambient), so switching it does not redo QC.
SNRNA_QC = {
    k: v
    for k, v in (SNRNA_CONFIG.get("qc") or {}).items()
    if k != "coexpression_doublets"
}
SNRNA_AMBIENT = SNRNA_CONFIG.get("ambient") or {}


def snrna_label(safe):
    """Marker-table label of a file-safe cell-type name (for report labels and titles)."""
    return SNRNA.label(safe) if SNRNA is not None else safe


def snrna_plan():
    """The pseudobulk DE plan; raises until checkpoint snrna_pseudobulk has run."""
    return pd.read_csv(checkpoints.snrna_pseudobulk.get().output.plan, sep="\t")


def snrna_tested():
    """(file-safe cell type, contrast) pairs with enough replicates to test."""
    plan = snrna_plan()
    plan = plan[plan["status"] == "tested"]
    return list(zip(plan["cell_type_safe"], plan["contrast"]))


def snrna_de_files(pattern):
    """Input function: ``pattern`` expanded over every tested cell type x contrast."""

    def _files(wildcards):
        return [pattern.format(cell_type=ct, contrast=c) for ct, c in snrna_tested()]

    return _files


def snrna_pseudobulk_counts(wildcards):
    """Counts of one cell type, written by checkpoint snrna_pseudobulk."""
    folder = checkpoints.snrna_pseudobulk.get().output.cell_types
    return f"{folder}/{wildcards.cell_type}.counts.tsv"


def snrna_ambient_table(wildcards):
    """What the soup explains of one cell type's counts (none when the ambient step is off)."""
    if SNRNA_AMBIENT.get("method", "soup") == "none":
        return []
    folder = checkpoints.snrna_pseudobulk.get().output.cell_types
    return f"{folder}/{wildcards.cell_type}.ambient.tsv"


def snrna_fit_contrasts(wildcards):
    """Contrasts tested in one cell type (they set the reference levels of its fit)."""
    tested = {c for ct, c in snrna_tested() if ct == wildcards.cell_type}
    return [dict(c) for c in config["contrasts"] if c["name"] in tested]


def snrna_skipped(wildcards):
    """{contrast: why it is not tested} for the cell type in the wildcards."""
    plan = snrna_plan()
    rows = plan[
        (plan["cell_type_safe"] == wildcards.cell_type) & (plan["status"] != "tested")
    ]
    return dict(zip(rows["contrast"], rows["reason"].fillna("not tested")))


def snrna_de_report(name, caption, figure):
    """Report entries of one figure kind for every contrast of a cell type."""
    entries = []
    for contrast in CONTRAST_NAMES:
        labels = lambda wc, contrast=contrast: {
            "cell type": snrna_label(wc.cell_type),
            "contrast": contrast,
            "figure": figure,
        }
        path = f"results/snrna/de/{{cell_type}}/{contrast}.{name}"
        subcategory = lambda wc: snrna_label(wc.cell_type)
        entries.append(
            report_entry(path, caption, "5. snRNA pseudobulk DE", subcategory, labels)
        )
    return entries
