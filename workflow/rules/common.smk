import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from acc_tiam1 import inputs  # noqa: E402
from acc_tiam1.errors import InputError  # noqa: E402
from acc_tiam1.schema import check_unknown_keys  # noqa: E402
from snakemake.common.configfile import load_configfile  # noqa: E402

try:
    check_unknown_keys(
        config, load_configfile(workflow.source_path("../schemas/config.schema.yaml"))
    )
except InputError as err:
    raise WorkflowError(f"Invalid input. {err}") from None
validate(config, schema="../schemas/config.schema.yaml")

ENV = "../envs/analysis.yaml"
DEMO_OUTPUTS = [inputs.DEMO_BULK_COUNTS]

# ---- Reads front end (FASTQ -> counts; rules in reads.smk) ---------------------------
from acc_tiam1 import reads as reads_lib  # noqa: E402

#: Where the front end writes what the bulk and snRNA branches read.
READS_BULK_COUNTS = "results/reads/bulk/gene_counts.tsv"
READS_MATRIX_DIR = "results/reads/snrna/{sample}/{matrix}"
#: Files that demo_reads writes (the reads demo: reference, truth, FASTQ).
READS_DEMO_DIR = "resources/demo/reads"
try:
    READS_DEMO = reads_lib.demo_outputs(READS_DEMO_DIR, "config/demo")
    READS = reads_lib.check_reads(
        config,
        producible=READS_DEMO.all,
        bulk_counts=READS_BULK_COUNTS,
        matrix_dir=READS_MATRIX_DIR,
    )
    for units in (READS.bulk, READS.snrna):
        if units is not None:
            validate(units.table, schema="../schemas/units.schema.yaml")
except InputError as err:
    raise WorkflowError(f"Invalid input. {err}") from None
DEMO_OUTPUTS += READS.outputs
# ---- end of reads front end ------------------------------------------------------------

try:
    CONTRASTS = inputs.contrasts(config)
    BULK = inputs.check_bulk(READS.bulk_config(config), producible=DEMO_OUTPUTS)
    if BULK is not None:
        validate(BULK.samples.reset_index(), schema="../schemas/samples.schema.yaml")
    DEMO_OUTPUTS += inputs.demo_snrna_outputs()
    SNRNA = inputs.check_snrna(config, producible=DEMO_OUTPUTS, matrices=READS.matrices)
    if SNRNA is not None:
        validate(SNRNA.samples.reset_index(), schema="../schemas/samples.schema.yaml")
except InputError as err:
    raise WorkflowError(f"Invalid input. {err}") from None

CONTRAST_NAMES = [c.name for c in CONTRASTS]

try:
    GENESET_FILES = inputs.check_genesets(config)
    RESCUE = inputs.check_rescue(config, BULK)
except InputError as err:
    raise WorkflowError(f"Invalid input. {err}") from None


wildcard_constraints:
    contrast="|".join(CONTRAST_NAMES),


# Priority of the jobs on the longest chain of a run: the snRNA branch from QC to the
# DE fits, and the enrichment and rescue tables that wait for them. When cores are short
# they go first and the figures, which nothing waits for, fill the gaps.
CRITICAL_PATH = 10
# The figure jobs of 20 s or more (per-sample QC, DE, rescue grids, bulk vs pseudobulk),
# the other QC figures and the QC summary they wait for start before the short jobs, but
# after the chain: started last, each ran alone at the end of a run (the QC figures,
# then one job, 40 s at 100,000 nuclei; bulk vs pseudobulk 19 s in the demo); with the
# chain's priority, the DE figures kept the snRNA enrichment waiting 34 s. (Given to the
# annotation figures too, these were started in the demo before the pseudobulk job,
# which then waited 15 s.)
LONG_FIGURES = 5


def snrna_matrices_mb():
    """Megabytes of the snRNA count matrices the sample sheet names, as they are when the
    workflow is parsed. Matrices the workflow makes (from reads, or the demo's) count
    once they exist: on the run that makes them, integration gets one thread (the same
    graph, its search about 23 s slower at 88,000 nuclei)."""
    files = [f for fs in SNRNA.inputs.values() for f in fs] if SNRNA else []
    return sum(Path(f).stat().st_size for f in files if Path(f).is_file()) / 1e6


def mem_mb(base, per_input_mb=0.0):
    """Memory that grows with the input size and doubles with each retry."""

    def _mem(wildcards, input, attempt):
        return int((base + per_input_mb * input.size_mb) * 2 ** (attempt - 1))

    return _mem


def runtime(base, per_input_mb=0.0):
    """Minutes of wall time, growing with the input size and with each retry."""

    def _runtime(wildcards, input, attempt):
        return int((base + per_input_mb * input.size_mb) * attempt)

    return _runtime


def rule_outputs(*names):
    """Every output of the named rules (targets; call after the rules are defined);
    outputs with a ``{contrast}`` wildcard for every contrast."""
    return [
        f
        for name in names
        for pattern in getattr(rules, name).output
        for f in (
            expand(pattern, contrast=CONTRAST_NAMES)
            if "{contrast}" in pattern
            else [pattern]
        )
    ]


def bulk_outputs():
    if BULK is None:
        return []
    return rule_outputs(
        "bulk_sample_qc", "bulk_qc_plots", "bulk_de", "bulk_de_plots", "bulk_de_summary"
    )


def enrichment_inputs(branch=None):
    """DE tables that enrichment and rescue run on: (branch, cell_type, contrast) triples,
    of every branch or of one.

    Bulk tables have cell_type None. The snRNA part reads checkpoint snrna_pseudobulk
    (the tested cell types), so call this from input functions only; asking for the bulk
    branch alone does not wait for it, so bulk enrichment runs while nuclei are processed.
    """
    tables = []
    if BULK is not None and branch in (None, "bulk"):
        tables += [("bulk", None, c) for c in CONTRAST_NAMES]
    if SNRNA is not None and branch in (None, "snrna"):
        tables += [("snrna", ct, c) for ct, c in snrna_tested()]
    return tables


def snrna_outputs():
    """Single-nucleus results, known at parse time: the DE jobs write a table (and a
    figure) for every cell type of the marker table and contrast, tested or not."""
    if SNRNA is None:
        return []
    return rule_outputs(
        "snrna_qc_summary",
        "snrna_qc_sample_plots",
        "snrna_qc_plots",
        "snrna_ambient",
        "snrna_assemble",
        "snrna_annotate",
        "snrna_annotation_plots",
        "snrna_composition",
        "snrna_composition_plots",
        "snrna_de",
        "snrna_de_plots",
        "snrna_de_summary",
        "snrna_pathway",
        "snrna_pathway_plots",
    )


def start_page_sex_tables():
    """{input name: branch label} of the sex-check tables the start page reads."""
    out = {}
    if BULK is not None:
        out["bulk_sex"] = "bulk"
    if SNRNA is not None:
        out["snrna_sex"] = "single-nucleus"
    return out


def start_page_heatmap_contrasts():
    """Contrasts whose NES heatmap opens the report: the pain contrast (else the first)."""
    if BULK is None and SNRNA is None:
        return []
    return [RESCUE.pain_contrast if RESCUE is not None else CONTRAST_NAMES[0]]


def start_page_inputs(wildcards):
    """Result tables the start page is written from (only those of branches that run)."""
    inputs = {}
    if BULK is not None:
        inputs["bulk_sex"] = rules.bulk_sample_qc.output.sex
    if SNRNA is not None:
        inputs["snrna_sex"] = rules.snrna_pseudobulk.output.sex
        inputs["snrna_summary"] = rules.snrna_de_summary.output.summary
        inputs["snrna_plan"] = rules.snrna_pseudobulk.output.plan
        inputs["snrna_integration"] = rules.snrna_integrate.output.info
        inputs["annotation_warnings"] = rules.snrna_annotate.output.warnings
    if RESCUE is not None and (BULK is not None or SNRNA is not None):
        inputs["findings"] = rules.rescue_key_findings.output.sentences
    contrasts = start_page_heatmap_contrasts()
    if contrasts:
        heatmaps = dict(zip(CONTRAST_NAMES, rules.enrichment_heatmap.output.heatmaps))
        inputs["heatmaps"] = [heatmaps[c] for c in contrasts]
    return inputs


def all_outputs():
    return (
        reads_outputs()
        + bulk_outputs()
        + enrichment_outputs()
        + rescue_outputs()
        + snrna_outputs()
        + rule_outputs("provenance", "report_start_page")
    )


def de_params():
    """The DE settings of every DESeq2 rule (fits and Wald tests), as one parameter."""
    return {
        k: config["de"][k]
        for k in (
            "alpha",
            "cooks_filter",
            "independent_filter",
            "lfc_shrink",
            "min_replicates_for_replace",
        )
    }


def contrast_config(name):
    """The config entry of one contrast, as a plain dict (a rule parameter)."""
    return next(dict(c) for c in config["contrasts"] if c["name"] == name)


def contrast_label(name):
    c = contrast_config(name)
    return f"{c['name']} ({c['variable']}: {c['target']} vs {c['reference']})"


def provenance_inputs(wildcards):
    """Result tables the Methods paragraphs and step counts are computed from: small
    tables only (the integration step writes a small JSON of what it did)."""
    inputs = {}
    if BULK is not None:
        inputs["bulk_samples"] = BULK.samples_path
        inputs["bulk_qc"] = rules.bulk_sample_qc.output.table
        inputs["bulk_summary"] = rules.bulk_de_summary.output.summary
        inputs["bulk_sex"] = rules.bulk_sample_qc.output.sex
        inputs["bulk_filter"] = rules.bulk_de.output.gene_filter
    if SNRNA is not None:
        inputs["snrna_samples"] = SNRNA.samples_path
        inputs["snrna_markers"] = SNRNA.markers_path
        inputs["snrna_filters"] = rules.snrna_qc_summary.output.table
        inputs["snrna_integration"] = rules.snrna_integrate.output.info
        inputs["annotation_warnings"] = rules.snrna_annotate.output.warnings
        inputs["snrna_clusters"] = rules.snrna_annotate.output.clusters
        inputs["snrna_pseudobulk"] = rules.snrna_pseudobulk.output.samples
        inputs["snrna_plan"] = rules.snrna_pseudobulk.output.plan
        inputs["snrna_contamination"] = rules.snrna_ambient.output.contamination
        inputs["snrna_sex"] = rules.snrna_pseudobulk.output.sex
    if BULK is not None or SNRNA is not None:
        inputs["genesets"] = GENESET_FILES
        inputs["nes"] = rules.enrichment_summary.output.nes
    inputs["rescue_counts"] = expand(
        rules.rescue_tables.output.counts, branch=rescue_branches()
    )
    inputs.update(provenance_reads_inputs())
    return inputs


def provenance_reads_inputs():
    """Tables the reads paragraphs are written from, when the run starts from FASTQ: the
    FASTQ checks (reads per unit), strandedness, cell calling, and the small outputs
    that record the version of the tool that ran (fastp, salmon, featureCounts)."""
    inputs = {}
    if READS.bulk is not None:
        inputs["reads_bulk_checks"] = expand(
            rules.reads_check_fastq.output[0], branch="bulk", sample=READS_BULK_SAMPLES
        )
        inputs["reads_strandedness"] = rules.reads_strandedness.output.table
        inputs["reads_fastp"] = reads_fastp_json()
        if READS_SETTINGS["quantifier"] == "salmon":
            inputs["reads_salmon"] = expand(
                rules.reads_salmon_quant.output.meta, sample=READS_BULK_SAMPLES
            )
        else:
            inputs["reads_featurecounts"] = expand(
                rules.reads_featurecounts.output.counts, sample=READS_BULK_SAMPLES
            )
    if READS.snrna is not None:
        inputs["reads_cell_calling"] = rules.reads_cell_calling.output.table
    return inputs
