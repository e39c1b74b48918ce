"""Cross-checks of a validated config against the files it names.

JSON schemas (``workflow/schemas/``) check the config's shape; the functions here check
what a schema cannot: that files exist, that sample sheets fit the design and contrasts.
They run when Snakemake builds the DAG, before any job starts.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .design import Contrast, parse_contrasts, validate_design
from .errors import InputError
from .io import read_sample_sheet

#: Files the demo rules write; a config may name them before they exist.
DEMO_BULK_COUNTS = "resources/demo/bulk_counts.tsv"
DEMO_BULK_TRUTH = "resources/demo/bulk_truth.tsv"


@dataclass
class BulkInputs:
    """What the bulk branch needs, checked."""

    counts: str
    samples_path: str
    samples: pd.DataFrame
    design: str


def check_input_file(path: str, key: str, producible: Collection[str] = ()) -> None:
    """Raise unless ``path`` exists or a rule of this workflow will write it."""
    if Path(path).exists() or str(Path(path)) in {str(Path(p)) for p in producible}:
        return
    raise InputError(
        f"file '{path}' does not exist (check the path; relative paths are "
        "taken from the folder you run snakemake in).",
        key,
    )


def check_bulk(config: Mapping, producible: Collection[str] = ()) -> BulkInputs | None:
    """Check the ``bulk:`` section and return its inputs, or None when it is absent.

    Parameters
    ----------
    config
        The schema-validated config.
    producible
        Paths that rules write (the demo study), allowed not to exist yet.
    """
    bulk = config.get("bulk")
    if not bulk:
        return None
    check_input_file(bulk["samples"], "bulk.samples")
    check_input_file(bulk["counts"], "bulk.counts", producible)
    sheet = read_sample_sheet(bulk["samples"])
    validate_design(
        sheet,
        bulk["design"],
        contrasts(config),
        sheet_path=bulk["samples"],
        design_key="bulk.design",
        min_replicates=config["de"]["min_group_size"],
    )
    return BulkInputs(
        counts=bulk["counts"],
        samples_path=bulk["samples"],
        samples=sheet,
        design=bulk["design"],
    )


def contrasts(config: Mapping) -> list[Contrast]:
    """The configured contrasts."""
    return parse_contrasts(config["contrasts"])


# --- Enrichment and ketamine rescue -------------------------------------------------


@dataclass
class RescueSettings:
    """The checked ``rescue:`` section.

    Attributes
    ----------
    pain_contrast, ketamine_contrast
        Names of the two contrasts compared.
    interaction_design
        Design with the surgery x drug interaction, or None when not fitted.
    interaction_coefficient
        Model coefficient tested (e.g. ``surgery[T.SNI]:drug[T.ketamine]``).
    interaction_levels
        ``{variable: (target, reference)}`` of the interaction's variables.
    equivalence_contrast
        The comparison of the equivalence test, "back at control level": the ketamine
        contrast's target vs the pain contrast's reference on their shared variable
        (``{name, variable, target, reference}``, e.g. pain_ketamine vs sham); None when
        the two contrasts are on different variables.
    """

    pain_contrast: str
    ketamine_contrast: str
    interaction_design: str | None = None
    interaction_coefficient: str | None = None
    interaction_levels: dict | None = None
    equivalence_contrast: dict | None = None


def check_genesets(config: Mapping) -> list[str]:
    """Check the ``genesets:`` files and ``enrichment.focus_sets``; return the file list.

    Every file is parsed (a malformed GMT fails here, naming the file and line, before any
    job runs); two files may not share a name; focus sets must exist in some file.
    """
    from .enrichment import read_genesets

    paths = [str(p) for p in config.get("genesets") or []]
    if not paths:
        raise InputError(
            "list at least one GMT file, e.g. config/genesets/tiam1_rac1.gmt.", "genesets"
        )
    for path in paths:
        check_input_file(path, "genesets")
    sets = read_genesets(paths)
    enrichment = config.get("enrichment", {})
    terms = {s.term for s in sets}
    missing = [t for t in enrichment.get("focus_sets", []) if t not in terms]
    if missing:
        raise InputError(
            f"focus set(s) {', '.join(missing)} are in none of the gene-set files "
            f"({', '.join(paths)}).",
            "enrichment.focus_sets",
        )
    if enrichment.get("min_size", 1) > enrichment.get("max_size", 10**9):
        raise InputError(
            "enrichment.min_size is larger than enrichment.max_size.", "enrichment.min_size"
        )
    return paths


def check_rescue(config: Mapping, bulk: BulkInputs | None = None) -> RescueSettings | None:
    """Check the ``rescue:`` section against the contrasts (and the bulk sample sheet).

    Returns None when ``rescue.enabled`` is false, or when neither contrast is named and
    the default ones (pain_vs_sham, ketamine_rescue) are not both configured.

    Raises
    ------
    InputError
        Naming the key: a pain or ketamine contrast that is not configured, a
        configured contrast whose name clashes with the equivalence comparison, an
        interaction design the sample sheet cannot fit.
    """
    rescue = config.get("rescue") or {}
    if not rescue.get("enabled", True):
        return None
    names = [c["name"] for c in config["contrasts"]]
    defaults = {"pain_contrast": "pain_vs_sham", "ketamine_contrast": "ketamine_rescue"}
    if not any(rescue.get(key) for key in defaults) and not set(defaults.values()) <= set(names):
        # Neither contrast named and the default ones not configured: nothing to compare.
        return None
    for key, default in defaults.items():
        value = rescue.get(key) or default
        if value not in names:
            raise InputError(
                f"'{value}' is not a configured contrast (contrasts: {', '.join(names)}). "
                f"Set rescue.{key} to one of them, or 'rescue: {{enabled: false}}'.",
                f"rescue.{key}",
            )
    pain = rescue.get("pain_contrast") or defaults["pain_contrast"]
    ketamine = rescue.get("ketamine_contrast") or defaults["ketamine_contrast"]
    if pain == ketamine:
        raise InputError(
            "the pain and the ketamine contrast are the same.", "rescue.ketamine_contrast"
        )
    by_name = {c["name"]: c for c in config["contrasts"]}
    settings = RescueSettings(
        pain, ketamine, equivalence_contrast=equivalence_contrast(by_name[pain], by_name[ketamine])
    )
    eq = settings.equivalence_contrast or {}
    same = by_name.get(eq.get("name"))
    if same is not None and any(str(same[k]) != eq[k] for k in ("variable", "target", "reference")):
        raise InputError(
            f"contrast '{same['name']}' is not the equivalence comparison that name stands "
            f"for ({eq['target']} vs {eq['reference']} of '{eq['variable']}'); rename it.",
            "contrasts",
        )
    interaction = rescue.get("interaction")
    if interaction and bulk is not None:
        settings.interaction_design = interaction["design"]
        settings.interaction_levels, settings.interaction_coefficient = check_interaction(
            bulk.samples, interaction, bulk.samples_path, config["de"]["min_group_size"]
        )
    return settings


def equivalence_contrast(pain: Mapping, ketamine: Mapping) -> dict | None:
    """The comparison "ketamine-treated pain animals vs the pain contrast's controls".

    Parameters
    ----------
    pain, ketamine
        Config entries (``name, variable, target, reference``) of the two contrasts.

    Returns
    -------
    dict or None
        ``{name, variable, target, reference}`` with the ketamine contrast's target and
        the pain contrast's reference (name ``<target>_vs_<reference>``); None when the
        contrasts are on different variables or the two levels coincide.
    """
    if pain["variable"] != ketamine["variable"] or ketamine["target"] == pain["reference"]:
        return None
    target, reference = str(ketamine["target"]), str(pain["reference"])
    return {
        "name": f"{target}_vs_{reference}",
        "variable": str(pain["variable"]),
        "target": target,
        "reference": reference,
    }


def check_interaction(
    sheet: pd.DataFrame, interaction: Mapping, sheet_path: str, min_replicates: int = 2
) -> tuple[dict, str]:
    """Check an interaction design on a sample sheet; return its levels and coefficient.

    Parameters
    ----------
    sheet
        Sample sheet.
    interaction
        ``rescue.interaction``: ``design``, ``reference`` (level per variable),
        optional ``coefficient``.
    sheet_path
        For error messages.
    min_replicates
        Fewest samples per level.
    """
    from .design import design_matrix, make_coldata
    from .rescue import interaction_references

    key = "rescue.interaction.design"
    design = interaction["design"]
    levels = interaction_references(sheet, interaction.get("reference", {}))
    pseudo = [Contrast(f"interaction_{v}", v, t, r) for v, (t, r) in levels.items()]
    validate_design(
        sheet, design, pseudo, sheet_path=sheet_path, design_key=key, min_replicates=min_replicates
    )
    columns = list(design_matrix(make_coldata(sheet, design, pseudo), design).columns)
    terms = [c for c in columns if ":" in c]
    coefficient = interaction.get("coefficient")
    if coefficient:
        if coefficient not in columns:
            raise InputError(
                f"coefficient '{coefficient}' is not in the model of '{design}' "
                f"(coefficients: {', '.join(columns)}).",
                "rescue.interaction.coefficient",
            )
    elif len(terms) == 1:
        coefficient = terms[0]
    else:
        raise InputError(
            f"design '{design}' has {len(terms)} interaction coefficients "
            f"({', '.join(terms) or 'none'}); name the one to test in "
            "rescue.interaction.coefficient.",
            key,
        )
    used = {part.split("[")[0] for part in coefficient.split(":")}
    unset = sorted(used - set(levels))
    if unset:
        raise InputError(
            f"give the reference level of {', '.join(unset)} (it decides the "
            "sign of the interaction).",
            "rescue.interaction.reference",
        )
    return {v: list(tr) for v, tr in levels.items()}, coefficient


# --- Single-nucleus branch ------------------------------------------------------------

#: The demo study's snRNA sample sheet; rule demo_snrna writes the files it names.
DEMO_SNRNA_SHEET = "config/demo/snrna_samples.tsv"
DEMO_SNRNA_DIR = "resources/demo/snrna"
DEMO_SNRNA_TRUTH = {
    "nuclei": f"{DEMO_SNRNA_DIR}/truth_nuclei.tsv",
    "genes": f"{DEMO_SNRNA_DIR}/truth_genes.tsv",
    "cell_types": f"{DEMO_SNRNA_DIR}/truth_cell_types.tsv",
    "samples": f"{DEMO_SNRNA_DIR}/truth_samples.tsv",
    "soup": f"{DEMO_SNRNA_DIR}/truth_soup.tsv",
}
#: Files of a matrix folder that rule demo_snrna writes.
MTX_FOLDER_FILES = ("matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz")


@dataclass
class SnrnaInputs:
    """What the single-nucleus branch needs, checked.

    Attributes
    ----------
    samples_path
        The sample sheet.
    samples
        The sheet indexed by sample; ``path`` holds the resolved input paths.
    design
        Design formula of the pseudobulk DE.
    paths
        ``{sample: input path}`` (a file, or a matrix folder).
    inputs
        ``{sample: files}`` that Snakemake sees as the sample's input (the three files
        of a matrix folder).
    markers_path
        Marker table.
    cell_types
        Cell types of the marker table, in order.
    safe
        ``{cell type: file-safe name}``.
    raw_paths
        ``{sample: raw droplet matrix}`` of the samples whose sheet row has a
        ``raw_path`` (Cell Ranger ``raw_feature_bc_matrix.h5`` or a raw matrix folder).
    raw_inputs
        ``{sample: files}`` of those raw matrices, as Snakemake sees them.
    """

    samples_path: str
    samples: pd.DataFrame
    design: str
    paths: dict[str, str]
    inputs: dict[str, list[str]]
    markers_path: str
    cell_types: list[str]
    safe: dict[str, str]
    raw_paths: dict[str, str]
    raw_inputs: dict[str, list[str]]

    def label(self, safe_name: str) -> str:
        """The cell-type label of a file-safe name."""
        return {v: k for k, v in self.safe.items()}.get(safe_name, safe_name)


def resolve_sample_path(path: str, sheet_path: str) -> str:
    """A sheet's ``path`` entry, relative to the sheet's folder unless absolute."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(sheet_path).parent / p
    return os.path.normpath(str(p))


def _sample_input_files(
    sample: str, path: str, producible: set[str], sheet_path: str, column: str = "path"
) -> list[str]:
    from .snrna import input_format, mtx_files

    try:
        fmt = input_format(path)
    except InputError as err:
        raise InputError(f"sample '{sample}': {err.message}", sheet_path) from None
    exists = Path(path).exists()
    if not exists:
        wanted = (
            [os.path.normpath(f"{path}/{f}") for f in MTX_FOLDER_FILES] if fmt == "mtx" else [path]
        )
        if all(w in producible for w in wanted):
            return wanted
        raise InputError(
            f"sample '{sample}': {column} '{path}' does not exist (paths in column "
            f"'{column}' are relative to the sample sheet's folder unless absolute).",
            sheet_path,
        )
    if not os.access(path, os.R_OK):
        raise InputError(
            f"sample '{sample}': {column} '{path}' is not readable (check its permissions).",
            sheet_path,
        )
    if fmt == "mtx":
        try:
            return [str(f) for f in mtx_files(path).values()]
        except InputError as err:
            raise InputError(f"sample '{sample}': {err}", sheet_path) from None
    if Path(path).is_dir():
        raise InputError(
            f"sample '{sample}': input '{path}' is a folder but its name ends "
            f"in {Path(path).suffix}.",
            sheet_path,
        )
    return [path]


def _raw_input_files(sample: str, path: str, producible: set[str], sheet_path: str) -> list[str]:
    """The files of a sample's raw droplet matrix, checked as far as they exist."""
    from .snrna._raw import check_raw_path

    if Path(path).name.lower().endswith(".h5ad"):
        raise InputError(
            f"sample '{sample}': raw_path '{path}' is an .h5ad; expected Cell Ranger's "
            "raw_feature_bc_matrix.h5 or a raw matrix folder (Cell Ranger or STARsolo "
            "Solo.out/GeneFull/raw).",
            sheet_path,
        )
    files = _sample_input_files(sample, path, producible, sheet_path, column="raw_path")
    if all(Path(f).exists() for f in files):
        try:
            check_raw_path(path, sample)
        except InputError as err:
            raise InputError(f"{err.message} (sheet column raw_path)", err.path) from None
    return files


def check_snrna(
    config: Mapping,
    producible: Collection[str] = (),
    matrices: Mapping[str, Mapping[str, str]] | None = None,
) -> SnrnaInputs | None:
    """Check the ``snrna:`` section and return its inputs, or None when it is absent.

    Checks that the sample sheet has ``sample`` and ``path`` columns, that every path
    exists (or is written by a demo rule) in a supported format, that every contrast
    level has single-nucleus samples, that the design fits the sheet and that the
    marker table is valid (file-safe names unique). File contents are checked by the
    first rule that reads each file. ``matrices`` (``{sample: {"path", "raw_path"}}``)
    are the folders the reads front end writes when the samples come from FASTQ
    (``snrna.units``); they fill the sheet's ``path`` and ``raw_path``.
    """
    from .io import read_markers
    from .snrna import safe_names

    snrna = config.get("snrna")
    if not snrna:
        return None
    sheet_path = snrna["samples"]
    check_input_file(sheet_path, "snrna.samples")
    sheet = read_sample_sheet(sheet_path)
    if matrices is not None:
        from .reads import sheet_with_matrices

        sheet = sheet_with_matrices(sheet, matrices, sheet_path)
    if "path" not in sheet.columns:
        raise InputError("no column 'path' (the count matrix of each sample).", sheet_path)
    producible = {os.path.normpath(str(p)) for p in producible}
    paths, inputs = {}, {}
    for sample, raw in sheet["path"].items():
        if not raw:
            raise InputError(f"sample '{sample}' has an empty 'path'.", sheet_path)
        paths[sample] = resolve_sample_path(raw, sheet_path)
        inputs[sample] = _sample_input_files(sample, paths[sample], producible, sheet_path)
    sheet = sheet.assign(path=[paths[s] for s in sheet.index])
    raw_paths, raw_inputs = {}, {}
    if "raw_path" in sheet.columns:
        for sample, raw in sheet["raw_path"].items():
            if raw is None or str(raw).strip() in ("", "nan", "NA"):
                continue
            raw_paths[sample] = resolve_sample_path(str(raw), sheet_path)
            raw_inputs[sample] = _raw_input_files(sample, raw_paths[sample], producible, sheet_path)
        sheet = sheet.assign(raw_path=[raw_paths.get(s, "") for s in sheet.index])
    covariates = sheet.drop(columns=[c for c in ("path", "raw_path") if c in sheet.columns])
    for c in contrasts(config):
        if c.variable not in covariates.columns:
            continue  # validate_design names the missing column
        levels = sorted(covariates[c.variable].unique())
        for role, level in (("target", c.target), ("reference", c.reference)):
            if level not in levels:
                raise InputError(
                    f"contrast '{c.name}': no single-nucleus sample has {c.variable} = "
                    f"'{level}' (its {role} level; levels in this sheet: "
                    f"{', '.join(levels)}). Add samples or remove the contrast.",
                    sheet_path,
                )
    validate_design(
        covariates,
        snrna["design"],
        contrasts(config),
        sheet_path=sheet_path,
        design_key="snrna.design",
        min_replicates=config["de"]["min_group_size"],
    )
    markers_path = snrna.get("markers", "config/markers/acc_markers.tsv")
    check_input_file(markers_path, "snrna.markers")
    markers = read_markers(markers_path)
    safe = safe_names(markers["cell_type"], where=markers_path)
    return SnrnaInputs(
        samples_path=sheet_path,
        samples=sheet,
        design=snrna["design"],
        paths=paths,
        inputs=inputs,
        markers_path=markers_path,
        cell_types=list(markers["cell_type"]),
        safe=safe,
        raw_paths=raw_paths,
        raw_inputs=raw_inputs,
    )


def demo_snrna_outputs(sheet_path: str = DEMO_SNRNA_SHEET) -> list[str]:
    """Files rule demo_snrna writes, all under :data:`DEMO_SNRNA_DIR`.

    Those the demo sheet's ``path`` and (optional) ``raw_path`` columns name (a folder's
    three files). Empty when the demo sheet is gone.
    """
    if not Path(sheet_path).exists():
        return []
    sheet = read_sample_sheet(sheet_path)
    out = []
    for column in ("path", "raw_path"):
        if column not in sheet.columns:
            continue
        for sample, raw in sheet[column].items():
            if not raw:
                continue
            path = resolve_sample_path(raw, sheet_path)
            if Path(os.path.relpath(path, DEMO_SNRNA_DIR)).parts[0] == "..":
                raise InputError(
                    f"demo sample '{sample}': its {column} must lie under {DEMO_SNRNA_DIR}/.",
                    sheet_path,
                )
            if path.endswith((".h5", ".h5ad")):
                out.append(path)
            else:
                out += [os.path.normpath(f"{path}/{f}") for f in MTX_FOLDER_FILES]
    return out


def demo_snrna_nuclei(nuclei_per_sample: int, sheet_path: str = DEMO_SNRNA_SHEET) -> int:
    """Nuclei rule demo_snrna simulates in all (sets its job's time).

    Parameters
    ----------
    nuclei_per_sample
        ``demo.snrna_nuclei_per_sample``.
    sheet_path
        The demo's snRNA sheet (one sample per row).

    Returns
    -------
    int
        Samples of the sheet (at least 1) times the nuclei per sample.
    """
    n = len(read_sample_sheet(sheet_path)) if Path(sheet_path).exists() else 1
    return max(n, 1) * nuclei_per_sample
