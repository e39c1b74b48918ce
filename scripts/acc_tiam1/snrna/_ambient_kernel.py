"""The nucleus-level step of :func:`acc_tiam1.snrna._ambient_correct.correct_counts`, compiled.

A module of its own so that only the jobs that correct counts import numba.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def expand_and_subtract(
    indptr: np.ndarray, rows: np.ndarray, counts: np.ndarray, amb: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """Counts left after removing ``targets[j]`` from column ``j`` of a CSC matrix.

    Per column: SoupX's ``alloc`` (:func:`acc_tiam1.snrna._ambient_correct.water_fill`)
    by ``amb`` of the entry's row, with the entry's count as its cap; then, over all
    entries column after column, systematic rounding (cumulative sum + 1/2, floored,
    differenced within the column), every removal clipped to ``[0, count]``. Sums run
    in entry order, as ``np.bincount`` and ``np.cumsum`` add them, so the counts are
    those of the array formulation to the bit, in one pass instead of a dozen array
    operations the size of the matrix (twice as fast; ``tests/test_ambient.py`` checks
    that both give the same counts).
    """
    left = np.empty(counts.size, dtype=np.int32)
    share = np.empty(counts.size)
    active = np.empty(counts.size, dtype=np.bool_)
    cum = 0.0
    for j in range(indptr.size - 1):
        a, b = indptr[j], indptr[j + 1]
        fill(a, b, rows, counts, amb, targets[j], share, active)
        base = cum
        before = 0.0
        for i in range(a, b):
            cum += share[i]
            after = np.floor(cum - base + 0.5)
            removed = min(max(after - before, 0.0), float(counts[i]))
            left[i] = np.int32(counts[i] - removed)
            before = after
    return left


@numba.njit(cache=True)
def fill(a, b, rows, counts, amb, target, share, active) -> None:
    """``water_fill`` of one segment (entries ``a`` to ``b``) into ``share``."""
    wsum = 0.0
    for i in range(a, b):
        wsum += amb[rows[i]]
    lam = target / wsum if wsum > 0 else 0.0
    taken = 0.0
    capped = False
    for i in range(a, b):
        w = amb[rows[i]]
        share[i] = lam * w
        active[i] = w > 0
        if share[i] >= counts[i]:
            share[i] = counts[i]
            active[i] = False
            taken += counts[i]
            capped = True
    remaining = target
    # entries at their cap keep it; the others share what is left, until none caps
    while capped:
        remaining = max(remaining - taken, 0.0)
        wsum = 0.0
        for i in range(a, b):
            if active[i]:
                wsum += amb[rows[i]]
        if wsum == 0:
            return
        lam = remaining / wsum
        taken = 0.0
        capped = False
        for i in range(a, b):
            if active[i]:
                share[i] = lam * amb[rows[i]]
                if share[i] >= counts[i]:
                    share[i] = counts[i]
                    active[i] = False
                    taken += counts[i]
                    capped = True
