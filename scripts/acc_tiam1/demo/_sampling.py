"""Drawing counts: many droplets' UMIs from a few expression profiles, and 10x barcodes.

A droplet's UMIs are split into segments (droplet, profile, number of UMIs); every
segment's UMIs are drawn from its profile with Walker's alias method (two array look-ups
per UMI), a chunk of droplets at a time. Time and memory thus grow with the number of
UMIs, never with droplets x genes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import sparse


def random_barcodes(n: int, rng, taken: np.ndarray | None = None) -> np.ndarray:
    """Distinct random 10x barcodes.

    Parameters
    ----------
    n
        Barcodes wanted.
    rng
        Random generator.
    taken
        Barcodes (``S18``) the new ones must differ from.

    Returns
    -------
    numpy.ndarray
        ``n`` barcodes (``S18``: 16 of A, C, G, T and ``-1``), in random order.
    """
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    shifts = np.arange(30, -1, -2, dtype=np.uint64)
    have = np.array([], dtype=np.uint64)
    if taken is not None and len(taken):
        digits = np.searchsorted(letters, np.frombuffer(taken.astype("S18").tobytes(), np.uint8))
        digits = digits.reshape(len(taken), 18)[:, :16].astype(np.uint64)
        have = (digits << shifts).sum(axis=1, dtype=np.uint64)
    codes = np.array([], dtype=np.uint64)
    while codes.size < n:
        new = rng.integers(0, 4**16, size=n - codes.size, dtype=np.uint64)
        pool = np.concatenate([have, codes, new])
        _, first = np.unique(pool, return_index=True)
        keep = np.zeros(pool.size, dtype=bool)
        keep[first] = True
        codes = pool[have.size :][keep[have.size :]]
    digits = (codes[:, None] >> shifts) & np.uint64(3)
    chars = np.empty((n, 18), dtype=np.uint8)
    chars[:, :16] = letters[digits.astype(np.intp)]
    chars[:, 16:] = np.frombuffer(b"-1", dtype=np.uint8)
    return chars.view("S18").ravel()


class Segments:
    """Own UMIs of the droplets as segments (droplet, profile, UMIs).

    Profiles of a study with ``k`` cell types: type ``t`` in state A is ``t``, in state B
    ``k + t``; mitochondria ``2k``.
    """

    def __init__(self, k: int):
        self.k = k
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, droplets, types, n_umis, mito_frac, rng) -> None:
        """A nucleus per droplet: its UMIs split into mitochondria and its type's states.

        Parameters
        ----------
        droplets
            Droplet of every nucleus.
        types
            Cell-type index of every nucleus.
        n_umis
            Own UMIs of every nucleus.
        mito_frac
            Expected mitochondrial share of every nucleus.
        rng
            Random generator (binomial splits; the state mixture is Beta(2, 2)).
        """
        n_mito = rng.binomial(n_umis, mito_frac)
        rest = n_umis - n_mito
        n_a = rng.binomial(rest, rng.beta(2.0, 2.0, len(droplets)))
        mito = np.full(len(droplets), 2 * self.k)
        self.parts += [(droplets, types, n_a), (droplets, self.k + types, rest - n_a)]
        self.parts.append((droplets, mito, n_mito))

    def droplet(self) -> np.ndarray:
        return np.concatenate([p[0] for p in self.parts])

    def profile(self) -> np.ndarray:
        return np.concatenate([p[1] for p in self.parts])

    def umis(self) -> np.ndarray:
        return np.concatenate([p[2] for p in self.parts]).astype(np.int64)


def draw(sources, n_rows: int, tables: list, chunk: int) -> sparse.csr_matrix:
    """Rows x genes counts: each segment's UMIs drawn from its profile.

    Parameters
    ----------
    sources
        ``(rows, profiles, UMIs, generator)`` per random stream, one entry per segment;
        every stream draws its segments chunk by chunk, profile by profile, in a fixed
        order.
    n_rows
        Rows of the matrix.
    tables
        :func:`alias_table` of every profile.
    chunk
        Rows drawn at a time (bounds memory).

    Returns
    -------
    scipy.sparse.csr_matrix
        int32 counts, sorted indices.
    """
    g = tables[0][0].size
    blocks = []
    plans = [_plan(rows, prof, n, chunk) for rows, prof, n, _ in sources]
    for c, start in enumerate(range(0, n_rows, chunk)):
        r_parts, c_parts = [], []
        for plan, (_, _, _, rng) in zip(plans, sources, strict=True):
            for rows, prof, n in plan(c):
                r, gs = draw_profile(rows - start, n, tables[prof], rng)
                r_parts.append(r)
                c_parts.append(gs)
        m = min(chunk, n_rows - start)
        r = np.concatenate(r_parts) if r_parts else np.zeros(0, np.int32)
        col = np.concatenate(c_parts) if c_parts else np.zeros(0, np.int32)
        data = np.ones(r.size, dtype=np.int32)
        blocks.append(sparse.coo_matrix((data, (r, col)), shape=(m, g)).tocsr())
    return _stack_rows(blocks, g)


def _stack_rows(blocks: list[sparse.csr_matrix], n_cols: int) -> sparse.csr_matrix:
    """Stack CSR blocks, releasing each once copied (peak: the result plus one block)."""
    nnz = sum(b.nnz for b in blocks)
    data = np.empty(nnz, dtype=np.int32)
    indices = np.empty(nnz, dtype=np.int32)
    indptr = [np.zeros(1, dtype=np.int64)]
    at = 0
    while blocks:
        b = blocks.pop(0)
        data[at : at + b.nnz] = b.data
        indices[at : at + b.nnz] = b.indices
        indptr.append(at + b.indptr[1:].astype(np.int64))
        at += b.nnz
    indptr = np.concatenate(indptr)
    x = sparse.csr_matrix((data, indices, indptr), shape=(indptr.size - 1, n_cols))
    x.sort_indices()
    return x


def _plan(rows: np.ndarray, prof: np.ndarray, n: np.ndarray, chunk: int):
    """Segments of each chunk of rows, grouped by profile (a function of the chunk)."""
    keep = n > 0
    rows, prof, n = rows[keep], prof[keep], n[keep]
    order = np.lexsort((rows, prof, rows // chunk))
    rows, prof, n = rows[order], prof[order], n[order]
    bounds = np.searchsorted(rows // chunk, np.arange(rows.max() // chunk + 2 if rows.size else 1))

    def segments(c: int) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
        if c + 1 >= bounds.size:
            return
        lo, hi = bounds[c], bounds[c + 1]
        p = prof[lo:hi]
        cuts = np.flatnonzero(np.diff(p)) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, p.size], strict=True):
            if b > a:
                yield rows[lo + a : lo + b], int(p[a]), n[lo + a : lo + b]

    return segments


def alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table of a discrete distribution (Vose's construction, vectorised).

    Every column ``j`` keeps itself with probability ``prob[j]`` and otherwise stands for
    ``alias[j]``; a draw costs two array look-ups whatever the number of genes. A gene of
    probability zero has ``prob`` 0 and is never drawn. Vose pairs one under-full column
    with one over-full column at a time; here all under-full columns of a round are laid
    end to end over the over-full columns' excess and each takes the column its deficit
    starts in, which may tip that column under-full for the next round.

    Parameters
    ----------
    p
        Non-negative weights (need not sum to 1).

    Returns
    -------
    prob, alias
        float64 and int32 vectors of ``p``'s length.
    """
    n = p.size
    q = p * (n / p.sum())
    prob = np.ones(n)
    alias = np.arange(n, dtype=np.int32)
    small, large = np.flatnonzero(q < 1), np.flatnonzero(q >= 1)
    while small.size and large.size:
        deficit = 1.0 - q[small]
        start = np.cumsum(deficit) - deficit
        owner = np.searchsorted(np.cumsum(q[large] - 1.0), start, side="right")
        np.minimum(owner, large.size - 1, out=owner)
        prob[small], alias[small] = q[small], large[owner]
        q[large] -= np.bincount(owner, weights=deficit, minlength=large.size)
        now_small = q[large] < 1
        small, large = large[now_small], large[~now_small]
    prob[small] = np.where(q[small] > 0, 1.0, 0.0)  # what rounding left over
    alias[small] = int(np.argmax(p))
    return prob, alias


def draw_profile(rows, n, table, rng) -> tuple[np.ndarray, np.ndarray]:
    """Row and gene of every UMI: ``n[i]`` UMIs of row ``rows[i]`` from an alias table.

    One uniform per UMI: its integer part (times the number of genes) picks the column,
    its fractional part decides between the column and its alias.

    Parameters
    ----------
    rows, n
        Row of every segment and its UMIs.
    table
        :func:`alias_table` of the profile.
    rng
        Random generator.

    Returns
    -------
    rows, genes
        int32 row and gene of every UMI.
    """
    prob, alias = table
    y = rng.random(int(n.sum()))
    y *= prob.size
    col = y.astype(np.int32)
    np.minimum(col, prob.size - 1, out=col)
    y -= col
    genes = np.where(y < prob[col], col, alias[col])
    return np.repeat(rows.astype(np.int32), n), genes
