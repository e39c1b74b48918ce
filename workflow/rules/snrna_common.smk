# Helpers of the single-nucleus rules (snrna.smk). Which cell types are tested is only
# known once nuclei are annotated: checkpoint snrna_pseudobulk writes a plan (one row per
# cell type x contrast, status tested/skipped and the reason) and the counts of every
# testable cell type. The DE, figure and summary jobs read the plan themselves and cover
# every cell type of the marker table; the enrichment and rescue jobs take only the
# tested tables (snrna_tested, an input function).

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
# Written by checkpoint snrna_pseudobulk: counts of every cell type it tests.
SNRNA_PSEUDOBULK_DIR = "results/snrna/pseudobulk/cell_types"


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


def snrna_pseudobulk_files(safe):
    """Files checkpoint snrna_pseudobulk writes for a cell type it tests: the counts and
    what the soup explains of them."""
    return {
        "counts": f"{SNRNA_PSEUDOBULK_DIR}/{safe}.counts.tsv",
        "ambient": f"{SNRNA_PSEUDOBULK_DIR}/{safe}.ambient.tsv",
    }


def snrna_de_paths(safe):
    """What the snrna_de job writes for one cell type: a table per contrast (config order)
    and the model files (``acc_tiam1.de.MODEL_OUTPUTS``)."""
    de = f"results/snrna/de/{safe}"
    return {
        "tables": [f"{de}/{c}.tsv" for c in CONTRAST_NAMES],
        "normalized": f"{de}/normalized_counts.tsv",
        "design": f"{de}/model/design.tsv",
        "contrasts": f"{de}/model/contrasts.tsv",
        "equivalence": f"{de}/equivalence.tsv",
    }


# (cell type, contrast) of each DE table, in the order of snrna_de_outputs("tables"), which
# the summary job pairs them with.
SNRNA_DE_KEYS = [(safe, c) for safe in SNRNA_SAFE_TYPES for c in CONTRAST_NAMES]


def snrna_de_outputs(kind):
    """One kind of rule snrna_de's files, over every cell type of the marker table."""
    out = []
    for safe in SNRNA_SAFE_TYPES:
        path = snrna_de_paths(safe)[kind]
        out += path if isinstance(path, list) else [path]
    return out


def snrna_de_job_files():
    """{cell type: its pseudobulk inputs and DE outputs}, for the one snrna_de job."""
    return {
        safe: {**snrna_pseudobulk_files(safe), **snrna_de_paths(safe)}
        for safe in SNRNA_SAFE_TYPES
    }


def snrna_de_report(name, caption, figure):
    """Report entries of one figure kind of one contrast (wildcard ``{contrast}``: rule
    snrna_de_plots draws a contrast per job), every cell type in marker-table order."""
    return [
        report_entry(
            f"results/snrna/de/{safe}/{{contrast}}.{name}",
            caption,
            "5. snRNA pseudobulk DE",
            snrna_label(safe),
            {
                "cell type": snrna_label(safe),
                "contrast": "{contrast}",
                "figure": figure,
            },
        )
        for safe in SNRNA_SAFE_TYPES
    ]


def snrna_de_tables(contrast):
    """The DE tables of one contrast, every cell type in marker-table order."""
    return [
        snrna_de_paths(safe)["tables"][CONTRAST_NAMES.index(contrast)]
        for safe in SNRNA_SAFE_TYPES
    ]
