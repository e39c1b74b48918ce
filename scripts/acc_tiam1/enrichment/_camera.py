"""CAMERA: a competitive gene-set test that allows for correlation between genes.

Preranked GSEA and other gene-permutation tests treat the genes of a set as independent.
When the genes of a set move together from sample to sample (a shared program, an
animal's activity state, dissection time), the mean statistic of the set varies far
more than independence allows, and such tests call the set although no condition
effect exists. CAMERA (Wu & Smyth 2012, Nucleic Acids Res 40:e133) estimates the
correlation of the set's genes from the residuals of the DE model and widens the test
by the variance inflation factor (VIF) it implies.

:func:`camera` is ``limma::camera(y, index, design, contrast, inter.gene.cor = NA,
allow.neg.cor = FALSE, use.ranks = FALSE)`` (limma 3.54) on a log-expression matrix:

1. Statistic. limma's moderated t of the contrast, from a linear model of ``y`` on the
   design, converted to a z-score (:func:`acc_tiam1.enrichment.moderated_t`). A
   per-gene statistic computed elsewhere (e.g. DESeq2's Wald ``stat``) can be given
   instead, for comparison; see below why it is not the default.
2. Residual effects. With the QR decomposition of the ``n x p`` design, the last
   ``n - p`` rows of ``Q' y`` of every gene span its residual space. Each gene's
   residual effects are divided by their root mean square ``sqrt(max(sigma2, 1e-8))``.
   The VIF only depends on the residual space, so neither the choice of contrast nor
   the orthonormal basis (LINPACK in R, LAPACK here) changes it.
3. VIF of a set of ``m`` genes: ``m`` times the mean over residual dimensions of the
   squared mean standardised effect; the inter-gene correlation is
   ``(VIF - 1) / (m - 1)`` (NaN for one gene, where VIF = 1). Negative correlations
   are reported but the VIF is floored at 1 (``allow.neg.cor = FALSE``).
4. Test: with the ``G`` statistics of all genes, mean ``z``, variance ``s2`` (n - 1),
   ``delta = G / (G - m) * (mean_set - z)``, pooled variance
   ``((G - 1) s2 - delta^2 m (G - m) / G) / (G - 2)`` and
   ``t = delta / sqrt(pooled * (VIF / m + 1 / (G - m)))``, referred to a t distribution
   with ``min(n - p, G - 2)`` degrees of freedom (the estimated-correlation case). The
   two-sided p-value is twice the smaller tail; the direction is ``down`` when the
   lower tail is the smaller one, else ``up``.

Why limma's statistic and not DESeq2's. The VIF assumes that, apart from the
correlation, each gene's statistic has the null variance of the others. DESeq2's Wald
statistic divides by a standard error from a dispersion shrunk towards the trend, so a
per-sample effect shared by a set's genes (extra variance those genes have and the
others do not) leaves their statistics with a null variance above 1, which the VIF does
not see; the moderated t divides by each gene's own residual variance, moderated
towards the common one. On simulated null counts (``perf/camera_calibration.py``: 200
replicates, 2,000 null sets of 30 genes per level, ``log2(count / s + 1)`` after
filtering sparse genes), the rate of calls at 0.05 and, in brackets, the mean squared
statistic of the sets' genes relative to the other genes:

==========================  ============  ============  ============  ============
shared per-sample SD, log2  0             0.1           0.3           0.5
==========================  ============  ============  ============  ============
bulk demo shape (24 samples, ``~ sex + batch + condition``, 18 residual df)
--------------------------------------------------------------------------------
limma moderated t           0.022 (1.00)  0.050 (1.04)  0.063 (1.18)  0.053 (1.20)
DESeq2 Wald ``stat``        0.023 (1.00)  0.048 (1.06)  0.076 (1.31)  0.077 (1.43)
snRNA demo shape (12 pseudobulk samples, ``~ sex + condition``, 7 residual df)
--------------------------------------------------------------------------------
limma moderated t           0.011 (1.01)  0.045 (1.05)  0.053 (1.25)  0.059 (1.48)
DESeq2 Wald ``stat``        0.010 (1.01)  0.046 (1.07)  0.066 (1.47)  0.100 (1.97)
==========================  ============  ============  ============  ============

with the same power on sets with a pain effect of 0.15 log2 in 70% of their genes
(bulk 0.686 and 0.700, snRNA 0.257 and 0.258). On random two-group splits of real
mouse bulk data (hippocampus DG and CA1, nucleus accumbens; 20 splits each, MSigDB
canonical pathways) both were below the level (0.014-0.032 at 0.05), and only DESeq2's
statistic gave sets at FDR < 0.05 (in 2 of the 60 splits). The moderated t does not
remove the excess entirely: the prior weighs ``d0 / (d + d0)`` in each variance (d0 ~ 5
in these simulations, ~ 2 on the real data), and where all other genes have the same
variance (d0 large) a set with a strong shared effect is called at ~0.11
(``tests/test_camera.py``); a per-gene t with the gene's own variance, given as
``statistic``, holds the level in all these simulations (0.03-0.05).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError
from ..stats import bh_adjust
from ._moderated import moderated_t

#: Columns of a CAMERA result table, in order.
CAMERA_COLUMNS = [
    "term",
    "n_genes",
    "correlation",
    "vif",
    "direction",
    "t",
    "df",
    "pvalue",
    "FDR",
    "statistic",
    "tested",
    "note",
]
#: limma's floor on a gene's residual variance before standardising.
MIN_SIGMA2 = 1e-8
#: ``statistic`` column when camera computes limma's moderated t itself.
MODERATED_T = "limma_moderated_t"


def camera(
    expression: pd.DataFrame,
    design: np.ndarray | pd.DataFrame,
    sets: Mapping[str, Sequence[str]],
    contrast: int | str | Sequence[float] | None = None,
    statistic: pd.Series | None = None,
    min_size: int = 2,
    max_size: int | None = None,
    allow_neg_cor: bool = False,
    inter_gene_cor: float | None = None,
) -> pd.DataFrame:
    """Competitive test of each gene set with the inter-gene correlation estimated.

    Parameters
    ----------
    expression
        Log-scale expression, genes x samples, unique gene labels (see
        :func:`log_expression`). Without ``statistic``, every row is in the universe
        the sets are compared with.
    design
        Design matrix of the DE model, samples x coefficients, samples in the order of
        ``expression``'s columns (a DataFrame indexed by sample is reordered to them).
    sets
        ``{term: genes}``; genes outside the universe are ignored.
    contrast
        What is tested, when camera computes limma's moderated t (``statistic`` None):
        a column of the design (0-based position, or name for a DataFrame design) or
        one weight per column (e.g. ``[0, 0, 0, -1, 1, 0]`` for the difference of two
        coefficients). Required then: limma's default (the last column) is not
        assumed.
    statistic
        A per-gene z-like statistic computed elsewhere (e.g. DESeq2's Wald ``stat``),
        indexed by unique gene labels, instead of limma's moderated t; its genes are
        then the universe and ``expression`` needs a row for each (extra rows are
        ignored). For comparison: see the module docstring for why it is not the
        default.
    min_size, max_size
        Sets with fewer (more) genes in the universe are not tested (NaN p-value).
    allow_neg_cor
        Let a negative mean correlation shrink the variance (limma's
        ``allow.neg.cor``); off by default, as in limma.
    inter_gene_cor
        None (default): estimate each set's correlation from the residuals. A number:
        use it for every set instead, with ``G - 2`` degrees of freedom, as limma's
        ``camera(inter.gene.cor = r)``; ``0`` is the test that assumes independent
        genes.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CAMERA_COLUMNS`, one row per set in input order. ``correlation``
        is the estimated mean inter-gene correlation (before the floor), ``vif`` the
        variance inflation factor used, ``FDR`` the Benjamini-Hochberg adjustment over
        the tested sets of this call, ``statistic`` the per-gene statistic tested
        (:data:`MODERATED_T`, or the name of the given one).

    Raises
    ------
    InputError
        For missing or non-finite values, genes without expression, a design that
        does not match the samples or is not of full rank, no residual degrees of
        freedom, fewer than three genes, or a missing or unknown contrast.
    """
    x, columns = _design_for(design, expression.columns)
    n, p = x.shape
    if statistic is None:
        weights = _contrast_weights(contrast, columns, p)
        y = _expression_for(expression, None)
        genes = y.shape[0]
        if genes < 3:
            raise InputError(f"CAMERA needs at least 3 genes; {genes} given.")
        fit = moderated_t(y, x, weights)
        values, position, label = fit["z"], pd.Index(expression.index), MODERATED_T
        effects = fit["residual_effects"]
    else:
        if contrast is not None:
            raise InputError(
                "give either a contrast (camera computes limma's moderated t) or a "
                "statistic, not both."
            )
        stat = _check_statistic(statistic)
        genes = len(stat)
        if genes < 3:
            raise InputError(f"CAMERA needs at least 3 genes; {genes} given.")
        y = _expression_for(expression, stat.index)
        values, position = stat.to_numpy(dtype=float), pd.Index(stat.index)
        label = str(statistic.name) if statistic.name is not None else "given"
        effects = None
    if inter_gene_cor is None:
        u = standardised_residuals(y, x, effects)
        df = float(min(n - p, genes - 2))
    else:
        if not -1 < inter_gene_cor < 1:
            raise InputError(f"inter_gene_cor must lie in (-1, 1); got {inter_gene_cor}.")
        u, df = float(inter_gene_cor), float(genes - 2)
    rows = []
    for term, members in sets.items():
        if isinstance(members, str):
            raise InputError(f"gene set '{term}' is a string, not a list of genes.")
        idx = np.flatnonzero(position.isin(list(members)))
        rows.append(_test_set(term, idx, values, u, df, min_size, max_size, allow_neg_cor))
    table = pd.DataFrame(rows, columns=CAMERA_COLUMNS)
    table["FDR"] = bh_adjust(table["pvalue"].to_numpy(dtype=float))
    table["statistic"] = label
    return table


def log_expression(counts: pd.DataFrame, size_factors, pseudocount: float = 1.0) -> pd.DataFrame:
    """Log-scale expression for CAMERA: ``log2(count / s + c)``.

    Why this scale. CAMERA fits its linear model (limma's moderated t, and the
    residuals whose correlation it estimates) to log-expression. Dividing by the DE
    fit's size factors keeps library size out of the residuals, where it would act as
    an effect shared by every gene and inflate the correlation of every set. Because
    :func:`camera` standardises each gene's residuals, per-gene offsets and scales do
    not matter for the correlation; the transforms differ in how they treat low
    counts. Measured on null data (3,000 genes, 24 samples, ``~ sex + batch +
    condition``, negative binomial counts with DESeq2's mean-dispersion trend, sets of
    30 genes sharing a per-sample effect of SD 0 to 0.5 log2, 150 replicates):
    ``log2(count / s + c)`` for c = 0.5, 1, 2, 4 and DESeq2's VST with the design gave
    the same mean VIF within 1% for genes of mean count 30 and more and within 4% for
    mean 5 to 30 (VST and larger c slightly higher, i.e. closer to the truth). The
    shifted log needs no dispersion fit and is DESeq2's ``normTransform``; c = 1 is its
    default. Genes with a mean below ~5 counts were not assessed: filter sparse genes
    first, as for the DE fit.

    Parameters
    ----------
    counts
        Raw counts, genes x samples.
    size_factors
        One positive factor per sample (a Series indexed by sample is aligned to the
        columns), as estimated by the DE fit.
    pseudocount
        ``c``, added to the normalised counts before the log.

    Returns
    -------
    pandas.DataFrame
        Genes x samples, log2 scale.
    """
    if isinstance(size_factors, pd.Series):
        missing = counts.columns.difference(size_factors.index)
        if len(missing):
            raise InputError(f"no size factor for sample(s) {missing[:5].tolist()}.")
        size_factors = size_factors.loc[counts.columns]
    sf = np.asarray(size_factors, dtype=float)
    if sf.shape != (counts.shape[1],) or not (np.isfinite(sf) & (sf > 0)).all():
        raise InputError(
            f"need one positive size factor per sample ({counts.shape[1]}); "
            f"got {sf.shape[0] if sf.ndim else 'a scalar'}."
        )
    if not pseudocount > 0:
        raise InputError(f"the pseudo-count must be positive; got {pseudocount}.")
    y = counts.to_numpy(dtype=float)
    if not np.isfinite(y).all() or (y < 0).any():
        raise InputError("counts must be finite and non-negative.")
    return pd.DataFrame(np.log2(y / sf + pseudocount), index=counts.index, columns=counts.columns)


def de_inputs(
    table: pd.DataFrame, expression: pd.DataFrame, column: str = "stat"
) -> tuple[pd.Series, pd.DataFrame]:
    """Universe and expression rows for :func:`camera` from a DE table, by gene symbol.

    Genes without a statistic (DESeq2 leaves ``stat`` empty for all-zero genes) are
    left out of the universe. A symbol on several rows keeps the row with the largest
    absolute statistic, as the GSEA ranking does (``enrichment.ranking_from_de``). With
    camera's own statistic (the default), pass the expression rows only:
    ``camera(rows, design, sets, contrast=...)`` tests the genes of the DE table; pass
    the statistic too (``statistic=stat``) to test the DE table's own statistic.

    Parameters
    ----------
    table
        DE table with columns ``gene_id``, ``gene`` and ``column``.
    expression
        Log-scale expression indexed by gene id (:func:`log_expression`).
    column
        The per-gene statistic, DESeq2's Wald ``stat`` by default.

    Returns
    -------
    statistic, expression
        Both indexed by gene symbol, same genes in the same order.
    """
    missing = {"gene_id", "gene", column} - set(table.columns)
    if missing:
        raise InputError(f"DE table lacks column(s) {', '.join(sorted(missing))}.")
    values = pd.to_numeric(table[column], errors="coerce")
    keep = np.isfinite(values) & table["gene"].notna()
    frame = pd.DataFrame(
        {
            "gene_id": table.loc[keep, "gene_id"].astype(str),
            "gene": table.loc[keep, "gene"].astype(str),
            "value": values[keep],
            "abs": values[keep].abs(),
        }
    )
    frame = frame.sort_values(["abs", "gene_id"], ascending=[False, True], kind="mergesort")
    frame = frame.drop_duplicates("gene", keep="first")
    absent = pd.Index(frame["gene_id"]).difference(expression.index.astype(str))
    if len(absent):
        raise InputError(
            f"{len(absent)} genes of the DE table have no expression row "
            f"(e.g. {absent[:5].tolist()})."
        )
    rows = expression.set_axis(expression.index.astype(str)).loc[frame["gene_id"]]
    rows.index = pd.Index(frame["gene"].to_numpy(), name="gene")
    stat = pd.Series(frame["value"].to_numpy(), index=rows.index, name=column)
    return stat, rows


def standardised_residuals(
    y: np.ndarray, design: np.ndarray, effects: np.ndarray | None = None
) -> np.ndarray:
    """Residual effects of every gene, divided by their root mean square.

    Parameters
    ----------
    y
        Genes x samples.
    design
        Samples x coefficients, full column rank.
    effects
        The residual effects ``Q2' y`` if already computed (genes x (samples -
        coefficients)); computed from ``y`` and ``design`` when None.

    Returns
    -------
    numpy.ndarray
        Genes x (samples - coefficients): ``Q2' y_g / sqrt(max(mean((Q2' y_g)^2),
        1e-8))`` with ``Q2`` an orthonormal basis of the residual space.
    """
    if effects is None:
        p = design.shape[1]
        q, _ = np.linalg.qr(design, mode="complete")
        effects = y @ q[:, p:]
    sigma2 = np.mean(effects**2, axis=1)
    return effects / np.sqrt(np.maximum(sigma2, MIN_SIGMA2))[:, None]


def set_vif(u: np.ndarray) -> tuple[float, float]:
    """Variance inflation factor and mean correlation of a set, from its residuals.

    Parameters
    ----------
    u
        The set's rows of :func:`standardised_residuals`.

    Returns
    -------
    vif, correlation
        ``m * mean(colmeans(u)^2)`` and ``(vif - 1) / (m - 1)``; ``(1, NaN)`` for one gene.
    """
    m = u.shape[0]
    if m < 2:
        return 1.0, float("nan")
    vif = m * float(np.mean(np.mean(u, axis=0) ** 2))
    return vif, (vif - 1.0) / (m - 1.0)


def two_sample_t(values: np.ndarray, idx: np.ndarray, vif: float) -> float:
    """CAMERA's pooled-variance t of the set's statistics against all others.

    Parameters
    ----------
    values
        Statistic of every gene of the universe.
    idx
        Positions of the set's genes in ``values``.
    vif
        Variance inflation factor of the set's mean.
    """
    g = values.size
    m = idx.size
    m2 = g - m
    delta = g / m2 * (values[idx].mean() - values.mean())
    pooled = ((g - 1) * values.var(ddof=1) - delta**2 * m * m2 / g) / (g - 2)
    return float(delta / np.sqrt(pooled * (vif / m + 1.0 / m2)))


def _test_set(term, idx, values, u, df, min_size, max_size, allow_neg_cor) -> dict:
    # u: standardised residuals of every gene, or a fixed correlation (a float).
    m = idx.size
    row = {
        "term": term,
        "n_genes": m,
        "correlation": np.nan,
        "vif": np.nan,
        "direction": "",
        "t": np.nan,
        "df": df,
        "pvalue": np.nan,
        "tested": False,
        "note": "",
    }
    if m < max(min_size, 1):
        row["note"] = f"{m} genes in the universe (min_size {min_size}); not tested"
        return row
    if max_size is not None and m > max_size:
        row["note"] = f"{m} genes in the universe, above max_size {max_size}; not tested"
        return row
    if m >= values.size:
        row["note"] = "holds every gene of the universe; not tested"
        return row
    if isinstance(u, float):  # a fixed correlation
        vif, correlation = 1.0 + (m - 1) * u, u
    else:
        vif, correlation = set_vif(u[idx])
    if not allow_neg_cor:
        vif = max(1.0, vif)
    t = two_sample_t(values, idx, vif)
    down, up = stats.t.cdf(t, df), stats.t.sf(t, df)
    row.update(
        correlation=correlation,
        vif=vif,
        t=t,
        pvalue=2.0 * min(down, up),
        direction="down" if down < up else "up",
        tested=True,
    )
    return row


def _check_statistic(statistic: pd.Series) -> pd.Series:
    stat = pd.Series(statistic)
    if stat.index.has_duplicates:
        dup = stat.index[stat.index.duplicated()].unique()[:5].tolist()
        raise InputError(f"the per-gene statistic has duplicated gene labels: {dup}.")
    values = pd.to_numeric(stat, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"the per-gene statistic is missing or not finite for {int(bad.sum())} genes "
            f"(e.g. {stat.index[bad][:5].tolist()}); drop them first (see de_inputs)."
        )
    return pd.Series(values, index=stat.index)


def _expression_for(expression: pd.DataFrame, genes: pd.Index | None) -> np.ndarray:
    if expression.index.has_duplicates:
        dup = expression.index[expression.index.duplicated()].unique()[:5].tolist()
        raise InputError(f"the expression matrix has duplicated gene labels: {dup}.")
    if genes is not None:
        missing = genes.difference(expression.index)
        if len(missing):
            raise InputError(
                f"{len(missing)} genes of the statistic have no expression row "
                f"(e.g. {missing[:5].tolist()})."
            )
        expression = expression.loc[genes]
    y = expression.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise InputError(
            "the expression matrix has missing or infinite values; use a "
            "log scale with a pseudo-count (log_expression)."
        )
    return y


def _design_for(design, samples: pd.Index) -> tuple[np.ndarray, list | None]:
    columns = None
    if isinstance(design, pd.DataFrame):
        columns = list(design.columns)
        if set(design.index) == set(samples):
            design = design.loc[samples]
        elif len(design) != len(samples) or not isinstance(design.index, pd.RangeIndex):
            raise InputError(
                "the design's rows are not the expression's samples "
                f"({list(design.index[:3])}... vs {list(samples[:3])}...)."
            )
    x = np.asarray(design, dtype=float)
    if x.ndim != 2 or x.shape[0] != len(samples):
        raise InputError(
            f"the design has shape {x.shape}; expected {len(samples)} rows, one per sample."
        )
    n, p = x.shape
    if n - p < 1:
        raise InputError(
            f"the design has {p} coefficients for {n} samples: no residual degrees of freedom."
        )
    if np.linalg.matrix_rank(x) < p:
        raise InputError("the design matrix is not of full rank.")
    return x, columns


def _contrast_weights(contrast, columns: list | None, p: int) -> np.ndarray:
    # One coefficient (position or name) becomes a unit vector; the t statistic of
    # c' beta does not depend on how the other coefficients are parametrised.
    if contrast is None:
        raise InputError(
            "camera needs the contrast to compute limma's moderated t: a design column "
            "(position or name) or one weight per column."
        )
    if isinstance(contrast, str):
        if columns is None or contrast not in columns:
            raise InputError(f"contrast {contrast!r} is not a column of the design {columns}.")
        contrast = columns.index(contrast)
    if isinstance(contrast, int | np.integer):
        if not -p <= contrast < p:
            raise InputError(f"contrast column {contrast} is outside the design's {p} columns.")
        weights = np.zeros(p)
        weights[contrast] = 1.0
        return weights
    weights = np.asarray(contrast, dtype=float)
    if weights.shape != (p,) or not np.isfinite(weights).all() or not weights.any():
        raise InputError(
            f"the contrast needs {p} finite weights, not all zero; got {np.shape(contrast)}."
        )
    return weights
