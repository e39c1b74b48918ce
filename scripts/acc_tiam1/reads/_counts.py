"""Gene-level count matrices from salmon and featureCounts outputs.

The matrix is written in the layout the bulk branch reads (``gene_id, gene, samples...``,
integer counts, columns in sample-sheet order), so nothing downstream changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

#: Gene counts from salmon: tximport's countsFromAbundance "lengthScaledTPM", or "sum"
#: (summed transcript counts, tximport's "no").
SALMON_COUNTS = ("lengthScaledTPM", "sum")


def read_salmon_quant(path: str | Path) -> pd.DataFrame:
    """Read salmon's ``quant.sf``: index transcript, ``EffectiveLength, TPM, NumReads``."""
    table = pd.read_csv(path, sep="\t", index_col=0)
    wanted = ["EffectiveLength", "TPM", "NumReads"]
    if not set(wanted) <= set(table.columns):
        raise InputError(f"not a salmon quant.sf (columns: {', '.join(table.columns)}).", path)
    return table[wanted]


def summarize_to_gene(
    quants: Mapping[str, pd.DataFrame],
    tx2gene: pd.DataFrame,
    counts_from_abundance: str = "lengthScaledTPM",
) -> pd.DataFrame:
    """Gene-level counts from salmon's transcript estimates, as R's ``tximport``.

    With ``"sum"`` the counts are the summed transcript counts (tximport's ``"no"``). With
    ``"lengthScaledTPM"`` they are gene TPMs times the gene's average (over samples) of its
    abundance-weighted mean effective transcript length, scaled to each sample's summed
    counts (tximport's ``countsFromAbundance = "lengthScaledTPM"``; ``summarizeToGene``
    and ``makeCountsFromAbundance`` of tximport 1.3x). That removes differences of
    average transcript length between samples (isoform switches) from the counts, which
    a DE model without per-gene offsets (pydeseq2) cannot otherwise correct for. Where a
    gene has no abundance in a sample its length is the geometric mean of its lengths in
    the other samples, or the plain mean of its transcripts' lengths when it has none.

    Parameters
    ----------
    quants
        ``{sample: quant table}`` (:func:`read_salmon_quant`).
    tx2gene
        Columns ``transcript_id, gene_id``.
    counts_from_abundance
        ``"lengthScaledTPM"`` or ``"sum"``.

    Returns
    -------
    Genes x samples, float counts (rounded when written).
    """
    if counts_from_abundance not in SALMON_COUNTS:
        raise ValueError(f"counts_from_abundance must be one of {SALMON_COUNTS}")
    samples = list(quants)
    gene_of = dict(zip(tx2gene["transcript_id"], tx2gene["gene_id"], strict=True))
    tx = quants[samples[0]].index
    for s in samples[1:]:
        if not quants[s].index.equals(tx):
            raise InputError(
                f"sample '{s}' was quantified against other transcripts than '{samples[0]}'."
            )
    keep = tx.isin(list(gene_of))
    if not keep.any():
        raise InputError("no transcript of salmon's output is in the transcript-to-gene map.")
    tx = tx[keep]
    genes = pd.Index([gene_of[t] for t in tx], name="gene_id")

    def matrix(column):
        return pd.DataFrame(
            {s: quants[s].loc[tx, column].to_numpy(float) for s in samples}, index=tx
        )

    abundance_tx, counts_tx, length_tx = (
        matrix("TPM"),
        matrix("NumReads"),
        matrix("EffectiveLength"),
    )
    abundance = abundance_tx.groupby(genes.to_numpy(), sort=False).sum()
    counts = counts_tx.groupby(genes.to_numpy(), sort=False).sum()
    if counts_from_abundance == "sum":
        return counts.rename_axis("gene_id")
    weighted = (abundance_tx * length_tx).groupby(genes.to_numpy(), sort=False).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        length = weighted / abundance
    plain = length_tx.mean(axis=1).groupby(genes.to_numpy(), sort=False).mean()
    length = _replace_missing_length(length, plain)
    new = abundance.mul(length.mean(axis=1), axis=0)
    scaled = new * (counts.sum(axis=0) / new.sum(axis=0))
    return scaled.rename_axis("gene_id")


def _replace_missing_length(length: pd.DataFrame, plain: pd.Series) -> pd.DataFrame:
    values = length.to_numpy(copy=True)
    missing = np.isnan(values)
    for i in np.flatnonzero(missing.any(axis=1)):
        row = values[i]
        if missing[i].all():
            row[:] = plain.iloc[i]
        else:
            row[missing[i]] = np.exp(np.mean(np.log(row[~missing[i]])))
    return pd.DataFrame(values, index=length.index, columns=length.columns)


def read_featurecounts(path: str | Path) -> pd.Series:
    """The counts column of a one-sample featureCounts table, indexed by gene id."""
    table = pd.read_csv(path, sep="\t", comment="#", index_col=0)
    if (
        list(table.columns[:5]) != ["Chr", "Start", "End", "Strand", "Length"]
        or len(table.columns) != 6
    ):
        raise InputError("not a one-sample featureCounts table.", path)
    return table.iloc[:, 5].rename_axis("gene_id")


def count_matrix(
    columns: Mapping[str, pd.Series], genes: pd.DataFrame, samples: Sequence[str]
) -> pd.DataFrame:
    """The matrix the bulk branch reads: ``gene_id, gene, <samples>`` with integer counts.

    Parameters
    ----------
    columns
        ``{sample: counts by gene id}``; float counts (salmon) are rounded.
    genes
        Gene table with ``gene_id`` and ``gene`` (symbol); its order is the row order, and
        genes a quantifier did not report get 0.
    samples
        Column order (the sample sheet's).
    """
    missing = [s for s in samples if s not in columns]
    if missing:
        raise InputError(f"no counts for sample(s) {', '.join(missing)}.")
    ids = genes["gene_id"].astype(str)
    table = pd.DataFrame({"gene_id": ids.to_numpy(), "gene": genes["gene"].to_numpy()})
    for s in samples:
        values = columns[s].reindex(ids).fillna(0).to_numpy(float)
        table[s] = np.rint(values).astype(np.int64)
    unknown = set().union(*(set(columns[s].index) for s in samples)) - set(ids)
    if unknown:
        raise InputError(
            f"{len(unknown)} counted gene id(s) are not in the GTF, e.g. {sorted(unknown)[0]}."
        )
    return table
