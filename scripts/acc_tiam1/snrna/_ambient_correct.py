"""Removing the ambient counts, and what the soup explains in each cell type's pseudobulk.

The expected ambient counts of gene *g* in nucleus *i* are ``A_i * soup_g`` (``A_i`` from
:func:`acc_tiam1.ambient_estimate.estimate_contamination`). :func:`correct_counts` removes them as
SoupX ``adjustCounts(method="subtraction")`` does with clusters: per group of nuclei (a cell
type or cluster) the group's expected soup ``sum(A_i) * soup`` is allocated to genes,
none beyond what the group observed and the excess passed on to the other genes in
proportion to the soup (SoupX ``alloc``); each gene's allocation is then shared out over the
group's nuclei that have counts of it, in proportion to ``A_i`` and none beyond its
observed count (SoupX ``expandClusters``). Working on groups matters: a nucleus has a
count of 0 or 1 for most soup genes, so subtracting ``A_i * soup_g`` nucleus by nucleus
removes almost nothing from genes expressed at low levels, while a group sees the soup.

Rounding is deterministic (SoupX rounds at random): within each group x gene the removed
amounts are rounded by systematic rounding (cumulative sum + 1/2, floored), so every nucleus
loses the floor or the ceiling of its share, never more than it had, and the group loses
the rounded total.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError


def water_fill(
    seg: np.ndarray, n_seg: int, target: np.ndarray, caps: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Share ``target[s]`` over the entries of segment ``s`` by weight, none above its cap.

    SoupX's ``alloc``: entries get ``lambda_s * weight``; those that would exceed their cap
    get the cap and the rest is shared among the others, until no entry is above its cap.
    A target above the segment's total cap gives every entry its cap.

    Parameters
    ----------
    seg
        Segment of every entry (0 .. n_seg - 1).
    n_seg
        Number of segments.
    target
        Amount to share, per segment.
    caps, weights
        Per entry; entries with weight 0 get nothing.

    Returns
    -------
    The amount of every entry (float64).
    """
    remaining = np.asarray(target, dtype=np.float64).copy()
    wsum = np.bincount(seg, weights=weights, minlength=n_seg)
    lam = np.divide(remaining, wsum, out=np.zeros(n_seg), where=wsum > 0)
    out = lam[seg] * weights
    over = out >= caps
    if not over.any():  # the usual case: every share fits under its cap
        return out
    out[over] = caps[over]
    # segments without a capped entry are settled; the others go round again
    hit = np.zeros(n_seg, dtype=bool)
    hit[seg[over]] = True
    todo = np.flatnonzero(hit[seg] & ~over & (weights > 0))
    remaining -= np.bincount(seg[over], weights=caps[over], minlength=n_seg)
    np.maximum(remaining, 0.0, out=remaining)
    while todo.size:
        s, w, c = seg[todo], weights[todo], caps[todo]
        wsum = np.bincount(s, weights=w, minlength=n_seg)
        lam = np.divide(remaining, wsum, out=np.zeros(n_seg), where=wsum > 0)
        share = lam[s] * w
        over = share >= c
        out[todo] = np.where(over, c, share)
        if not over.any():
            break
        hit = np.zeros(n_seg, dtype=bool)
        hit[s[over]] = True
        remaining -= np.bincount(s[over], weights=c[over], minlength=n_seg)
        np.maximum(remaining, 0.0, out=remaining)
        todo = todo[hit[s] & ~over]
    return out


def correct_counts(
    counts, ambient_umis: np.ndarray, soup: np.ndarray, groups: Sequence[str]
) -> sparse.csr_matrix:
    """Counts with the expected ambient counts removed (SoupX subtraction, by group).

    Parameters
    ----------
    counts
        Nuclei x genes raw counts of one sample (sparse or dense, integers).
    ambient_umis
        Expected ambient UMIs of every nucleus (``A_i``).
    soup
        The sample's soup profile over the same genes (sums to 1).
    groups
        Cell type or cluster of every nucleus.

    Returns
    -------
    scipy.sparse.csr_matrix
        int32, same shape; every entry between 0 and the observed count.
    """
    x = sparse.csr_matrix(counts)
    n_obs, n_genes = x.shape
    amb = np.asarray(ambient_umis, dtype=np.float64)
    soup = np.asarray(soup, dtype=np.float64)
    if amb.shape != (n_obs,) or soup.shape != (n_genes,) or len(groups) != n_obs:
        raise InputError(
            f"correct_counts: {n_obs} nuclei x {n_genes} genes, but "
            f"{amb.size} ambient values, {soup.size} soup values and "
            f"{len(groups)} group labels."
        )
    if not (np.isfinite(amb).all() and np.isfinite(soup).all()):
        raise InputError("correct_counts: ambient UMIs and soup must be finite numbers.")
    if (amb < 0).any() or (soup < 0).any():
        raise InputError("correct_counts: ambient UMIs and soup must not be negative.")
    if n_obs == 0:
        return x.astype(np.int32)
    labels, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(labels.size + 1))
    xs, amb_s = x[order], amb[order]  # groups now contiguous: slices, not row look-ups
    blocks = [_correct_group(xs[a:b], amb_s[a:b], soup) for a, b in itertools.pairwise(bounds)]
    out = sparse.vstack(blocks, format="csr")
    inverse = np.empty(n_obs, dtype=np.int64)
    inverse[order] = np.arange(n_obs)
    out = out[inverse]
    out.sort_indices()
    return out


def _correct_group(x: sparse.csr_matrix, amb: np.ndarray, soup: np.ndarray) -> sparse.csr_matrix:
    from ._ambient_kernel import expand_and_subtract  # numba: only where counts are corrected

    n_genes = x.shape[1]
    csc = x.tocsc()
    csc.sort_indices()
    observed = np.asarray(csc.sum(axis=0), dtype=np.float64).ravel()
    # group level: the group's soup over genes, none beyond what the group has (alloc)
    gene_soup = water_fill(
        np.zeros(n_genes, dtype=np.int64), 1, np.array([amb.sum()]), observed, soup
    )
    # nucleus level: each gene's soup over the nuclei with counts of it, by A_i (expand)
    csc.data = expand_and_subtract(csc.indptr, csc.indices, csc.data, amb, gene_soup)
    csc.eliminate_zeros()
    return csc.tocsr()


# --------------------------------------------------------------------------------------
# what the soup explains per cell type


def ambient_explained_pseudobulk(
    observed,
    samples: Sequence[str],
    cell_types: Sequence[str],
    ambient_sums: Sequence[float],
    soups: Mapping[str, np.ndarray],
    gene_ids: Sequence[str],
) -> pd.DataFrame:
    """Per cell type x gene, the share of its pseudobulk counts the soup explains.

    For every pseudobulk sample (sample x cell type) the expected ambient counts are
    ``soup_sample,g * sum(A_i)`` over its nuclei; summed over samples and divided by the
    observed counts summed the same way they give ``ambient_fraction`` (capped at 1).

    Parameters
    ----------
    observed
        Pseudobulk samples x genes raw (uncorrected) counts (``snrna.pseudobulk``).
    samples, cell_types
        Sample and cell type of every row.
    ambient_sums
        ``sum(A_i)`` over the row's nuclei.
    soups
        ``{sample: soup profile}`` over the same genes.
    gene_ids
        Column names.

    Returns
    -------
    Long table: ``cell_type``, ``gene_id``, ``observed``, ``expected_ambient``,
    ``ambient_fraction``, ``soup_cpm`` (the soup as it reaches this type, per million),
    ``clean_cpm`` (observed minus ambient, per million of the type's clean counts).
    """
    obs = observed.toarray() if sparse.issparse(observed) else np.asarray(observed)
    obs = obs.astype(np.float64)
    samples = np.asarray(samples).astype(str)
    cell_types = np.asarray(cell_types).astype(str)
    missing = sorted(set(samples) - set(soups))
    if missing:
        raise InputError(f"no soup profile for sample(s) {', '.join(missing)}.")
    soup = np.vstack([np.asarray(soups[s], dtype=np.float64) for s in samples])
    expected_rows = soup * np.asarray(ambient_sums, dtype=np.float64)[:, None]
    types = pd.unique(cell_types)
    code = pd.Index(types).get_indexer(cell_types)
    observed_t = np.zeros((types.size, obs.shape[1]))
    expected = np.zeros_like(observed_t)
    np.add.at(observed_t, code, obs)
    np.add.at(expected, code, expected_rows)
    clean = np.maximum(observed_t - expected, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(observed_t > 0, np.minimum(expected / observed_t, 1.0), np.nan)
        soup_cpm = expected / expected.sum(axis=1, keepdims=True) * 1e6
        clean_cpm = clean / clean.sum(axis=1, keepdims=True) * 1e6
    return pd.DataFrame(
        {
            "cell_type": np.repeat(types, obs.shape[1]),
            "gene_id": np.tile(np.asarray(gene_ids).astype(str), types.size),
            "observed": observed_t.ravel(),
            "expected_ambient": expected.ravel(),
            "ambient_fraction": fraction.ravel(),
            "soup_cpm": soup_cpm.ravel(),
            "clean_cpm": clean_cpm.ravel(),
        }
    )


def ambient_explained(
    counts,
    ambient_umis: np.ndarray,
    soups: Mapping[str, np.ndarray],
    samples: Sequence[str],
    cell_types: Sequence[str],
    gene_ids: Sequence[str],
) -> pd.DataFrame:
    """:func:`ambient_explained_pseudobulk` from nuclei: sums them per sample x cell type.

    ``counts`` are nuclei x genes raw counts, ``ambient_umis`` the ``A_i`` of every
    nucleus, ``samples`` and ``cell_types`` those of every nucleus.
    """
    x = sparse.csr_matrix(counts)
    samples = np.asarray(samples).astype(str)
    cell_types = np.asarray(cell_types).astype(str)
    keys = pd.MultiIndex.from_arrays([samples, cell_types])
    uniq, code = np.unique(
        keys.codes[0] * (keys.levels[1].size + 1) + keys.codes[1], return_inverse=True
    )
    ind = sparse.csr_matrix(
        (np.ones(code.size), (code, np.arange(code.size))), shape=(uniq.size, code.size)
    )
    first = np.unique(code, return_index=True)[1]
    return ambient_explained_pseudobulk(
        ind @ x,
        samples[first],
        cell_types[first],
        ind @ np.asarray(ambient_umis, dtype=np.float64),
        soups,
        gene_ids,
    )


def flag_mostly_ambient(
    de: pd.DataFrame,
    explained: pd.DataFrame,
    cell_type: str,
    alpha: float = 0.05,
    max_fraction: float = 0.5,
    padj: str = "padj",
) -> pd.DataFrame:
    """Add the ambient columns and the ``mostly_ambient`` flag to one cell type's DE table.

    A gene is flagged when it is significant (``padj < alpha``) and the soup explains at
    least ``max_fraction`` of its counts in this cell type. With the default 0.5 that is
    the gene being at least as high in the soup reaching these nuclei as in the nuclei
    themselves (``expected >= observed - expected``): high in the soup, low in clean
    nuclei; its change between groups can then come from the soup (a pain-induced neuronal
    gene in glia) rather than from the cell type.

    Parameters
    ----------
    de
        DE table with ``gene_id`` (column or index) and ``padj``.
    explained
        :func:`ambient_explained`.
    cell_type
        The table's cell type (label as in ``explained``).

    Returns
    -------
    A copy of ``de`` with ``ambient_fraction``, ``soup_cpm``, ``clean_cpm`` and
    ``mostly_ambient``.
    """
    sub = explained[explained["cell_type"] == str(cell_type)].set_index("gene_id")
    if sub.empty:
        raise InputError(f"no ambient fractions for cell type '{cell_type}'.")
    out = de.copy()
    ids = out["gene_id"] if "gene_id" in out.columns else pd.Series(out.index, index=out.index)
    for col in ("ambient_fraction", "soup_cpm", "clean_cpm"):
        out[col] = sub[col].reindex(ids.astype(str)).to_numpy()
    sig = out[padj].to_numpy(dtype=float) < alpha
    out["mostly_ambient"] = sig & (out["ambient_fraction"].to_numpy() >= max_fraction)
    return out


def flag_counts(
    tables: Mapping[str, pd.DataFrame], alpha: float = 0.05, padj: str = "padj"
) -> pd.DataFrame:
    """Per cell type: significant genes and how many of them are flagged mostly ambient.

    ``tables`` maps cell type to its :func:`flag_mostly_ambient` table.
    """
    return pd.DataFrame(
        [
            {
                "cell_type": ct,
                "significant": int((t[padj].to_numpy(dtype=float) < alpha).sum()),
                "mostly_ambient": int(t["mostly_ambient"].sum()),
            }
            for ct, t in tables.items()
        ]
    )
