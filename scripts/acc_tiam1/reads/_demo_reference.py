"""The reads demo's reference: a small simulated mouse genome, its GTF and transcriptome.

Genes carry real mouse symbols (the Tiam1/Rac1 pathway modules, the marker genes of the
simulated cell types, class, housekeeping and mitochondrial genes). Each nuclear gene has
2-5 exons separated by introns with GT...AG splice sites, on either strand; a third of the
multi-exon genes also have an isoform that skips an internal exon. Mitochondrial genes are
single-exon genes on ``chrM``. Sequences are random (seeded): every read maps uniquely,
so differences between planted and measured counts come from the quantifiers.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..demo._common import MITO_GENES
from ..io import atomic_output

HOUSEKEEPING_GENES = (
    "Actb",
    "Gapdh",
    "Tubb5",
    "Ppia",
    "Rplp0",
    "Hprt",
    "Tbp",
    "B2m",
    "Ywhaz",
    "Pgk1",
    "Snap25",
    "Syt1",
    "Meis2",
    "Pbx3",
)
CLASS_GENES = {
    "Glutamatergic": ("Slc17a7", "Satb2", "Neurod6", "Camk2a"),
    "GABAergic": ("Gad1", "Gad2", "Slc32a1"),
}
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
#: Complement of each ASCII base (index by the uint8 code).
COMPLEMENT = np.zeros(256, dtype=np.uint8)
COMPLEMENT[np.frombuffer(b"ACGTN", np.uint8)] = np.frombuffer(b"TGCAN", np.uint8)


def revcomp(seq: np.ndarray) -> np.ndarray:
    """Reverse complement of a uint8 (ASCII) sequence, or of each row of a 2-D array."""
    return COMPLEMENT[seq[..., ::-1]]


def random_sequence(n: int, rng: np.random.Generator, gc: float = 0.42) -> np.ndarray:
    """``n`` random bases (uint8 ASCII) with the given GC content."""
    p = np.array([1 - gc, gc, gc, 1 - gc]) / 2
    return _BASES[rng.choice(4, size=n, p=p)]


@dataclass
class DemoReference:
    """A simulated reference.

    Attributes
    ----------
    genome
        ``{chromosome: uint8 sequence}``.
    genes
        Index ``gene_id``; columns ``gene`` (symbol), ``group``, ``chrom``, ``strand``,
        ``start``, ``end`` (1-based, inclusive), ``premrna`` (sense pre-mRNA, uint8),
        ``introns`` (list of ``(start, end)`` in pre-mRNA coordinates, 0-based half-open).
    transcripts
        Index ``transcript_id``; columns ``gene_id``, ``exons`` (genomic ``(start, end)``
        pairs, 1-based inclusive, in genome order), ``sequence`` (sense, uint8).
    """

    genome: dict[str, np.ndarray]
    genes: pd.DataFrame
    transcripts: pd.DataFrame


def gene_universe(
    modules: Mapping[str, Sequence[str]], markers: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Real mouse symbols of the demo and the group each comes from.

    Parameters
    ----------
    modules
        Pathway gene sets (name -> symbols).
    markers
        Cell type -> marker symbols of the simulated cell types.

    Returns
    -------
    Index ``gene_id`` (``DEMOG#########``), columns ``gene``, ``group``.
    """
    rows: dict[str, str] = {}
    for name, genes in modules.items():
        for g in genes:
            rows.setdefault(g, name)
    for cell_type, genes in markers.items():
        for g in genes:
            rows.setdefault(g, f"marker:{cell_type}")
    for cls, genes in CLASS_GENES.items():
        for g in genes:
            rows.setdefault(g, f"class:{cls}")
    for group, genes in (("housekeeping", HOUSEKEEPING_GENES), ("mitochondrial", MITO_GENES)):
        for g in genes:
            rows.setdefault(g, group)
    table = pd.DataFrame({"gene": list(rows), "group": list(rows.values())})
    table.index = pd.Index([f"DEMOG{i:09d}" for i in range(1, len(table) + 1)], name="gene_id")
    return table


def _gene_model(rng: np.random.Generator, mito: bool) -> tuple[list[int], list[int]]:
    if mito:
        return [int(rng.integers(300, 1500))], []
    n_exons = int(rng.integers(2, 6))
    exons = [int(x) for x in rng.integers(120, 450, n_exons)]
    exons[-1] = int(rng.integers(450, 1200))  # a long last exon, where 3' reads fall
    introns = [int(x) for x in rng.integers(300, 2200, n_exons - 1)]
    return exons, introns


def _premrna(exons: list[int], introns: list[int], rng) -> tuple[np.ndarray, list]:
    parts, intron_pos, pos = [], [], 0
    for i, length in enumerate(exons):
        parts.append(random_sequence(length, rng))
        pos += length
        if i < len(introns):
            intron = random_sequence(introns[i], rng)
            intron[:2] = np.frombuffer(b"GT", dtype=np.uint8)
            intron[-2:] = np.frombuffer(b"AG", dtype=np.uint8)
            parts.append(intron)
            intron_pos.append((pos, pos + introns[i]))
            pos += introns[i]
    return np.concatenate(parts), intron_pos


def build_reference(genes: pd.DataFrame, seed: int, n_chromosomes: int = 3) -> DemoReference:
    """Lay the genes out on chromosomes and build their sequences and transcripts.

    Parameters
    ----------
    genes
        From :func:`gene_universe`.
    seed
        Seed; equal seeds give identical references.
    n_chromosomes
        Nuclear chromosomes (``chr1``...); mitochondrial genes go to ``chrM``.
    """
    rng = np.random.default_rng([seed, 14, 1])
    chroms: dict[str, list[np.ndarray]] = {f"chr{i + 1}": [] for i in range(n_chromosomes)}
    chroms["chrM"] = []
    lengths = dict.fromkeys(chroms, 0)
    gene_rows, tx_rows = [], []
    for k, (gene_id, row) in enumerate(genes.iterrows()):
        mito = row["group"] == "mitochondrial"
        chrom = "chrM" if mito else f"chr{k % n_chromosomes + 1}"
        strand = "+" if mito or rng.random() < 0.5 else "-"
        exons, introns = _gene_model(rng, mito)
        pre, intron_pos = _premrna(exons, introns, rng)
        spacer = random_sequence(int(rng.integers(100 if mito else 400, 1000)), rng)
        chroms[chrom].append(spacer)
        start0 = lengths[chrom] + len(spacer)
        chroms[chrom].append(pre if strand == "+" else revcomp(pre))
        lengths[chrom] = start0 + len(pre)
        gene_rows.append(
            {
                "gene_id": gene_id,
                "gene": row["gene"],
                "group": row["group"],
                "chrom": chrom,
                "strand": strand,
                "start": start0 + 1,
                "end": start0 + len(pre),
                "premrna": pre,
                "introns": intron_pos,
            }
        )
        # Exons in pre-mRNA coordinates (sense, 0-based half-open).
        bounds, pos = [], 0
        for i, length in enumerate(exons):
            bounds.append((pos, pos + length))
            pos += length + (introns[i] if i < len(introns) else 0)
        isoforms = [list(range(len(exons)))]
        if len(exons) >= 3 and rng.random() < 0.35:
            skip = int(rng.integers(1, len(exons) - 1))
            isoforms.append([i for i in range(len(exons)) if i != skip])
        for j, keep in enumerate(isoforms, 1):
            tx_id = gene_id.replace("DEMOG", "DEMOT") + f"-{j}"
            seq = np.concatenate([pre[bounds[i][0] : bounds[i][1]] for i in keep])
            genomic = []
            for i in keep:
                a, b = bounds[i]
                genomic.append(
                    (start0 + a + 1, start0 + b)
                    if strand == "+"
                    else (start0 + len(pre) - b + 1, start0 + len(pre) - a)
                )
            tx_rows.append(
                {
                    "transcript_id": tx_id,
                    "gene_id": gene_id,
                    "exons": sorted(genomic),
                    "sequence": seq,
                }
            )
    genome = {}
    for chrom, parts in chroms.items():
        parts.append(random_sequence(500, rng))
        genome[chrom] = np.concatenate(parts)
    return DemoReference(
        genome=genome,
        genes=pd.DataFrame(gene_rows).set_index("gene_id"),
        transcripts=pd.DataFrame(tx_rows).set_index("transcript_id"),
    )


def _write_fasta(records: Mapping[str, np.ndarray], path: str | Path, width: int = 60) -> None:
    with atomic_output(path) as tmp, gzip.open(tmp, "wt", compresslevel=6) as handle:
        for name, seq in records.items():
            text = seq.tobytes().decode()
            handle.write(f">{name}\n")
            handle.write("\n".join(text[i : i + width] for i in range(0, len(text), width)))
            handle.write("\n")


def write_reference(
    ref: DemoReference, genome: str | Path, gtf: str | Path, transcriptome: str | Path
) -> None:
    """Write the genome and transcriptome (gzipped FASTA) and the GTF (gzipped).

    The GTF has ``gene``, ``transcript`` and ``exon`` lines with ``gene_id``,
    ``transcript_id``, ``gene_name`` and ``gene_biotype``, as Ensembl's.
    """
    _write_fasta(ref.genome, genome)
    _write_fasta(
        dict(zip(ref.transcripts.index, ref.transcripts["sequence"], strict=True)), transcriptome
    )
    lines = []
    for gene_id, g in ref.genes.iterrows():
        attrs = f'gene_id "{gene_id}"; gene_name "{g["gene"]}"; gene_biotype "protein_coding";'
        lines.append(
            f"{g['chrom']}\tdemo\tgene\t{g['start']}\t{g['end']}\t.\t{g['strand']}\t.\t{attrs}"
        )
        for tx_id, t in ref.transcripts[ref.transcripts["gene_id"] == gene_id].iterrows():
            tx_attrs = f'gene_id "{gene_id}"; transcript_id "{tx_id}"; gene_name "{g["gene"]}";'
            lines.append(
                f"{g['chrom']}\tdemo\ttranscript\t{t['exons'][0][0]}\t"
                f"{t['exons'][-1][1]}\t.\t{g['strand']}\t.\t{tx_attrs}"
            )
            order = t["exons"] if g["strand"] == "+" else t["exons"][::-1]
            for n, (a, b) in enumerate(order, 1):
                lines.append(
                    f"{g['chrom']}\tdemo\texon\t{a}\t{b}\t.\t{g['strand']}\t.\t"
                    f'{tx_attrs} exon_number "{n}";'
                )
    with atomic_output(gtf) as tmp, gzip.open(tmp, "wt") as handle:
        handle.write("".join(f"{line}\n" for line in lines))
