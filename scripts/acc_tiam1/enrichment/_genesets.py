"""Gene sets: reading GMT files and matching them to the genes of a DE table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_gmt


@dataclass(frozen=True)
class GeneSet:
    """One gene set and the file it came from.

    Attributes
    ----------
    source
        Stem of the GMT file (``c2.cp.mmu.v7.0.symbols`` for
        ``c2.cp.mmu.v7.0.symbols.gmt``); FDR is computed per source.
    term
        Set name as written in the file.
    genes
        Gene symbols, de-duplicated, in file order.
    """

    source: str
    term: str
    genes: tuple[str, ...] = field(repr=False)


def source_name(path: str | Path) -> str:
    """Name of a gene-set source: the file name without ``.gmt`` (or ``.gmt.gz``)."""
    name = Path(path).name
    for suffix in (".gz", ".gmt", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def read_genesets(paths: Iterable[str | Path]) -> list[GeneSet]:
    """Read GMT files into :class:`GeneSet` objects that remember their file.

    Parameters
    ----------
    paths
        GMT files (mouse symbols), as listed under ``genesets:`` in the config.

    Raises
    ------
    InputError
        For malformed files (see :func:`acc_tiam1.io.read_gmt`) and for two files with
        the same name, whose sets could not be told apart.
    """
    sets: list[GeneSet] = []
    seen: dict[str, str] = {}
    for path in paths:
        source = source_name(path)
        if source in seen:
            raise InputError(
                f"two gene-set files are both called '{source}' ({seen[source]} and "
                f"{path}); rename one, set names carry their file name.",
                "genesets",
            )
        seen[source] = str(path)
        for term, genes in read_gmt(path).items():
            sets.append(GeneSet(source, term, tuple(genes)))
    return sets


def match_genesets(
    sets: Sequence[GeneSet], genes: Sequence[str], min_size: int, max_size: int
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Find each set's genes in a ranking and decide which sets are tested.

    A set is tested when ``min_size <= genes found <= max_size`` and it does not hold
    every ranked gene (as in gseapy). Gene symbols match exactly (case-sensitive).

    Parameters
    ----------
    sets
        Gene sets.
    genes
        Ranked gene symbols (positions are ranks, 0 = highest).
    min_size, max_size
        Size limits on the genes found.

    Returns
    -------
    coverage
        One row per set: ``term, source, set_size, genes_found, tested, note``.
    hits
        Sorted ranks of each set's genes found (same order as ``sets``).
    """
    position = {g: i for i, g in enumerate(genes)}
    rows, hits = [], []
    n = len(position)
    for s in sets:
        idx = np.array(sorted(position[g] for g in s.genes if g in position), dtype=np.int64)
        k = len(idx)
        note = ""
        if k == 0:
            note = f"none of its {len(s.genes)} genes is in the ranked genes; not tested"
        elif k < min_size:
            note = f"only {k} of {len(s.genes)} genes found (min_size {min_size}); not tested"
        elif k > max_size:
            note = f"{k} genes found, above max_size {max_size}; not tested"
        elif k >= n:
            note = "holds every ranked gene; not tested"
        rows.append(
            {
                "term": s.term,
                "source": s.source,
                "set_size": len(s.genes),
                "genes_found": k,
                "tested": note == "",
                "note": note,
            }
        )
        hits.append(idx)
    return pd.DataFrame(
        rows, columns=["term", "source", "set_size", "genes_found", "tested", "note"]
    ), hits
