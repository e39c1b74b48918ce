"""Harmony integration: harmonypy's algorithm, with its slow steps done on contiguous arrays.

harmonypy 0.0.10 spends most of its time in three places at 100k nuclei (profiled: 130 of
141 s): ``update_R`` gathers random column blocks of the clusters x nuclei matrices
(strided copies, 20 per k-means step), ``compute_objective`` builds three clusters x
nuclei temporaries to get a clusters x batches sum, and ``moe_correct_ridge`` loops over
clusters in mixed precision. :class:`FastHarmony` overrides these three with the same
mathematics: the same random block order (the global NumPy generator is drawn exactly as
harmonypy draws it), the same updates in the same sequence, so results agree with
harmonypy to floating-point rounding (``tests/test_snrna.py`` checks it).
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pandas as pd
from harmonypy.harmony import Harmony
from scipy.special import xlogy

log = logging.getLogger(__name__)


class FastHarmony(Harmony):
    """``harmonypy.harmony.Harmony`` with vectorised clustering, objective and correction."""

    def cluster(self):
        # harmonypy's loop, without its distance matrix before the loop (recomputed
        # before any use) and with the distances made in place (same arithmetic).
        for i in range(self.max_iter_kmeans):
            y = np.dot(self.Z_cos, self.R.T)
            self.Y = y / np.linalg.norm(y, ord=2, axis=0)
            self.dist_mat = np.dot(self.Y.T, self.Z_cos)
            np.subtract(1, self.dist_mat, out=self.dist_mat)
            self.dist_mat *= 2
            self.update_R()
            self.compute_objective()
            if i > self.window_size and self.check_convergence(0):
                break
        self.kmeans_rounds.append(i)
        self.objective_harmony.append(self.objective_kmeans[-1])
        return 0

    def update_R(self):
        order = np.arange(self.N)
        np.random.shuffle(order)  # noqa: NPY002 (harmonypy's generator, for the same blocks)
        n_blocks = int(np.ceil(1 / self.block_size))
        bounds = np.cumsum([0, *map(len, np.array_split(order, n_blocks))])
        # Nuclei in update order as rows: every block is then a contiguous slice. The
        # clusters x nuclei matrices are transposed first and their rows gathered, which
        # is three times faster than gathering their columns; the values are the same.
        scale_t = _transposed(self.dist_mat)
        scale_t /= -self.sigma
        scale_t -= np.max(scale_t, axis=1, keepdims=True)
        np.exp(scale_t, out=scale_t)
        scale_t = scale_t[order]
        r_t = _transposed(self.R)[order]
        phi_t = np.ascontiguousarray(self.Phi.T[order])
        for start, stop in itertools.pairwise(bounds):
            r, phi = r_t[start:stop], phi_t[start:stop]
            self.E -= np.outer(r.sum(axis=0), self.Pr_b)
            self.O -= r.T @ phi
            penalty = np.power((self.E + 1) / (self.O + 1), self.theta)  # clusters x batches
            new = scale_t[start:stop] * (phi @ penalty.T)
            new /= new.sum(axis=1, keepdims=True)
            r_t[start:stop] = new
            self.E += np.outer(new.sum(axis=0), self.Pr_b)
            self.O += new.T @ phi
        back = np.empty_like(r_t)
        back[order] = r_t
        _transposed(back, out=self.R)
        return 0

    def compute_objective(self):
        kmeans_error = float(np.vdot(self.R, self.dist_mat))
        entropy = float(np.sum(xlogy(self.R, self.R).sum(axis=1) * self.sigma))
        # harmonypy's sum(R * sigma * ((theta * log((O+1)/(E+1))) @ Phi)), summed over
        # nuclei first: R @ Phi.T is clusters x batches.
        log_ratio = np.log((self.O + 1) / (self.E + 1))
        cross = float(
            np.sum(
                (self.sigma[:, None] * (self.R @ self.Phi.T)) * (log_ratio * self.theta[None, :])
            )
        )
        self.objective_kmeans.append(kmeans_error + entropy + cross)
        self.objective_kmeans_dist.append(kmeans_error)
        self.objective_kmeans_entropy.append(entropy)
        self.objective_kmeans_cross.append(cross)

    def harmonize(self, iter_harmony=10, verbose=True):
        for i in range(1, iter_harmony + 1):
            self.cluster()
            self.moe_correct()
            if self.check_convergence(1):
                log.info("Harmony converged after %d iteration%s", i, "s" * (i > 1))
                break
        else:
            log.info("Harmony stopped before convergence (%d iterations)", iter_harmony)
        return 0

    def moe_correct(self):
        """Run harmonypy's ``moe_correct_ridge`` for all clusters at once."""
        z = self.Z_orig.astype(np.float64, copy=False)
        phi = self.Phi_moe.astype(np.float64, copy=False)  # (1 + batches) x nuclei
        # weighted[b] = R * Phi_moe[b]: per cluster, the design row b weighted by R_k.
        weighted = self.R[None, :, :] * phi[:, None, :]  # (1 + B) x K x N
        gram = (weighted @ phi.T).transpose(1, 0, 2) + self.lamb[None]  # K x (1+B) x (1+B)
        rhs = (weighted @ z.T).transpose(1, 0, 2)  # K x (1+B) x PCs
        w = np.linalg.solve(gram, rhs)
        w[:, 0, :] = 0  # the intercept is not removed
        correction = sum(w[:, b, :].T @ weighted[b] for b in range(1, len(phi)))
        self.Z_corr = (z - correction).astype(self.Z_orig.dtype, copy=False)
        self.W, self.Phi_Rk = w[-1], weighted[:, -1, :]
        self.Z_cos = self.Z_corr / np.linalg.norm(self.Z_corr, ord=2, axis=0)


def run_harmony(
    pcs: np.ndarray, obs: pd.DataFrame, batch_key: str, seed: int, max_iter_harmony: int = 10
) -> np.ndarray | None:
    """Harmony-corrected PCs (nuclei x PCs), with harmonypy's algorithm and defaults, seeded.

    None when there are too few nuclei for Harmony's clustering (fewer than 2 clusters of
    about 30 nuclei).

    Same set-up as ``harmonypy.run_harmony`` (theta 1, lambda 1, sigma 0.1,
    ``min(N / 30, 100)`` clusters, k-means initialisation with 10 starts, block size 0.05,
    20 k-means steps per round), computed by :class:`FastHarmony`. Called directly rather
    than through ``sc.external.pp.harmony_integrate``: scanpy 1.11 expects harmonypy's
    result transposed the other way from what harmonypy >= 0.2 returns.
    """
    z = np.ascontiguousarray(np.asarray(pcs, dtype=np.float64).T)  # PCs x nuclei
    n = z.shape[1]
    phi = pd.get_dummies(obs[batch_key].astype(str).to_numpy()).to_numpy(dtype=np.float64).T
    k = int(min(round(n / 30.0), 100))
    if k < 2:
        return None
    n_batches = phi.shape[0]
    lamb_mat = np.diag(np.insert(np.ones(n_batches), 0, 0))
    phi_moe = np.vstack((np.ones(n), phi))
    np.random.seed(seed)  # noqa: NPY002 (harmonypy shuffles with the global generator)
    ho = FastHarmony(
        z,
        phi,
        phi_moe,
        phi.sum(axis=1) / n,
        np.repeat(0.1, k),
        np.ones(n_batches),
        max_iter_harmony,
        20,
        1e-5,
        1e-4,
        k,
        0.05,
        lamb_mat,
        False,
        seed,
        "kmeans",
    )
    log.info("Harmony: %d clusters, %d rounds", k, len(ho.kmeans_rounds))
    return np.asarray(ho.Z_corr).T.astype(np.float32)


def _transposed(a: np.ndarray, out: np.ndarray | None = None, block: int = 1024) -> np.ndarray:
    """``a.T`` as a C-contiguous array, copied block by block along the long side.

    The blocks stay in cache: NumPy's plain copy of a transposed view took about twice as
    long for the clusters x nuclei matrices of Harmony.
    """
    rows, cols = a.shape
    out = np.empty((cols, rows), dtype=a.dtype) if out is None else out
    for start in range(0, max(rows, cols), block):
        part = slice(start, start + block)
        if cols >= rows:
            out[part] = a[:, part].T
        else:
            out[:, part] = a[part].T
    return out
