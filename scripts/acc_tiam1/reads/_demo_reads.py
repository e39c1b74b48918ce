"""The reads demo: simulated bulk and 10x single-nucleus FASTQ with planted counts.

Bulk: paired-end 2 x 75 bp, reverse-stranded (dUTP: read 1 antisense to the transcript),
fragments of about 220 bp (3% shorter than a read, so that fastp trims adapter), drawn
from the transcripts of each gene; gene counts are negative binomial, and pain raises the
Tiam1/Rac1 pathway and activity genes two-fold. The planted count of a gene in a sample
is the number of fragments simulated from it.

10x v3 (read 1: 16 bp barcode + 12 bp UMI; read 2: 90 bp cDNA): nuclei of a few cell
types (profiles from the marker table) plus empty droplets holding ambient RNA. A
molecule is mature mRNA (read near the 3' end of the transcript) or, for a planted share,
pre-mRNA (read inside an intron): intronic reads are counted only by STARsolo's GeneFull.
Each molecule is read 1 + Poisson(0.3) times; 0.5% of reads have a barcode error.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_output
from ._demo_reference import CLASS_GENES, COMPLEMENT, DemoReference, random_sequence

READ_LENGTH = 75
R2_10X_LENGTH = 90
ADAPTER_R1 = b"AGATCGGAAGAGCACACGTCTGAACTCCAGTCA"
ADAPTER_R2 = b"AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT"
PAIN_LOG2FC = 1.0
INTRONIC_FRACTION = 0.4
ERROR_RATE = 0.002
_QUAL = ord("F")
_LOW_QUAL = ord("#")


def pain_genes(genes: pd.DataFrame, modules: Sequence[str]) -> np.ndarray:
    """Mask of the genes pain raises: those of the pathway and activity modules."""
    return genes["group"].isin(list(modules)).to_numpy()


def bulk_counts(
    genes: pd.DataFrame, samples: pd.DataFrame, fragments: int, pain: np.ndarray, seed: int
) -> pd.DataFrame:
    """Planted fragments per gene and sample (negative binomial, dispersion 0.05).

    Parameters
    ----------
    genes
        Demo genes (index gene_id, column ``group``).
    samples
        Sample sheet with column ``condition`` (``pain`` samples get the pain effect).
    fragments
        Mean fragments per sample.
    pain
        Mask of the genes pain raises (:data:`PAIN_LOG2FC`).
    seed
        Seed.
    """
    rng = np.random.default_rng([seed, 14, 2])
    log_mu = rng.normal(0.0, 1.0, len(genes))
    log_mu[genes["group"].eq("housekeeping").to_numpy()] += 1.5
    log_mu[genes["group"].eq("mitochondrial").to_numpy()] += 1.0
    base = np.exp(log_mu) / np.exp(log_mu).sum() * fragments
    out = {}
    for sample, row in samples.iterrows():
        mu = base * np.exp(rng.normal(0.0, 0.15))
        if row["condition"] == "pain":
            mu = np.where(pain, mu * 2**PAIN_LOG2FC, mu)
        n = 1 / 0.05
        out[sample] = rng.negative_binomial(n, n / (n + mu))
    return pd.DataFrame(out, index=genes.index)


_ACGT = np.frombuffer(b"ACGT", np.uint8)
_CODE = np.zeros(256, dtype=np.int64)
_CODE[_ACGT] = np.arange(4)


def _substitute(bases: np.ndarray, rng) -> np.ndarray:
    """Another base for each of ``bases`` (uniformly among the three others)."""
    return _ACGT[(_CODE[bases] + rng.integers(1, 4, bases.shape)) % 4]


def _errors(reads: np.ndarray, quals: np.ndarray, rng, rate: float) -> None:
    hit = rng.random(reads.shape) < rate
    reads[hit] = _substitute(reads[hit], rng)
    quals[hit] = _LOW_QUAL


def _with_adapter(
    seq_idx: np.ndarray, valid: np.ndarray, buffer: np.ndarray, adapter: bytes, complement: bool
) -> np.ndarray:
    reads = buffer[np.clip(seq_idx, 0, len(buffer) - 1)]
    if complement:
        reads = COMPLEMENT[reads]
    tail = np.frombuffer((adapter * 4)[: seq_idx.shape[1]], np.uint8)
    # The adapter starts right after the insert: shift it by each read's insert length.
    insert = valid.sum(axis=1)
    cols = np.arange(seq_idx.shape[1])[None, :] - insert[:, None]
    adapters = tail[np.clip(cols, 0, len(tail) - 1)]
    return np.where(valid, reads, adapters)


def bulk_reads(ref: DemoReference, counts: pd.Series, rng) -> tuple[np.ndarray, np.ndarray]:
    """Read pairs of one sample: read 1 antisense (dUTP), read 2 sense.

    Parameters
    ----------
    ref
        The reference.
    counts
        Fragments per gene (index gene_id).
    rng
        Random generator.

    Returns
    -------
    Read 1 and read 2 as ``(n, 75)`` uint8 arrays, in random order.
    """
    tx = ref.transcripts
    seqs = list(tx["sequence"])
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in seqs])[:-1]))
    buffer = np.concatenate(seqs)
    lengths = np.array([len(s) for s in seqs])
    tx_gene = tx["gene_id"].to_numpy()
    picks = []
    for gene_id, n in counts.items():
        if n == 0:
            continue
        idx = np.flatnonzero(tx_gene == gene_id)
        p = np.array([0.7, 0.3])[: len(idx)] if len(idx) > 1 else np.array([1.0])
        picks.append(rng.choice(idx, size=int(n), p=p / p.sum()))
    which = rng.permutation(np.concatenate(picks))
    n = len(which)
    frag = np.clip(rng.normal(220, 40, n), 80, None).astype(int)
    short = rng.random(n) < 0.03
    frag[short] = rng.integers(40, READ_LENGTH, short.sum())
    frag = np.minimum(frag, lengths[which])
    start = offsets[which] + (rng.random(n) * (lengths[which] - frag + 1)).astype(int)
    j = np.arange(READ_LENGTH)[None, :]
    valid = j < frag[:, None]
    r2 = _with_adapter(start[:, None] + j, valid, buffer, ADAPTER_R2, complement=False)
    r1 = _with_adapter((start + frag - 1)[:, None] - j, valid, buffer, ADAPTER_R1, complement=True)
    return r1, r2


def cell_type_profiles(
    genes: pd.DataFrame, markers: Mapping[str, Sequence[str]], classes: Mapping[str, str], seed: int
) -> pd.DataFrame:
    """log2 expression profiles of the cell types (rows) over genes (columns).

    Markers of a type are high in it and low elsewhere; class genes (``Slc17a7``,
    ``Gad1``, ...) are high in the types of their class; mitochondrial RNA is scarce, as
    in nuclei.
    """
    rng = np.random.default_rng([seed, 14, 3])
    n = len(genes)
    base = rng.normal(3.0, 1.0, n)
    group = genes["group"].to_numpy()
    base[group == "housekeeping"] = rng.normal(5.0, 0.5, (group == "housekeeping").sum())
    base[group == "mitochondrial"] = rng.normal(1.0, 0.5, (group == "mitochondrial").sum())
    symbol = {g: i for i, g in enumerate(genes["gene"])}
    all_markers = sorted({symbol[g] for gs in markers.values() for g in gs})
    rows = {}
    for cell_type, own in markers.items():
        p = base + np.where(rng.random(n) < 0.2, rng.normal(0.0, 1.0, n), 0.0)
        p[all_markers] = rng.normal(-2.0, 0.5, len(all_markers))
        for g in own:
            p[symbol[g]] = rng.normal(7.0, 0.4)
        for cls, gs in CLASS_GENES.items():
            for g in gs:
                p[symbol[g]] = rng.normal(6.0, 0.3) if classes[cell_type] == cls else -2.0
        rows[cell_type] = p
    return pd.DataFrame(rows, index=genes.index).T


def _probabilities(log2: np.ndarray) -> np.ndarray:
    w = np.exp2(log2 - log2.max())
    return w / w.sum()


def whitelist(n: int, seed: int) -> list[str]:
    """``n`` distinct random 16 bp barcodes (the demo's 10x whitelist)."""
    rng = np.random.default_rng([seed, 14, 4])
    seen: dict[str, None] = {}
    while len(seen) < n:
        for b in random_sequence(16 * n, rng, gc=0.5).reshape(n, 16):
            seen.setdefault(b.tobytes().decode(), None)
    return list(seen)[:n]


def nuclei_molecules(
    ref: DemoReference,
    profiles: pd.DataFrame,
    proportions: Mapping,
    condition: str,
    pain: np.ndarray,
    pain_types: Sequence[str],
    n_nuclei: int,
    umi_median: float,
    n_empty: int,
    barcodes: list[str],
    rng,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The molecules of one 10x sample: nuclei and empty droplets.

    Returns
    -------
    molecules
        One row per molecule: ``barcode`` (index into ``barcodes``), ``gene`` (row of
        ``ref.genes``), ``intronic``.
    truth
        One row per droplet: ``barcode, cell_type`` (``empty`` for empty droplets),
        ``umis``, ``intronic_umis``.
    """
    types = list(profiles.index)
    share = np.array([proportions[t] for t in types], float)
    kind = rng.choice(len(types), size=n_nuclei, p=share / share.sum())
    umis = np.maximum(np.rint(rng.lognormal(np.log(umi_median), 0.6, n_nuclei)), 1).astype(int)
    empty_umis = np.maximum(np.rint(rng.lognormal(np.log(6), 0.8, n_empty)), 1).astype(int)
    chosen = rng.choice(len(barcodes), size=n_nuclei + n_empty, replace=False)
    probs = {}
    for t, cell_type in enumerate(types):
        log2 = profiles.iloc[t].to_numpy() + rng.normal(0.0, 0.1, profiles.shape[1])
        if condition == "pain" and cell_type in pain_types:
            log2 = log2 + np.where(pain, PAIN_LOG2FC, 0.0)
        probs[t] = _probabilities(log2)
    ambient = sum(share[t] / share.sum() * probs[t] for t in range(len(types)))
    has_intron = np.array([len(i) > 0 for i in ref.genes["introns"]])
    genes, droplet, labels = [], [], []
    for i in range(n_nuclei + n_empty):
        p = probs[kind[i]] if i < n_nuclei else ambient
        n = umis[i] if i < n_nuclei else empty_umis[i - n_nuclei]
        genes.append(rng.choice(len(p), size=n, p=p))
        droplet.append(np.full(n, chosen[i]))
        labels.append(types[kind[i]] if i < n_nuclei else "empty")
    gene = np.concatenate(genes)
    intronic = has_intron[gene] & (rng.random(len(gene)) < INTRONIC_FRACTION)
    molecules = pd.DataFrame(
        {"barcode": np.concatenate(droplet), "gene": gene, "intronic": intronic}
    )
    per = molecules.groupby("barcode").agg(umis=("gene", "size"), intronic_umis=("intronic", "sum"))
    truth = pd.DataFrame({"barcode": [barcodes[c] for c in chosen], "cell_type": labels})
    truth = truth.join(per.rename(index=lambda c: barcodes[c]), on="barcode")
    return molecules, truth


def tenx_reads(
    ref: DemoReference, molecules: pd.DataFrame, barcodes: list[str], rng, umi_len: int = 12
) -> tuple[np.ndarray, np.ndarray]:
    """Read 1 (barcode + UMI) and read 2 (90 bp cDNA, sense) of every molecule's reads."""
    genes = ref.genes
    first_tx = ref.transcripts.groupby("gene_id", sort=False)["sequence"].first()
    spliced = [first_tx[g] for g in genes.index]
    pre = list(genes["premrna"])
    seqs = spliced + pre
    offsets = np.concatenate(([0], np.cumsum([len(s) for s in seqs])[:-1]))
    buffer = np.concatenate(seqs)
    n_genes = len(genes)
    g = molecules["gene"].to_numpy()
    intronic = molecules["intronic"].to_numpy()
    tx_len = np.array([len(s) for s in spliced])
    start = np.empty(len(g), dtype=np.int64)
    ex = ~intronic
    d = np.minimum(rng.exponential(120, ex.sum()).astype(int), tx_len[g[ex]] - R2_10X_LENGTH)
    start[ex] = offsets[g[ex]] + tx_len[g[ex]] - R2_10X_LENGTH - d
    # Intronic molecules: an intron of the gene (by length), a position inside it.
    flat = [
        (gi, a, b - a - R2_10X_LENGTH)
        for gi, introns in enumerate(genes["introns"])
        for a, b in introns
    ]
    i_gene = np.array([f[0] for f in flat])
    i_start = np.array([f[1] for f in flat])
    room = np.array([f[2] for f in flat], float)
    cum = np.cumsum(room)
    first = np.searchsorted(i_gene, np.arange(n_genes))
    before = np.concatenate(([0.0], cum))[first]
    total = np.bincount(i_gene, weights=room, minlength=n_genes)
    gi = g[intronic]
    u = before[gi] + rng.random(len(gi)) * total[gi]
    which = np.minimum(np.searchsorted(cum, u, side="right"), len(cum) - 1)
    inside = np.floor(u - (cum[which] - room[which])).astype(np.int64)
    start[intronic] = offsets[n_genes + gi] + i_start[which] + inside
    umi = random_sequence(len(g) * umi_len, rng, gc=0.5).reshape(len(g), umi_len)
    copies = 1 + rng.poisson(0.3, len(g))
    order = rng.permutation(np.repeat(np.arange(len(g)), copies))
    r2 = buffer[start[order, None] + np.arange(R2_10X_LENGTH)[None, :]]
    bc = np.frombuffer("".join(barcodes).encode(), np.uint8).reshape(len(barcodes), -1)
    r1 = np.concatenate([bc[molecules["barcode"].to_numpy()[order]], umi[order]], axis=1)
    wrong = np.flatnonzero(rng.random(len(order)) < 0.005)
    pos = rng.integers(0, bc.shape[1], len(wrong))
    r1[wrong, pos] = _substitute(r1[wrong, pos], rng)
    return r1, r2


def fastq_bytes(
    names: Sequence[str], reads: np.ndarray, mate: int, rng, error_rate: float = ERROR_RATE
) -> bytes:
    """FASTQ text of reads (fixed length), with substitution errors at ``error_rate``.

    Parameters
    ----------
    names
        Read names of equal length (mates share names).
    reads
        ``(n, length)`` uint8 bases.
    mate
        1 or 2 (the Illumina comment ``1:N:0:1``).
    """
    reads = reads.copy()
    quals = np.full(reads.shape, _QUAL, dtype=np.uint8)
    _errors(reads, quals, rng, error_rate)
    n = len(names)
    header = np.frombuffer(
        "".join(f"@{x} {mate}:N:0:1\n" for x in names).encode(), np.uint8
    ).reshape(n, -1)
    nl = np.full((n, 1), 10, np.uint8)
    plus = np.tile(np.frombuffer(b"+\n", np.uint8), (n, 1))
    return np.hstack([header, reads, nl, plus, quals, nl]).tobytes()


def write_fastq(data: bytes, path: str | Path) -> None:
    """Write FASTQ text gzipped (fast compression), atomically."""
    with atomic_output(path) as tmp, gzip.open(tmp, "wb", compresslevel=1) as handle:
        handle.write(data)
