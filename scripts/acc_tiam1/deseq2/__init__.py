"""DESeq2's estimation steps as R's DESeq2 runs them, vectorised over genes.

pydeseq2 0.5.4 follows DESeq2's model but not always its numerical recipe, and the
recipe decides which genes are called on real data. The differences that change
results, and what this package does instead (R behaviour, DESeq2 1.38):

- Gene-wise and MAP dispersions. pydeseq2 maximises the Cox-Reid adjusted likelihood
  with L-BFGS-B; R runs its own Armijo line search on log(alpha) (``fitDisp``: step
  ``kappa`` from 1, tolerance 1e-6 on the log posterior, at most 100 steps), keeps the
  starting value when the search does not raise the likelihood ("noIncrease"), and
  re-fits genes whose search did not converge on a grid (``fitDispGrid``). On flat
  likelihoods the line search stops measurably short of the maximum (by ~10% on high-
  count genes), which moves genes across the dispersion-outlier line
  (``estimateDispersionsMAP``: gene-wise > trend * exp(2 * residual SD)).
- Dispersion trend. R fits ``glm(disp ~ I(1/mean), Gamma(identity))`` to genes with
  gene-wise dispersion > 100 * minDisp only; pydeseq2 uses all genes and its own loss.
- Coefficients. R's IRLS (``fitBeta``) stops on the relative deviance change (from the
  second step), gives up when a coefficient leaves [-30, 30] (natural log), and then
  maximises the penalised likelihood with ``optim(L-BFGS-B)`` on the log2 scale with
  unclamped means and bounds [-30, 30]. pydeseq2 clamps the means at 0.5 inside its
  fallback optimiser, which makes the likelihood flat for groups of zeros and leaves
  such genes (e.g. zero in one group) at arbitrary fold changes.
- Wald standard errors. R computes them from means clamped at ``minmu`` = 0.5 (as in
  the IRLS weights) with ridge 1e-6 on the log2 scale; pydeseq2 uses unclamped means,
  which inflates the SE of genes with near-zero groups.
- Cook's distances. After outlier replacement R records the maximum Cook's distance of
  every gene without the replaceable samples (none at all when every sample is
  replaceable), and the "three counts above the outlier" exemption applies only to a
  design with one two-level factor. pydeseq2 does both differently.
- Independent filtering. R smooths the number of rejections with ``stats::lowess``
  (f = 1/5, three robustness steps, ``delta`` = 1% of the range); pydeseq2's lowess
  uses another span and one fewer iteration, which can move the filter threshold.
- Contrasts. Genes with zero counts in both compared groups get LFC 0 and p = 1
  (``contrastAllZero``); genes that become all-zero after outlier replacement too.

Every per-gene loop is replaced by array operations over all genes at once (batched
p x p solves), so one core does in seconds what pydeseq2's process pool does in a
minute. Arithmetic and stopping rules follow R step by step, so results agree with
R's to floating-point noise except where noted in :class:`RDeseqDataSet`.

Layout: ``_rnumerics`` (R's lowess, quantiles, trend fits, constants), ``_glm`` (IRLS,
optim fallback, Wald SEs, shrinkage), ``_dispersion`` (line search, grid, MAP),
``_inference`` (the adapter onto pydeseq2's ``Inference`` interface), ``_dds`` and ``_ds``
(the ``DeseqDataSet``/``DeseqStats`` subclasses, as pydeseq2's ``dds.py``/``ds.py``).
The engine relies on pydeseq2 0.5.4 internals (``tests/test_project.py`` checks the
version and the attributes it uses).
"""

from ._dds import RDeseqDataSet
from ._dispersion import (
    fit_disp,
    fit_disp_grid,
    genewise_dispersions,
    linear_model_mu,
    map_dispersions,
    prior_variance_small_df,
)
from ._ds import RDeseqStats, independent_filtering
from ._glm import fit_nbinom_glms, shrink_nbinom_glm, wald_se
from ._inference import VectorizedInference, quiet_pydeseq2, single_thread_blas
from ._rnumerics import (
    LARGE_BETA,
    LOG2E,
    MIN_DISP,
    RIDGE_NAT,
    n_or_more_in_cell,
    parametric_trend,
    r_lowess,
)

__all__ = [
    "LARGE_BETA",
    "LOG2E",
    "MIN_DISP",
    "RIDGE_NAT",
    "RDeseqDataSet",
    "RDeseqStats",
    "VectorizedInference",
    "fit_disp",
    "fit_disp_grid",
    "fit_nbinom_glms",
    "genewise_dispersions",
    "independent_filtering",
    "linear_model_mu",
    "map_dispersions",
    "n_or_more_in_cell",
    "parametric_trend",
    "prior_variance_small_df",
    "quiet_pydeseq2",
    "r_lowess",
    "shrink_nbinom_glm",
    "single_thread_blas",
    "wald_se",
]
