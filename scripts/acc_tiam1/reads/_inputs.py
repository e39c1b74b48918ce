"""Config-time checks of the reads front end: units sheets, reference files, FASTQ heads.

Run when Snakemake builds the DAG, so they must be cheap: files are looked at, not read
(the first record of each FASTQ only). The full FASTQ and reference checks run in the
first rules, which every index build waits for.

A units sheet has one row per sequencing unit (lane, run or technical replicate) of a
sample: ``sample, unit, fq1, fq2``. Units of one sample are merged. In a bulk sheet an
empty ``fq2`` means single-end; in a 10x sheet ``fq1`` is read 1 (barcode + UMI) and
``fq2`` read 2 (cDNA). Paths are relative to the sheet's folder unless absolute.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..io import read_table
from ._fastq import _is_gzip, check_readable, peek_fastq
from ._reference import peek_fasta, peek_gtf
from ._solo import chemistry
from ._strand import SALMON_LIBTYPE

UNIT_COLUMNS = ("sample", "unit", "fq1", "fq2")
_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_UNIT = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Units:
    """A checked units sheet.

    Attributes
    ----------
    path
        The sheet.
    table
        Columns ``sample, unit, fq1, fq2``, paths resolved (``fq2`` empty: single-end).
    kind
        ``"bulk"`` or ``"10x"``.
    """

    path: str
    table: pd.DataFrame
    kind: str

    @property
    def samples(self) -> list[str]:
        """Samples in sheet order."""
        return list(dict.fromkeys(self.table["sample"]))

    def units_of(self, sample: str) -> list[str]:
        """Units of one sample, in sheet order."""
        return self.table.loc[self.table["sample"] == sample, "unit"].tolist()

    def row(self, sample: str, unit: str) -> pd.Series:
        """The sheet row of one unit."""
        hit = self.table[(self.table["sample"] == sample) & (self.table["unit"] == unit)]
        return hit.iloc[0]

    def files(self, sample: str, unit: str | None = None) -> list[str]:
        """FASTQ files of one unit (or of all units of the sample): fq1 [, fq2] each."""
        units = [unit] if unit is not None else self.units_of(sample)
        out = []
        for u in units:
            r = self.row(sample, u)
            out += [r["fq1"]] + ([r["fq2"]] if r["fq2"] else [])
        return out

    def read_files(self, sample: str, mate: int) -> list[str]:
        """All read-1 (``mate=1``) or read-2 files of a sample, in unit order."""
        col = "fq1" if mate == 1 else "fq2"
        return self.table.loc[self.table["sample"] == sample, col].tolist()

    def paired(self, sample: str) -> bool:
        """Whether the sample is paired-end (all its units are; checked)."""
        return bool(self.table.loc[self.table["sample"] == sample, "fq2"].iloc[0])

    def rows(self, sample: str) -> list[dict[str, str]]:
        """The units of one sample as plain dicts (``unit, fq1, fq2``), for rule params."""
        table = self.table[self.table["sample"] == sample]
        return [{"unit": r.unit, "fq1": r.fq1, "fq2": r.fq2} for r in table.itertuples()]

    def gzipped(self, sample: str) -> bool:
        """Whether the sample's FASTQ files are gzipped.

        Judged by content; by name while a rule has yet to write them.
        """
        first = self.files(sample)[0]
        return _is_gzip(Path(first)) if Path(first).exists() else first.endswith(".gz")


@dataclass
class ReadsInputs:
    """The checked reads front end; ``bulk`` and ``snrna`` are None when not configured.

    Attributes
    ----------
    reference
        ``{"genome", "gtf", "transcriptome"}`` paths (None where not given).
    bulk, snrna
        Units sheets of the two branches.
    settings
        The config values the rules use (quantifier, strandedness, chemistry, ...).
    bulk_counts
        The gene-count matrix the front end writes for the bulk branch.
    matrices
        ``{sample: {"path": folder, "raw_path": folder}}`` written for the snRNA branch.
    """

    reference: dict[str, str | None] = field(default_factory=dict)
    bulk: Units | None = None
    snrna: Units | None = None
    settings: dict = field(default_factory=dict)
    bulk_counts: str | None = None
    matrices: dict[str, dict[str, str]] | None = None

    @property
    def active(self) -> bool:
        """Whether any branch starts from reads."""
        return self.bulk is not None or self.snrna is not None

    @property
    def outputs(self) -> list[str]:
        """Files the front end writes that the branches' config checks may name."""
        out = [self.bulk_counts] if self.bulk_counts else []
        for folders in (self.matrices or {}).values():
            for folder in folders.values():
                out += [
                    f"{folder}/{name}"
                    for name in ("matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz")
                ]
        return out

    @property
    def reference_inputs(self) -> dict[str, str]:
        """The reference files the configured quantifiers use (and the check reads)."""
        needed = {"gtf"}
        if self.snrna is not None or self.settings.get("quantifier") == "star":
            needed.add("genome")
        if self.bulk is not None and self.settings.get("quantifier") == "salmon":
            needed.add("transcriptome")
            if self.settings.get("salmon_decoys"):
                needed.add("genome")
        return {k: v for k, v in self.reference.items() if k in needed and v}

    def min_read1_length(self, branch: str) -> int:
        """Shortest read 1 a branch accepts: barcode + UMI for 10x, 1 for bulk."""
        if branch != "snrna":
            return 1
        chem = chemistry(self.settings["chemistry"])
        return chem["cb_len"] + chem["umi_len"]

    def salmon_libtype(self, sample: str) -> str:
        """The salmon ``-l`` of a bulk sample: ``A`` (detect) under ``strandedness: auto``."""
        strand = self.settings.get("strandedness", "auto")
        if strand == "auto":
            return "A"
        paired, single = SALMON_LIBTYPE[strand]
        return paired if self.bulk.paired(sample) else single

    def orientation_files(self, salmon_pattern: str, star_pattern: str) -> list[str]:
        """Per-sample files that strandedness is inferred from.

        Salmon's library format counts, or STAR's ReadsPerGene tables (``{sample}``
        patterns of the rules' outputs).
        """
        pattern = salmon_pattern if self.settings["quantifier"] == "salmon" else star_pattern
        return [pattern.format(sample=s) for s in self.bulk.samples]

    def bulk_config(self, config: Mapping) -> Mapping:
        """The config with ``bulk.counts`` set to the front end's matrix.

        A new dict: the bulk branch's checks then see the matrix they will read.
        """
        if self.bulk is None:
            return config
        return {**config, "bulk": {**config["bulk"], "counts": self.bulk_counts}}


def resolve(path: str, sheet_path: str) -> str:
    """A sheet entry relative to the sheet's folder (unless absolute), normalised."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(sheet_path).parent / p
    return os.path.normpath(str(p))


def read_units(path: str, kind: str) -> Units:
    """Read and check a units sheet (columns, ids, duplicates, paired-end consistency).

    Parameters
    ----------
    path
        TSV/CSV with columns ``sample, unit, fq1, fq2``.
    kind
        ``"bulk"`` (``fq2`` may be empty: single-end) or ``"10x"`` (both reads needed).

    Raises
    ------
    InputError
        Naming the sheet and the row.
    """
    table = read_table(path, what="units sheet")
    table.columns = [str(c).strip() for c in table.columns]
    missing = [
        c for c in UNIT_COLUMNS if c not in table.columns and not (c == "fq2" and kind == "bulk")
    ]
    if missing:
        raise InputError(
            f"no column(s) {', '.join(missing)} (a units sheet has columns "
            f"{', '.join(UNIT_COLUMNS)}; found: {', '.join(table.columns)}).",
            path,
        )
    if "fq2" not in table.columns:
        table["fq2"] = ""
    table = table[list(UNIT_COLUMNS)].apply(lambda c: c.str.strip())
    if table.empty:
        raise InputError("has no unit rows.", path)
    for i, row in table.iterrows():
        line = i + 2
        if not _ID.match(row["sample"]):
            raise InputError(
                f"line {line}: sample id '{row['sample']}' may hold only letters, "
                "digits, '_', '.' and '-'.",
                path,
            )
        if not _UNIT.match(row["unit"]):
            raise InputError(
                f"line {line}: unit '{row['unit']}' may hold only letters, digits, '_' and '-'.",
                path,
            )
        if not row["fq1"]:
            raise InputError(f"line {line}: sample '{row['sample']}' has an empty fq1.", path)
        if kind == "10x" and not row["fq2"]:
            raise InputError(
                f"line {line}: sample '{row['sample']}' has no fq2; 10x units need "
                "fq1 (read 1: barcode + UMI) and fq2 (read 2: cDNA).",
                path,
            )
    dup = table[table.duplicated(["sample", "unit"])]
    if len(dup):
        r = dup.iloc[0]
        raise InputError(f"sample '{r['sample']}' has unit '{r['unit']}' twice.", path)
    layouts = table.assign(pe=table["fq2"] != "").groupby("sample")["pe"].nunique()
    mixed = layouts[layouts > 1].index.tolist()
    if mixed:
        raise InputError(f"sample '{mixed[0]}' mixes single-end and paired-end units.", path)
    for col in ("fq1", "fq2"):
        table[col] = [resolve(p, path) if p else "" for p in table[col]]
    return Units(path=path, table=table.reset_index(drop=True), kind=kind)


def check_units_match_sheet(units: Units, sheet_samples: list[str], sheet_path: str) -> None:
    """Raise unless the units sheet and the sample sheet hold the same samples."""
    in_units, in_sheet = set(units.samples), set(sheet_samples)
    problems = []
    unknown = [s for s in units.samples if s not in in_sheet]
    if unknown:
        problems.append(
            f"sample(s) {', '.join(unknown)} of the units sheet are not in the "
            f"sample sheet {sheet_path}"
        )
    absent = [s for s in sheet_samples if s not in in_units]
    if absent:
        problems.append(
            f"sample(s) {', '.join(absent)} of the sample sheet {sheet_path} have no FASTQ unit"
        )
    if problems:
        raise InputError("; ".join(problems) + ".", units.path)


def check_unit_files(units: Units, producible: Collection[str] = ()) -> None:
    """Check every FASTQ of a units sheet cheaply.

    Each exists (or a rule writes it), is readable and starts with a FASTQ record; mates
    start with the same read name.

    Raises
    ------
    InputError
        Naming the sample, unit and file.
    """
    producible = {os.path.normpath(p) for p in producible}
    for row in units.table.itertuples():
        what = f"{units.path}: sample '{row.sample}' unit '{row.unit}'"
        names = {}
        for col in ("fq1", "fq2"):
            path = getattr(row, col)
            if not path:
                continue
            if not Path(path).exists() and path in producible:
                continue
            if not Path(path).exists():
                raise InputError(
                    f"{what}: {col} '{path}' does not exist (paths are relative to "
                    "the units sheet's folder unless absolute).",
                    path,
                )
            names[col] = peek_fastq(path, f"{what} {col}")
        if len(names) == 2 and names["fq1"] != names["fq2"]:
            raise InputError(
                f"{what}: the first read of fq1 is '{names['fq1']}' but that of "
                f"fq2 is '{names['fq2']}'; fq1 and fq2 are not mates.",
                row.fq2,
            )
    if units.kind == "10x":
        for sample in units.samples:
            files = [f for f in units.files(sample) if Path(f).exists()]
            kinds = {_is_gzip(Path(f)) for f in files}
            if len(kinds) > 1:
                raise InputError(
                    f"sample '{sample}' mixes gzipped and plain FASTQ files; "
                    "STARsolo reads all units of a sample alike.",
                    units.path,
                )


def _required(section: Mapping, key: str, prefix: str, why: str) -> str:
    value = section.get(key)
    if not value:
        raise InputError(f"is needed {why}.", f"{prefix}.{key}")
    return str(value)


def _check_reference_file(path: str, key: str, kind: str, producible: set[str]) -> str:
    """Check a reference file cheaply; return a FASTA's first header ("" otherwise)."""
    if not Path(path).exists() and os.path.normpath(path) in producible:
        return ""
    check_readable(path, key)
    if kind == "fasta":
        return peek_fasta(path, key)
    peek_gtf(path, key)
    return ""


def check_reads(
    config: Mapping,
    producible: Collection[str] = (),
    bulk_counts: str = "results/reads/bulk/gene_counts.tsv",
    matrix_dir: str = "results/reads/snrna/{sample}/{matrix}",
) -> ReadsInputs:
    """Check the reads part of the config (``bulk.units``, ``snrna.units``, ``reference``).

    Parameters
    ----------
    config
        The schema-validated config.
    producible
        Files a rule of this workflow writes (the reads demo), allowed not to exist yet.
    bulk_counts
        Where the front end writes the bulk gene counts.
    matrix_dir
        Pattern of the snRNA matrix folders (``{sample}``, ``{matrix}``: filtered or raw).

    Returns
    -------
    ReadsInputs
        Inactive (``bulk`` and ``snrna`` None) when no units sheet is configured.

    Raises
    ------
    InputError
        Naming the key or file: missing reference files, ``bulk.counts`` together with
        ``bulk.units``, units sheets that do not match the sample sheets, missing or
        non-FASTQ files, R1/R2 whose first reads are not mates.
    """
    from ..io import read_sample_sheet

    produced = {os.path.normpath(p) for p in producible}
    bulk = config.get("bulk") or {}
    snrna = config.get("snrna") or {}
    reference = config.get("reference") or {}
    out = ReadsInputs()
    if bulk.get("units") and bulk.get("counts"):
        raise InputError(
            "give bulk.counts (a count matrix) or bulk.units (FASTQ files), not both.", "bulk.units"
        )
    if bulk and not bulk.get("units") and not bulk.get("counts"):
        raise InputError("give bulk.counts (a count matrix) or bulk.units (FASTQ files).", "bulk")
    if bulk.get("units"):
        out.bulk = read_units(bulk["units"], "bulk")
        check_units_match_sheet(
            out.bulk, list(read_sample_sheet(bulk["samples"]).index), bulk["samples"]
        )
        check_unit_files(out.bulk, produced)
        out.bulk_counts = bulk_counts
    if snrna.get("units"):
        out.snrna = read_units(snrna["units"], "10x")
        sheet = read_sample_sheet(snrna["samples"])
        check_units_match_sheet(out.snrna, list(sheet.index), snrna["samples"])
        check_unit_files(out.snrna, produced)
        out.matrices = {
            s: {
                "path": matrix_dir.format(sample=s, matrix="filtered"),
                "raw_path": matrix_dir.format(sample=s, matrix="raw"),
            }
            for s in sheet.index
        }
    if not out.active:
        return out
    quantifier = bulk.get("quantifier", "salmon")
    needs_genome = out.snrna is not None or (out.bulk is not None and quantifier == "star")
    ref = {"gtf": _required(reference, "gtf", "reference", "to quantify reads")}
    ref["genome"] = reference.get("genome") or None
    ref["transcriptome"] = reference.get("transcriptome") or None
    if needs_genome:
        _required(
            reference,
            "genome",
            "reference",
            "by STAR (bulk.quantifier: star) and STARsolo (snrna.units)",
        )
    if out.bulk is not None and quantifier == "salmon":
        _required(reference, "transcriptome", "reference", "by salmon (bulk.quantifier: salmon)")
    headers = {}
    for key, kind in (("gtf", "gtf"), ("genome", "fasta"), ("transcriptome", "fasta")):
        if ref[key]:
            headers[key] = _check_reference_file(ref[key], f"reference.{key}", kind, produced)
    out.reference = ref
    out.settings = {
        "quantifier": quantifier,
        "strandedness": bulk.get("strandedness", "auto"),
        "salmon_counts": bulk.get("salmon_counts", "lengthScaledTPM"),
        "salmon_decoys": bool(reference.get("salmon_decoys", True)) and bool(ref["genome"]),
        # GENCODE transcript headers (ENST...|ENSG...|...): salmon must cut them at '|'.
        "salmon_gencode": "|" in headers.get("transcriptome", "").split(" ")[0],
        "star_sjdb_overhang": int(reference.get("star_sjdb_overhang", 100)),
        "star_sa_index_nbases": reference.get("star_sa_index_nbases"),
    }
    if out.snrna is not None:
        chem = snrna.get("chemistry", "v3")
        chemistry(chem)
        whitelist = _required(
            snrna,
            "whitelist",
            "snrna",
            "by STARsolo (the 10x barcode "
            "whitelist of the chemistry, e.g. 3M-february-2018.txt.gz for v3)",
        )
        if not (not Path(whitelist).exists() and os.path.normpath(whitelist) in produced):
            check_readable(whitelist, "snrna.whitelist")
        out.settings.update(
            chemistry=chem,
            whitelist=whitelist,
            cell_filter=snrna.get("cell_filter", "EmptyDrops_CR"),
        )
    return out


def sheet_with_matrices(
    sheet: pd.DataFrame, matrices: Mapping[str, Mapping[str, str]], sheet_path: str
) -> pd.DataFrame:
    """The snRNA sample sheet with ``path`` and ``raw_path`` set to the front end's output.

    The matrix folders are written relative to the sheet's folder, as sheet paths are read.

    Parameters
    ----------
    sheet
        The sample sheet, indexed by sample.
    matrices
        ``{sample: {"path": folder, "raw_path": folder}}`` (relative to the working folder).
    sheet_path
        The sheet file.

    Raises
    ------
    InputError
        When the sheet names a matrix of its own for a sample read from FASTQ, or when the
        sheet's path is absolute (its matrices could not be matched to the rules' outputs).
    """
    if Path(sheet_path).is_absolute():
        raise InputError(
            "with snrna.units, give snrna.samples as a path relative to the "
            "folder you run snakemake in.",
            "snrna.samples",
        )
    for col in ("path", "raw_path"):
        if col in sheet.columns:
            named = sheet.index[sheet[col].astype(str).str.strip() != ""].tolist()
            if named:
                raise InputError(
                    f"sample '{named[0]}' has a '{col}' but its counts come from "
                    "FASTQ (snrna.units); leave the column empty or remove it.",
                    sheet_path,
                )
    folder = Path(sheet_path).parent
    out = sheet.copy()
    for col in ("path", "raw_path"):
        out[col] = [os.path.relpath(matrices[s][col], folder) for s in sheet.index]
    return out
