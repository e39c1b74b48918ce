"""Ambient RNA of a sample: the empty droplets and the soup profile.

Every droplet of a 10x run holds transcripts of the lysate (the "soup") besides its nucleus.
Following SoupX (Young & Behjati 2020, GigaScience 9:giaa151), the soup profile is the
pooled expression of droplets that hold no nucleus, those with few UMIs (SoupX
``estimateSoup``, range ``soupRange``; DropletUtils ``ambientProfileEmpty``, barcodes with
totals <= ``lower``). Here the upper end of that range is read off the barcode-rank curve
(:func:`empty_droplet_cutoff`). Without raw droplets the profile is the pooled expression of
the sample's own nuclei, decontX's assumption that the contamination comes from the
sample's cells (Yang et al. 2020, Genome Biol 21:57); :attr:`SoupProfile.basis` says which
was used. The contamination itself is estimated in :mod:`acc_tiam1.ambient_estimate` and
removed in :mod:`acc_tiam1.ambient_correct`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# barcode-rank curve and the empty droplets


@dataclass
class EmptyDropletRange:
    """Droplets taken as empty: totals in (``floor``, ``cutoff``]."""

    floor: float
    cutoff: float
    knee: float
    inflection: float
    rule: str


def barcode_ranks(totals: np.ndarray, lower: float = 100, max_rank: float | None = None) -> dict:
    """Barcode-rank curve, knee and inflection (DropletUtils ``barcodeRanks``).

    Totals are sorted decreasingly; tied totals share their mid-rank. On the log10-log10
    curve of the runs with total > ``lower``, the inflection is the total at the steepest
    drop (the numerical first derivative, as ``barcodeRanks`` does), where nuclei end and
    empty droplets begin. With ``max_rank`` the drop is searched among the first
    ``max_rank`` barcodes only: when the ambient plateau lies above ``lower``, the fall from
    the plateau to the barcodes with a handful of UMIs can be steeper than the fall from
    the nuclei to the plateau. The knee is the point between the flattest point before it and
    the inflection furthest above the straight line joining them (``barcodeRanks`` takes
    the largest curvature of a smoothing spline instead; both mark where the plateau of
    nuclei bends down).

    Returns
    -------
    ``{"rank", "total"}`` (the run curve, for plotting), ``"knee"``, ``"inflection"``.
    """
    t = np.sort(np.asarray(totals, dtype=float)[np.asarray(totals) > 0])[::-1]
    values, starts, lengths = np.unique(-t, return_index=True, return_counts=True)
    run_total = -values
    run_rank = starts + 1 + (lengths - 1) / 2.0
    keep = run_total > lower
    if keep.sum() < 3:
        raise InputError(
            f"too few distinct barcode totals above {lower:g} UMIs to read the "
            "barcode-rank curve; is this a raw (unfiltered) matrix?"
        )
    x, y = np.log10(run_rank[keep]), np.log10(run_total[keep])
    slope = np.diff(y) / np.diff(x)
    if max_rank is not None:
        slope = np.where(run_rank[keep][1:] <= max_rank, slope, np.inf)
    right = int(np.argmin(slope))
    left = int(np.argmax(slope[: right + 1]))
    inflection = float(10 ** y[right])
    seg_x, seg_y = x[left : right + 1], y[left : right + 1]
    if seg_x.size > 2:
        chord = seg_y[0] + (seg_y[-1] - seg_y[0]) * (seg_x - seg_x[0]) / (seg_x[-1] - seg_x[0])
        knee = float(10 ** seg_y[int(np.argmax(seg_y - chord))])
    else:
        knee = float(10 ** seg_y[0])
    return {"rank": run_rank, "total": run_total, "knee": knee, "inflection": inflection}


def empty_droplet_cutoff(
    totals: np.ndarray,
    floor: float = 0,
    lower: float = 100,
    cutoff: float | None = None,
    n_nuclei: int | None = None,
) -> EmptyDropletRange:
    """The UMI range of the droplets taken as empty, read off the barcode-rank curve.

    Rule: droplets with ``floor < total <= inflection`` are empty, the inflection being the
    steepest point of the drop from nuclei to empty droplets (:func:`barcode_ranks`), looked
    for among the first ``2 * n_nuclei`` barcodes when the number of called nuclei is
    known (the drop lies just below them). SoupX
    and EmptyDrops use a fixed ceiling of 100 UMIs instead, which misses every empty droplet
    when the ambient plateau lies above it (nuclei preparations often carry hundreds of
    ambient UMIs per droplet); the few damaged nuclei below the inflection weigh little
    against the hundreds of thousands of empty droplets, and called nuclei are left out by
    the caller (:func:`soup_from_droplets`). ``floor = 0`` excludes droplets without counts,
    as SoupX's open interval does.

    Parameters
    ----------
    totals
        UMIs per barcode of the raw matrix.
    floor
        Droplets at or below it are left out.
    lower
        Runs at or below it are left out of the curve (DropletUtils' default 100).
    cutoff
        A fixed upper end instead of the inflection (knee and inflection still reported).
    n_nuclei
        Number of called nuclei, if known.
    """
    ranks = barcode_ranks(totals, lower, None if not n_nuclei else 2 * n_nuclei)
    upper = ranks["inflection"] if cutoff is None else float(cutoff)
    rule = (
        "fixed cutoff"
        if cutoff is not None
        else "inflection of the barcode-rank curve (steepest drop)"
    )
    if upper <= floor:
        raise InputError(f"empty-droplet range ({floor:g}, {upper:g}] is empty.")
    return EmptyDropletRange(float(floor), upper, ranks["knee"], ranks["inflection"], rule)


# --------------------------------------------------------------------------------------
# soup profile


@dataclass
class SoupProfile:
    """The ambient profile of one sample over the genes of its count matrix.

    ``profile`` sums to 1; ``basis`` is ``"empty_droplets"`` or ``"nuclei"``.
    """

    profile: np.ndarray
    basis: str
    n_droplets: int
    n_umis: int
    empty_range: EmptyDropletRange | None = None

    def describe(self) -> dict:
        """One table row: basis, droplets, UMIs and the empty-droplet range."""
        row = {"soup_basis": self.basis, "soup_droplets": self.n_droplets, "soup_umis": self.n_umis}
        if self.empty_range is not None:
            r = self.empty_range
            row.update(
                {
                    "empty_floor": r.floor,
                    "empty_cutoff": round(r.cutoff, 1),
                    "knee": round(r.knee, 1),
                    "inflection": round(r.inflection, 1),
                    "cutoff_rule": r.rule,
                }
            )
        return row


def soup_from_droplets(
    raw,
    var_names: Sequence[str],
    nucleus_barcodes: Sequence[str] = (),
    floor: float = 0,
    lower: float = 100,
    cutoff: float | None = None,
    min_umis: int = 1000,
) -> SoupProfile:
    """Soup profile of a sample from its empty droplets (SoupX ``estimateSoup``).

    Parameters
    ----------
    raw
        :class:`acc_tiam1.raw_droplets.RawDroplets` of the sample.
    var_names
        Gene ids of the sample's (filtered) count matrix: the profile follows their order.
    nucleus_barcodes
        Barcodes of the called nuclei; they are never counted as empty.
    floor, lower, cutoff
        See :func:`empty_droplet_cutoff`.
    min_umis
        Fewest UMIs the empty droplets must hold together.

    Raises
    ------
    InputError
        When the raw matrix shares too few genes with the count matrix (another
        reference) or its empty droplets hold fewer than ``min_umis`` UMIs.
    """
    rng = empty_droplet_cutoff(raw.totals, floor, lower, cutoff, len(nucleus_barcodes) or None)
    exclude = None
    if len(nucleus_barcodes):
        exclude = np.isin(raw.barcodes, np.asarray(list(nucleus_barcodes), dtype=bytes))
    counts, n_drops = raw.gene_counts(rng.floor, rng.cutoff, exclude)
    ids = pd.Index(raw.gene_ids.astype(str))
    if ids.has_duplicates:  # as snrna.read_sample names them: id, id-1, id-2, ...
        from anndata.utils import make_index_unique

        ids = make_index_unique(ids)
    pos = ids.get_indexer(pd.Index(var_names).astype(str))
    found = pos >= 0
    if found.mean() < 0.9:
        raise InputError(
            f"sample '{raw.sample}': only {found.sum():,} of the "
            f"{len(var_names):,} genes of its count matrix are in the raw "
            "droplet matrix; were both made with the same reference?",
            raw.path,
        )
    prof = np.where(found, counts[np.maximum(pos, 0)], 0.0)
    total = float(prof.sum())
    if total < min_umis:
        raise InputError(
            f"sample '{raw.sample}': the {n_drops:,} empty droplets "
            f"({rng.floor:g} < UMIs <= {rng.cutoff:.0f}) hold only {total:.0f} "
            f"UMIs (< {min_umis}); too few for a soup profile.",
            raw.path,
        )
    log.info(
        "sample %s: soup from %d empty droplets (%g < UMIs <= %.0f), %d UMIs",
        raw.sample,
        n_drops,
        rng.floor,
        rng.cutoff,
        total,
    )
    return SoupProfile(prof / total, "empty_droplets", n_drops, int(total), rng)


def soup_from_nuclei(counts) -> SoupProfile:
    """Soup profile from the pooled counts of the sample's nuclei (no raw droplets).

    decontX's assumption: the contamination comes from the sample's own cells, in their
    proportions. Real soup is richer in cytoplasmic, mostly neuronal, transcripts than the
    nuclei are, so this basis is the weaker one.
    """
    pooled = np.asarray(sparse.csr_matrix(counts).sum(axis=0), dtype=float).ravel()
    total = pooled.sum()
    if total <= 0:
        raise InputError("no counts to make a soup profile from.")
    return SoupProfile(pooled / total, "nuclei", int(counts.shape[0]), int(total))


def sample_soup(kept, barcodes: Sequence[str], raw_path: str | None, sample: str):
    """The soup profile of one sample and its barcode-rank curve.

    Parameters
    ----------
    kept
        The sample's nuclei that passed QC (raw counts, ``var`` gene ids and symbols).
    barcodes
        Barcodes of all called nuclei of the sample (before QC): none of them is empty.
    raw_path
        Its raw droplet matrix, or None: then the profile comes from the nuclei
        themselves (:func:`soup_from_nuclei`) and the curve is empty.
    sample
        Sample id, for messages.

    Returns
    -------
    soup
        :class:`SoupProfile` over ``kept``'s genes.
    ranks
        The barcode-rank curve, thinned to at most a few hundred points on the log
        scale (columns ``rank``, ``total``); no rows without raw droplets.
    """
    from ._raw import read_raw_droplets

    if not raw_path:
        return soup_from_nuclei(kept.X), pd.DataFrame(columns=["rank", "total"])
    raw = read_raw_droplets(raw_path, sample)
    soup = soup_from_droplets(raw, kept.var_names, nucleus_barcodes=barcodes)
    curve = barcode_ranks(raw.totals, lower=0)
    return soup, thin_curve(curve["rank"], curve["total"])


def thin_curve(rank: np.ndarray, total: np.ndarray, n_points: int = 400) -> pd.DataFrame:
    """A barcode-rank curve with at most about ``n_points`` points, even on the log scale."""
    rank, total = np.asarray(rank, dtype=float), np.asarray(total, dtype=float)
    if rank.size <= n_points:
        keep = np.arange(rank.size)
    else:
        grid = np.geomspace(rank[0], rank[-1], n_points)
        keep = np.unique(np.searchsorted(rank, grid).clip(0, rank.size - 1))
    return pd.DataFrame({"rank": rank[keep], "total": total[keep]})


def soup_table(soup: SoupProfile, var: pd.DataFrame) -> pd.DataFrame:
    """The soup profile as a table: ``gene_id``, ``gene``, ``soup`` (fractions summing to 1)."""
    return pd.DataFrame(
        {"gene_id": var.index.astype(str), "gene": var["gene"].to_numpy(), "soup": soup.profile}
    )
