"""The reference of the reads front end: GTF, transcriptome and genome FASTA.

What a quantifier silently gets wrong is checked here, before any index is built: a
transcriptome whose transcript ids are not those of the GTF (salmon would quantify them
and the gene-level sums would drop them), a GTF whose chromosome names are not the
genome's (STAR and featureCounts would count nothing).
"""

from __future__ import annotations

import gzip
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import InputError

#: GTF attributes that hold a gene symbol, in order of preference (FlyBase: gene_symbol).
SYMBOL_ATTRIBUTES = ("gene_name", "gene_symbol", "Name")


def _open_text(path: str | Path):
    path = Path(path)
    with open(path, "rb") as handle:
        gz = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else open(path)


def parse_attributes(text: str) -> dict[str, str]:
    """The attributes of a GTF line (column 9) as a dict (first value of a repeated key).

    Parameters
    ----------
    text
        E.g. ``gene_id "G1"; transcript_id "T1"; gene_name "Tiam1";``.
    """
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, _, value = part.strip().partition(" ")
        if key:
            out.setdefault(key, value.strip().strip('"'))
    return out


def read_gtf_exons(path: str | Path) -> pd.DataFrame:
    """The exon lines of a GTF file.

    Parameters
    ----------
    path
        GTF, plain or gzipped.

    Returns
    -------
    Columns ``chrom, start, end, strand, gene_id, transcript_id, gene`` (the symbol from
    ``gene_name``, ``gene_symbol`` or ``Name``, else the gene id).

    Raises
    ------
    InputError
        When the file is not a GTF, has no exon lines, or an exon lacks ``gene_id`` or
        ``transcript_id``.
    """
    rows = []
    n_lines = 0
    try:
        with _open_text(path) as handle:
            for number, line in enumerate(handle, 1):
                if line.startswith("#") or not line.strip():
                    continue
                n_lines += 1
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 9:
                    raise InputError(
                        f"line {number} has {len(fields)} tab-separated fields, a GTF line "
                        "has 9 (is this a GTF file?).",
                        path,
                    )
                try:
                    start, end = int(fields[3]), int(fields[4])
                except ValueError:
                    raise InputError(
                        f"line {number}: start or end is not a number.", path
                    ) from None
                if fields[2] != "exon":
                    continue
                attrs = parse_attributes(fields[8])
                gene_id, tx = attrs.get("gene_id"), attrs.get("transcript_id")
                if not gene_id or not tx:
                    raise InputError(
                        f"line {number}: an exon without gene_id or transcript_id attribute.", path
                    )
                symbol = next((attrs[k] for k in SYMBOL_ATTRIBUTES if attrs.get(k)), gene_id)
                rows.append((fields[0], start, end, fields[6], gene_id, tx, symbol))
    except (UnicodeDecodeError, OSError, EOFError) as err:
        raise InputError(f"cannot be read as a text GTF ({err}).", path) from err
    if not rows:
        what = "no lines" if n_lines == 0 else f"{n_lines} lines but no 'exon' line"
        raise InputError(
            f"the GTF has {what}; the front end needs exon lines with gene_id and transcript_id.",
            path,
        )
    return pd.DataFrame(
        rows, columns=["chrom", "start", "end", "strand", "gene_id", "transcript_id", "gene"]
    )


def transcript_table(exons: pd.DataFrame) -> pd.DataFrame:
    """One row per transcript: ``transcript_id, gene_id, length`` (summed exon lengths)."""
    exons = exons.assign(width=exons["end"] - exons["start"] + 1)
    table = exons.groupby("transcript_id", sort=False).agg(
        gene_id=("gene_id", "first"), length=("width", "sum"), genes=("gene_id", "nunique")
    )
    return table.reset_index()


def gene_table(exons: pd.DataFrame) -> pd.DataFrame:
    """One row per gene: ``gene_id, gene, chrom, strand, start, end``, in GTF order."""
    return (
        exons.groupby("gene_id", sort=False)
        .agg(
            gene=("gene", "first"),
            chrom=("chrom", "first"),
            strand=("strand", "first"),
            start=("start", "min"),
            end=("end", "max"),
        )
        .reset_index()
    )


def fasta_records(path: str | Path) -> Iterator[tuple[str, int]]:
    """Names and sequence lengths of a FASTA file, in file order.

    The name is the header's first word; GENCODE's ``ENST...|ENSG...|...`` headers give
    the part before the first ``|``.

    Raises
    ------
    InputError
        When the file does not start with a ``>`` header.
    """
    name, length = None, 0
    try:
        with _open_text(path) as handle:
            for line in handle:
                if line.startswith(">"):
                    if name is not None:
                        yield name, length
                    words = line[1:].split()
                    name, length = (words[0].split("|")[0] if words else ""), 0
                elif name is None:
                    if line.strip():
                        raise InputError(
                            "does not start with a '>' header line; not a FASTA file.", path
                        )
                else:
                    length += len(line.strip())
    except (UnicodeDecodeError, EOFError, OSError) as err:
        raise InputError(f"cannot be read as a text FASTA ({err}).", path) from err
    if name is None:
        raise InputError("holds no sequence; not a FASTA file.", path)
    yield name, length


def peek_fasta(path: str | Path, what: str) -> str:
    """Cheap check that a file starts like FASTA (for config-time checks).

    Returns
    -------
    The first header line (without ``>``).
    """
    try:
        with _open_text(path) as handle:
            first = next((line for line in handle if line.strip()), "")
    except (UnicodeDecodeError, EOFError, OSError) as err:
        raise InputError(f"{what}: cannot be read as text ({err}).", path) from err
    if not first.startswith(">"):
        raise InputError(f"{what}: does not start with a '>' header line; not a FASTA file.", path)
    return first[1:].strip()


def peek_gtf(path: str | Path, what: str) -> None:
    """Cheap check that a file starts like GTF (for config-time checks)."""
    try:
        with _open_text(path) as handle:
            first = next((line for line in handle if line.strip() and not line.startswith("#")), "")
    except (UnicodeDecodeError, EOFError, OSError) as err:
        raise InputError(f"{what}: cannot be read as text ({err}).", path) from err
    if len(first.rstrip("\n").split("\t")) != 9:
        raise InputError(f"{what}: the first line is not a 9-column tab-separated GTF line.", path)


def _unversioned(ids: Iterable[str]) -> list[str]:
    return [re.sub(r"\.\d+$", "", i) for i in ids]


def match_transcripts(
    fasta_ids: list[str], gtf_ids: list[str], fasta_path: str, gtf_path: str
) -> dict[str, str]:
    """Map every transcriptome id to a GTF transcript id, or raise.

    Ids match exactly, or else with a version suffix (``.1``) removed on both sides
    (Ensembl's GTF keeps versions in a separate attribute).

    Returns
    -------
    ``{fasta id: gtf id}``.

    Raises
    ------
    InputError
        Naming both files, when transcripts of the FASTA are not in the GTF or ids repeat.
    """
    dup = pd.Index(fasta_ids)[pd.Index(fasta_ids).duplicated()].unique().tolist()
    if dup:
        raise InputError(f"transcript id(s) {', '.join(dup[:5])} occur more than once.", fasta_path)
    gtf = set(gtf_ids)
    exact = {t: t for t in fasta_ids if t in gtf}
    if len(exact) == len(fasta_ids):
        return exact
    plain_gtf = dict(zip(_unversioned(gtf_ids), gtf_ids, strict=True))
    mapping = {
        t: exact.get(t) or plain_gtf.get(u)
        for t, u in zip(fasta_ids, _unversioned(fasta_ids), strict=True)
    }
    missing = [t for t, g in mapping.items() if g is None]
    if missing:
        found = len(fasta_ids) - len(missing)
        raise InputError(
            f"{len(missing):,} of {len(fasta_ids):,} transcripts of this FASTA are not in the "
            f"GTF {gtf_path} (e.g. {', '.join(missing[:3])}; GTF ids look like "
            f"{', '.join(gtf_ids[:3])}; {found:,} match). The transcriptome and the GTF must "
            "come from the same annotation release.",
            fasta_path,
        )
    return mapping


def check_chromosomes(
    gtf_chroms: Iterable[str], genome_names: Iterable[str], gtf_path: str, genome_path: str
) -> list[str]:
    """Raise when no GTF chromosome is in the genome; return those that are missing.

    Raises
    ------
    InputError
        Naming both files and showing names of each (``chr1`` vs ``1`` is the usual cause).
    """
    chroms = list(dict.fromkeys(gtf_chroms))
    names = set(genome_names)
    missing = [c for c in chroms if c not in names]
    if len(missing) == len(chroms):
        raise InputError(
            f"none of the GTF's chromosomes ({', '.join(chroms[:4])}, ...) is a sequence of the "
            f"genome {genome_path} ({', '.join(sorted(names)[:4])}, ...): use a GTF and genome "
            "of the same naming (e.g. both 'chr1' or both '1').",
            gtf_path,
        )
    return missing


def fasta_mb(path: str | None) -> float:
    """Size of a FASTA in MB, uncompressed, for memory estimates of index jobs.

    A gzipped file counts 3.5 times its size; 0 when there is none (yet).
    """
    if not path or not Path(path).exists():
        return 0.0
    size = Path(path).stat().st_size / 1e6
    return size * 3.5 if str(path).endswith(".gz") else size


def star_sa_index_nbases(genome_length: int) -> int:
    """STAR's ``--genomeSAindexNbases`` for a genome: ``min(14, log2(length) / 2 - 1)``.

    The STAR manual's rule for small genomes (14 is the default for large ones).
    """
    return int(max(1, min(14, math.floor(math.log2(max(genome_length, 2)) / 2 - 1))))


@dataclass
class ReferenceCheck:
    """What :func:`check_reference` found."""

    genes: pd.DataFrame
    tx2gene: pd.DataFrame
    genome_names: list[str]
    genome_length: int
    summary: dict


def check_reference(
    gtf: str, transcriptome: str | None = None, genome: str | None = None
) -> ReferenceCheck:
    """Read and cross-check the reference files of the front end.

    Parameters
    ----------
    gtf
        GTF with exon lines.
    transcriptome
        Transcript FASTA (salmon); every transcript must be in the GTF.
    genome
        Genome FASTA (STAR, STARsolo, salmon decoys); the GTF's chromosomes must be in it.

    Returns
    -------
    ReferenceCheck
        ``genes`` (gene table), ``tx2gene`` (``transcript_id, gene_id``: transcriptome ids
        when a transcriptome is given, else the GTF's), genome sequence names and length,
        and a summary dict for the log.
    """
    exons = read_gtf_exons(gtf)
    transcripts = transcript_table(exons)
    multi = transcripts[transcripts["genes"] > 1]
    if len(multi):
        raise InputError(
            f"transcript {multi['transcript_id'].iloc[0]} belongs to more than one gene_id.", gtf
        )
    genes = gene_table(exons)
    summary: dict = {"gtf": gtf, "genes": len(genes), "transcripts": len(transcripts)}
    tx2gene = transcripts[["transcript_id", "gene_id"]]
    if transcriptome:
        records = list(fasta_records(transcriptome))
        ids = [r[0] for r in records]
        mapping = match_transcripts(ids, transcripts["transcript_id"].tolist(), transcriptome, gtf)
        gene_of = dict(zip(transcripts["transcript_id"], transcripts["gene_id"], strict=True))
        tx2gene = pd.DataFrame(
            {"transcript_id": ids, "gene_id": [gene_of[mapping[t]] for t in ids]}
        )
        lengths = dict(zip(transcripts["transcript_id"], transcripts["length"], strict=True))
        differ = sum(lengths[mapping[t]] != n for t, n in records)
        summary.update(
            transcriptome=transcriptome, fasta_transcripts=len(ids), length_differs_from_gtf=differ
        )
    names: list[str] = []
    length = 0
    if genome:
        for name, n in fasta_records(genome):
            names.append(name)
            length += n
        missing = check_chromosomes(exons["chrom"], names, gtf, genome)
        summary.update(
            genome=genome,
            genome_sequences=len(names),
            genome_length=length,
            gtf_chromosomes_not_in_genome=missing,
        )
    return ReferenceCheck(
        genes=genes, tx2gene=tx2gene, genome_names=names, genome_length=length, summary=summary
    )
