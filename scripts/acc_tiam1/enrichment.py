"""Gene-set enrichment of DE tables: GSEA prerank (vectorised) and over-representation.

GSEA here is gseapy's prerank algorithm (gseapy 1.3, ``method="permutation"``),
re-implemented with numpy so that thousands of gene sets take seconds, not minutes:

- genes are ranked by the DESeq2 Wald ``stat``, descending; weights ``|stat| ** p``
  (``p = 1``: the weighted Kolmogorov-Smirnov running sum of Subramanian et al. 2005);
- the enrichment score (ES) is the running-sum value of largest absolute value, read at
  the hits (the walk only turns there), exactly as gseapy's ``fast_random_walk``;
- the null is gseapy's gene-set permutation: ``permutations`` random orderings of all
  genes, shared by every gene set; in ordering ``j`` a set's hits sit where its genes
  were shuffled to. The orderings depend only on the seed and the number of genes, so
  adding a gene-set file never changes the results of another file's sets;
- NES, nominal p-value, FDR q-value and FWER p-value follow gseapy (and GSEA's R code):
  ES divided by the mean of the same-sign null ES; p the fraction of same-sign null ES
  at least as extreme; FDR from the null NES of *all* sets of the same source file,
  pooled (gseapy groups ``library__term`` names the same way); no monotone adjustment.

Only the random numbers differ from gseapy (numpy's generator instead of Rust's
SmallRng), so NES agree within Monte-Carlo error; :func:`gsea_statistics` reproduces
gseapy's numbers exactly when given gseapy's own null scores (tested).

Over-representation (:func:`ora`) calls :func:`gseapy.enrich` offline with the tested
genes as background.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .io import read_gmt

#: Columns of every GSEA result table, in order. The first eight are the interface
#: other rules rely on; the rest are extras.
GSEA_COLUMNS = [
    "term",
    "source",
    "NES",
    "pvalue",
    "FDR",
    "set_size",
    "genes_found",
    "leading_edge",
    "ES",
    "fwer_pvalue",
    "leading_edge_size",
    "tested",
    "note",
]
#: Columns of every over-representation table, in order.
ORA_COLUMNS = [
    "direction",
    "term",
    "source",
    "set_size",
    "set_in_background",
    "query_size",
    "background_size",
    "overlap",
    "pvalue",
    "FDR",
    "odds_ratio",
    "genes",
    "note",
]
#: Null scores are drawn in blocks of this many permutations, so memory stays bounded
#: and results do not depend on anything but the seed and the permutation number.
PERMUTATION_BLOCK = 1000


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


def ranking_from_de(table: pd.DataFrame, column: str = "stat", where: str = "") -> pd.Series:
    """Genes ranked by a DE statistic, highest first: the input of GSEA.

    Genes without a value (DESeq2 leaves ``stat`` empty for all-zero genes) are dropped.
    A symbol that occurs on several rows (two gene ids, one symbol) keeps the row with
    the largest absolute value. Ties are broken by symbol, so the order is reproducible.

    Parameters
    ----------
    table
        A DE table with columns ``gene`` and ``column``.
    column
        The ranking statistic; the DESeq2 Wald ``stat`` by default.
    where
        File name for error messages.

    Returns
    -------
    pandas.Series
        Values indexed by gene symbol, sorted descending.
    """
    missing = {"gene", column} - set(table.columns)
    if missing:
        raise InputError(
            f"DE table lacks column(s) {', '.join(sorted(missing))}; expected the columns "
            "of acc_tiam1.de.DE_COLUMNS.",
            where or None,
        )
    values = pd.to_numeric(table[column], errors="coerce")
    keep = values.notna() & np.isfinite(values) & table["gene"].notna()
    frame = pd.DataFrame({"gene": table.loc[keep, "gene"].astype(str), "value": values[keep]})
    frame["abs"] = frame["value"].abs()
    frame = frame.sort_values(["abs", "gene"], ascending=[False, True], kind="mergesort")
    frame = frame.drop_duplicates("gene", keep="first")
    if len(frame) < 2:
        raise InputError(f"fewer than two genes have a '{column}' value.", where or None)
    order = np.lexsort((frame["gene"].to_numpy(), -frame["value"].to_numpy()))
    frame = frame.iloc[order]
    return pd.Series(frame["value"].to_numpy(), index=pd.Index(frame["gene"], name="gene"),
                     name=column)


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
    return pd.DataFrame(rows, columns=["term", "source", "set_size", "genes_found", "tested",
                                       "note"]), hits


def permutation_blocks(n_genes: int, permutations: int, seed: int):
    """Random orderings of ``n_genes`` genes, in blocks of :data:`PERMUTATION_BLOCK`.

    Yields
    ------
    numpy.ndarray
        ``(block, n_genes)`` int32 matrix; row ``j`` gives the rank each gene moves to in
        ordering ``j`` (each row a uniformly random permutation of ``0..n_genes-1``).
    """
    rng = np.random.default_rng(seed)
    base = np.arange(n_genes, dtype=np.int32)
    done = 0
    while done < permutations:
        size = min(PERMUTATION_BLOCK, permutations - done)
        yield rng.permuted(np.broadcast_to(base, (size, n_genes)), axis=1)
        done += size


def enrichment_scores(positions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Enrichment scores of gene sets given the ranks of their genes.

    The running sum rises by ``w_i / sum(w_hits)`` at each hit and falls by
    ``1 / (N - k)`` at each miss; the ES is its value of largest absolute value (the first
    one on ties), which is always reached just before or at a hit.

    Parameters
    ----------
    positions
        ``(m, k)`` ranks of the ``k`` genes of ``m`` sets (or of one set under ``m``
        permutations), each row sorted ascending.
    weights
        ``(N,)`` gene weights ``|metric| ** p`` in rank order.

    Returns
    -------
    numpy.ndarray
        ``(m,)`` enrichment scores.
    """
    m, k = positions.shape
    n = weights.shape[0]
    w = weights[positions]
    total = w.sum(axis=1, keepdims=True)
    zero = total[:, 0] == 0
    if zero.any():
        # All hit weights zero: the walk steps up evenly (as fgsea/gseapy's calcGseaStat).
        w[zero] = 1.0
        total[zero] = k
    step = w / total
    tops = np.cumsum(step, axis=1)
    tops -= (positions - np.arange(k)) / (n - k)
    bottoms = tops - step
    walk = np.empty((m, 2 * k))
    walk[:, 0::2] = bottoms
    walk[:, 1::2] = tops
    best = np.abs(walk).argmax(axis=1)
    return walk[np.arange(m), best]


def running_sum(ranking: pd.Series, genes: Iterable[str], weight: float = 1.0):
    """The full running-sum curve of one set, for enrichment plots.

    Returns
    -------
    curve
        ``(N,)`` running sum at every rank.
    hits
        Sorted ranks of the set's genes.
    es
        The enrichment score (same definition as :func:`enrichment_scores`).
    """
    members = set(genes)
    tag = np.fromiter((g in members for g in ranking.index), dtype=bool, count=len(ranking))
    hits = np.flatnonzero(tag)
    if len(hits) == 0 or len(hits) == len(ranking):
        raise ValueError("running_sum needs a set with some, not all, of the ranked genes")
    w = np.abs(ranking.to_numpy(dtype=float)) ** weight
    hit_w = np.where(tag, w, 0.0)
    total = hit_w.sum()
    if total == 0:
        hit_w = tag.astype(float)
        total = hit_w.sum()
    steps = hit_w / total - (~tag) / (len(ranking) - len(hits))
    curve = np.cumsum(steps)
    es = float(enrichment_scores(hits[None, :], w)[0])
    return curve, hits, es


def gsea_statistics(
    es: np.ndarray, esnull: np.ndarray, groups: Sequence[str] | None = None
) -> pd.DataFrame:
    """NES, nominal p-value, FDR q-value and FWER p-value from observed and null ES.

    A transcription of gseapy 1.3's ``GSEASummary.normalize/pval`` and
    ``GSEAResult.fdr/fwer_pval`` (Rust), themselves from GSEA's R implementation.

    Parameters
    ----------
    es
        ``(S,)`` observed enrichment scores.
    esnull
        ``(S, P)`` null enrichment scores; row ``i`` belongs to set ``i``, column ``j``
        to permutation ``j`` (the same ordering for every set).
    groups
        Group (source file) of each set; FDR and FWER pool the null of one group.

    Returns
    -------
    pandas.DataFrame
        Columns ``NES``, ``pvalue``, ``FDR``, ``fwer_pvalue``; one row per set.
    """
    es = np.asarray(es, dtype=float)
    esnull = np.asarray(esnull, dtype=float)
    n_sets = len(es)
    if groups is None:
        groups = [""] * n_sets
    groups = np.asarray(groups, dtype=object)
    pos = esnull >= 0
    neg = ~pos
    n_pos = pos.sum(axis=1)
    n_neg = neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos_mean = np.where(n_pos > 0, np.where(pos, esnull, 0).sum(axis=1) / n_pos, es)
        neg_mean = np.where(n_neg > 0, np.where(neg, esnull, 0).sum(axis=1) / n_neg, es)
        nes = np.where(es >= 0, es / pos_mean, es / np.abs(neg_mean))
        nesnull = np.where(pos, esnull / pos_mean[:, None], esnull / np.abs(neg_mean)[:, None])
        up = es >= 0
        nomi = np.where(up, (esnull >= es[:, None]).sum(axis=1),
                        (esnull <= es[:, None]).sum(axis=1))
        deno = np.where(up, n_pos, n_neg)
        pval = np.where(deno > 0, nomi / np.maximum(deno, 1), 1.0)
    fdr = np.full(n_sets, np.nan)
    fwer = np.full(n_sets, np.nan)
    for group in pd.unique(groups):
        members = np.flatnonzero(groups == group)
        fdr[members] = _fdr(nes[members], nesnull[members].ravel())
        fwer[members] = _fwer(nes[members], nesnull[members])
    return pd.DataFrame({"NES": nes, "pvalue": pval, "FDR": fdr, "fwer_pvalue": fwer})


def _fdr(nes: np.ndarray, nesnull: np.ndarray) -> np.ndarray:
    null = np.sort(nesnull)
    obs = np.sort(nes)
    null_neg = np.searchsorted(null, 0.0, side="left")  # count < 0
    obs_neg = np.searchsorted(obs, 0.0, side="left")
    out = np.empty(len(nes))
    for i, e in enumerate(nes):
        if e < 0:
            nes_higher = np.searchsorted(obs, e, side="right")  # count <= e
            all_higher = np.searchsorted(null, e, side="right")
            all_pos, nes_pos = null_neg, obs_neg
        else:
            nes_higher = len(obs) - np.searchsorted(obs, e, side="left")  # count >= e
            all_higher = len(null) - np.searchsorted(null, e, side="left")
            all_pos, nes_pos = len(null) - null_neg, len(obs) - obs_neg
        phi_norm = all_higher / all_pos if all_pos > 0 else 0.0
        phi_obs = nes_higher / nes_pos if nes_pos > 0 else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = min(np.float64(phi_norm) / np.float64(phi_obs), 1.0)
    return out


def _fwer(nes: np.ndarray, nesnull: np.ndarray) -> np.ndarray:
    # Per permutation: the largest non-negative and the smallest negative null NES.
    max_pos = np.where(nesnull >= 0, nesnull, 0.0).max(axis=0)
    min_neg = np.where(nesnull < 0, nesnull, 0.0).min(axis=0)
    n_neg = (min_neg < 0).sum()
    out = np.empty(len(nes))
    for i, e in enumerate(nes):
        if e < 0:
            out[i] = (min_neg < e).sum() / n_neg if n_neg else np.nan
        else:
            out[i] = (max_pos >= e).sum() / len(max_pos) if len(max_pos) else np.nan
    return out


def leading_edge(hits: np.ndarray, weights: np.ndarray, es: float) -> np.ndarray:
    """Ranks of the leading-edge genes, in gseapy's order.

    For ES >= 0, the hits up to the running-sum maximum (top of the list first); for
    ES < 0, the hits from the running-sum minimum to the end, bottom of the list first.
    """
    n = weights.shape[0]
    k = len(hits)
    w = weights[hits].astype(float)
    total = w.sum()
    if total == 0:
        w, total = np.ones(k), float(k)
    step = w / total
    tops = np.cumsum(step) - (hits - np.arange(k)) / (n - k)
    if es >= 0:
        return hits[: int(np.argmax(tops)) + 1]
    bottoms = tops - step
    return hits[int(np.argmin(bottoms)):][::-1]


def prerank(
    ranking: pd.Series,
    sets: Sequence[GeneSet],
    min_size: int = 15,
    max_size: int = 500,
    permutations: int = 1000,
    seed: int = 123,
    weight: float = 1.0,
) -> pd.DataFrame:
    """GSEA prerank of one ranking against many gene sets (gseapy's algorithm, vectorised).

    Parameters
    ----------
    ranking
        Values indexed by unique gene symbol, sorted descending (:func:`ranking_from_de`).
    sets
        Gene sets (:func:`read_genesets`).
    min_size, max_size
        Limits on the genes of a set found in the ranking.
    permutations
        Gene-set permutations of the null.
    seed
        Seed of the permutations.
    weight
        Exponent ``p`` of the running-sum weights ``|value| ** p`` (1 = standard GSEA).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GSEA_COLUMNS`; tested sets first, by p-value then |NES|, then the
        untested sets with a ``note`` saying why. ``pvalue`` and ``FDR`` of 0 mean below
        ``1 / permutations``.
    """
    if permutations < 1:
        raise InputError("enrichment.permutations must be at least 1.", "enrichment.permutations")
    values = ranking.to_numpy(dtype=float)
    if len(values) > 1 and np.any(np.diff(values) > 0):
        raise ValueError("ranking must be sorted descending (use ranking_from_de)")
    genes = ranking.index.astype(str)
    if genes.has_duplicates:
        raise ValueError("ranking has duplicated genes (use ranking_from_de)")
    weights = np.abs(values) ** weight
    coverage, hits = match_genesets(sets, list(genes), min_size, max_size)
    tested = np.flatnonzero(coverage["tested"].to_numpy())
    result = coverage.copy()
    for col in ("NES", "pvalue", "FDR", "ES", "fwer_pvalue"):
        result[col] = np.nan
    result["leading_edge"] = ""
    result["leading_edge_size"] = 0
    if len(tested):
        es = np.array([enrichment_scores(hits[i][None, :], weights)[0] for i in tested])
        esnull = _null_scores([hits[i] for i in tested], weights, permutations, seed)
        stats = gsea_statistics(es, esnull, coverage["source"].to_numpy()[tested])
        result.loc[tested, "ES"] = es
        for col in ("NES", "pvalue", "FDR", "fwer_pvalue"):
            result.loc[tested, col] = stats[col].to_numpy()
        edges = [leading_edge(hits[i], weights, e) for i, e in zip(tested, es, strict=True)]
        result.loc[tested, "leading_edge"] = [";".join(genes[e]) for e in edges]
        result.loc[tested, "leading_edge_size"] = [len(e) for e in edges]
    result["abs_nes"] = result["NES"].abs()
    result = result.sort_values(
        ["tested", "pvalue", "abs_nes", "source", "term"],
        ascending=[False, True, False, True, True], kind="mergesort", na_position="last",
    )
    return result[GSEA_COLUMNS].reset_index(drop=True)


def _null_scores(
    hits: Sequence[np.ndarray], weights: np.ndarray, permutations: int, seed: int
) -> np.ndarray:
    """``(sets, permutations)`` null ES under shared random gene orderings."""
    n = weights.shape[0]
    out = np.empty((len(hits), permutations))
    done = 0
    for block in permutation_blocks(n, permutations, seed):
        size = block.shape[0]
        for i, idx in enumerate(hits):
            positions = np.sort(block[:, idx], axis=1)
            out[i, done:done + size] = enrichment_scores(positions, weights)
        done += size
    return out


def ora(
    table: pd.DataFrame,
    sets: Sequence[GeneSet],
    padj: float = 0.05,
    lfc_threshold: float = 0.0,
    min_size: int = 15,
    max_size: int = 500,
) -> pd.DataFrame:
    """Over-representation of up- and down-regulated genes (gseapy.enrich, offline).

    The background is every gene DESeq2 gave an adjusted p-value (the genes that could
    have been called); sets are restricted to it and tested when ``min_size <= size <=
    max_size``. P-values and odds ratios are gseapy's (hypergeometric test; odds ratio
    with Haldane-Anscombe correction); FDR is Benjamini-Hochberg per source file and
    direction over *all* tested sets (a set without overlap counts with p = 1), which is
    stricter than gseapy's adjustment over sets with overlap only.

    Parameters
    ----------
    table
        A DE table (columns ``gene``, ``log2FoldChange``, ``padj``).
    sets
        Gene sets.
    padj
        Genes with ``padj`` below it are called up or down.
    lfc_threshold
        ... and with ``|log2FoldChange|`` at least this.
    min_size, max_size
        Limits on the set size within the background.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ORA_COLUMNS`; rows with overlap, by direction and p-value. A
        direction without called genes, or with no overlap at all, gets one row with
        an empty term and a ``note``.
    """
    import gseapy

    missing = {"gene", "log2FoldChange", "padj"} - set(table.columns)
    if missing:
        raise InputError(f"DE table lacks column(s) {', '.join(sorted(missing))}.")
    t = table.dropna(subset=["padj"])
    t = t[t["gene"].notna()]
    background = list(dict.fromkeys(t["gene"].astype(str)))
    # gseapy guesses "upper-case symbols" from the data and may change case; neutral
    # tokens ("g0", "g1", ...) keep its matching exact.
    token = {g: f"g{i}" for i, g in enumerate(background)}
    symbol = {v: k for k, v in token.items()}
    bg_tokens = set(token.values())
    called = t["padj"] < padj
    big = t["log2FoldChange"].abs() >= lfc_threshold
    queries = {
        "up": list(dict.fromkeys(t.loc[called & big & (t["log2FoldChange"] > 0), "gene"])),
        "down": list(dict.fromkeys(t.loc[called & big & (t["log2FoldChange"] < 0), "gene"])),
    }
    by_source: dict[str, dict[str, list[str]]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for s in sets:
        in_bg = [token[g] for g in s.genes if g in token]
        if min_size <= len(in_bg) <= max_size:
            by_source.setdefault(s.source, {})[s.term] = in_bg
            sizes[(s.source, s.term)] = len(s.genes)
    rows = []
    criterion = f"padj < {padj:g}"
    if lfc_threshold:
        criterion += f" and |log2FC| >= {lfc_threshold:g}"
    for direction, genes in queries.items():
        base = {"direction": direction, "query_size": len(genes),
                "background_size": len(background)}
        if not genes:
            rows.append({**base, "note": f"no {direction}-regulated genes at {criterion}; "
                                         "ORA not run"})
            continue
        if not by_source:
            rows.append({**base, "note": f"no gene set has {min_size}-{max_size} genes among "
                                         "the tested genes; ORA not run"})
            continue
        found = 0
        for source, gmt in by_source.items():
            res = _gseapy_enrich(gseapy, [token[g] for g in genes], gmt, bg_tokens)
            pvals = pd.Series(1.0, index=list(gmt))
            if res is not None:
                res = res.set_index("Term")
                pvals.loc[res.index] = res["P-value"].to_numpy()
            fdr = pd.Series(bh_adjust(pvals.to_numpy()), index=pvals.index)
            if res is None:
                continue
            for term, r in res.iterrows():
                hit_genes = [symbol[x] for x in str(r["Genes"]).split(";") if x in symbol]
                rows.append({**base, "term": term, "source": source,
                             "set_size": sizes[(source, term)],
                             "set_in_background": len(gmt[term]),
                             "overlap": len(hit_genes), "pvalue": float(r["P-value"]),
                             "FDR": float(fdr[term]), "odds_ratio": float(r["Odds Ratio"]),
                             "genes": ";".join(sorted(hit_genes)), "note": ""})
                found += 1
        if not found:
            rows.append({**base, "note": f"none of the {len(genes)} {direction}-regulated "
                                         "genes is in a tested gene set"})
    out = pd.DataFrame(rows, columns=ORA_COLUMNS)
    out["_has_term"] = out["term"].notna()
    out = out.sort_values(["direction", "_has_term", "pvalue", "source", "term"],
                          ascending=[False, False, True, True, True], kind="mergesort")
    return out.drop(columns="_has_term").reset_index(drop=True)


def _gseapy_enrich(gseapy, genes: list[str], gmt: Mapping[str, list[str]], background: set):
    """Run gseapy.enrich offline; None when no set overlaps the genes."""
    enr = gseapy.enrich(gene_list=genes, gene_sets=dict(gmt), background=background,
                        outdir=None, cutoff=1.0, no_plot=True, verbose=False)
    res = getattr(enr, "res2d", None)
    if res is None or len(res) == 0:
        return None
    return res


def bh_adjust(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    q = p[ok]
    if q.size == 0:
        return out
    order = np.argsort(q)
    ranked = q[order] * q.size / np.arange(1, q.size + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adj = np.empty_like(q)
    adj[order] = np.minimum(ranked, 1.0)
    out[ok] = adj
    return out


def coverage_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Genes of each set found in each dataset, from GSEA result tables.

    Parameters
    ----------
    tables
        ``{dataset label: GSEA table}``.

    Returns
    -------
    pandas.DataFrame
        One row per set (``source, term, set_size``), one column of genes found per
        dataset, and ``tested_in`` (how many datasets tested the set).
    """
    frames = []
    tested = []
    for label, t in tables.items():
        frames.append(t.set_index(["source", "term"])["genes_found"].rename(label))
        tested.append(t.set_index(["source", "term"])["tested"].astype(bool).rename(label))
    if not frames:
        return pd.DataFrame(columns=["source", "term", "set_size", "tested_in"])
    sizes = pd.concat([t.set_index(["source", "term"])["set_size"] for t in tables.values()])
    sizes = sizes[~sizes.index.duplicated()]
    found = pd.concat(frames, axis=1)
    out = found.copy()
    out.insert(0, "set_size", sizes.reindex(found.index))
    out["tested_in"] = pd.concat(tested, axis=1).sum(axis=1)
    return out.reset_index()


def long_results(tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Mapping]) -> pd.DataFrame:
    """Stack GSEA tables into one long table with dataset columns.

    Parameters
    ----------
    tables
        ``{key: GSEA table}``.
    meta
        ``{key: {"dataset": ..., "branch": ..., "cell_type": ..., "contrast": ...}}``.
    """
    frames = []
    for key, t in tables.items():
        t = t.copy()
        for col, value in reversed(list(meta[key].items())):
            t.insert(0, col, value)
        frames.append(t)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def select_sets(
    long: pd.DataFrame, focus: Sequence[str], top: int, fdr: float
) -> list[tuple[str, str]]:
    """Gene sets to show in a summary heatmap: the focus sets, then the most significant.

    Parameters
    ----------
    long
        Long table (:func:`long_results`) of one contrast.
    focus
        Set names always shown (matched by term, in any source), in this order.
    top
        How many more sets to add: those with the smallest FDR in any dataset (only sets
        reaching ``fdr`` somewhere), ties by |NES|.
    fdr
        Significance threshold.

    Returns
    -------
    list of (source, term)
    """
    tested = long[long["tested"].astype(bool)]
    chosen: list[tuple[str, str]] = []
    for name in focus:
        for key in tested.loc[tested["term"] == name, ["source", "term"]].itertuples(index=False):
            if tuple(key) not in chosen:
                chosen.append(tuple(key))
    if top > 0 and len(tested):
        best = (tested.assign(abs_nes=tested["NES"].abs())
                .sort_values(["FDR", "abs_nes"], ascending=[True, False], kind="mergesort")
                .drop_duplicates(["source", "term"]))
        best = best[best["FDR"] < fdr]
        for key in best[["source", "term"]].itertuples(index=False):
            if len(chosen) >= len(focus) + top:
                break
            if tuple(key) not in chosen:
                chosen.append(tuple(key))
    return chosen


def log_summary(result: pd.DataFrame, fdr: float, where: str) -> None:
    """Log how many sets were tested and significant (for rule logs)."""
    tested = result["tested"].astype(bool)
    sig = tested & (result["FDR"] < fdr)
    logging.info("%s: %d of %d gene sets tested; %d up and %d down at FDR < %g", where,
                 int(tested.sum()), len(result), int((sig & (result["NES"] > 0)).sum()),
                 int((sig & (result["NES"] < 0)).sum()), fdr)


def nes_matrix(
    long: pd.DataFrame, chosen: Sequence[tuple[str, str]], datasets: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """NES and FDR of chosen sets (columns) in each dataset (rows) of one contrast.

    Untested sets are NaN. Column labels are the terms, prefixed with the source when
    a term occurs in two sources.
    """
    tested = long[long["tested"].astype(bool)].set_index(["dataset", "source", "term"])
    terms = [t for _, t in chosen]
    labels = [t if terms.count(t) == 1 else f"{s}: {t}" for s, t in chosen]
    nes = pd.DataFrame(np.nan, index=list(datasets), columns=labels)
    fdr = nes.copy()
    for ds in datasets:
        for (source, term), label in zip(chosen, labels, strict=True):
            key = (ds, source, term)
            if key in tested.index:
                nes.loc[ds, label] = tested.loc[key, "NES"]
                fdr.loc[ds, label] = tested.loc[key, "FDR"]
    return nes, fdr


def significant_focus(result: pd.DataFrame, focus: Sequence[str], fdr: float) -> pd.DataFrame:
    """Rows of a GSEA table for the focus sets that reach ``FDR < fdr``, in focus order."""
    sig = result[result["term"].isin(list(focus)) & result["tested"].astype(bool)
                 & (result["FDR"] < fdr)]
    order = {name: i for i, name in enumerate(focus)}
    return sig.iloc[np.argsort(sig["term"].map(order).to_numpy(), kind="stable")]


def bulk_vs_pseudobulk(long: pd.DataFrame, focus: Sequence[str], fdr: float) -> pd.DataFrame:
    """How pathway NES in each cell type's pseudobulk agrees with bulk, per contrast.

    Parameters
    ----------
    long
        Long GSEA table (:func:`long_results`) with dataset ``bulk`` and cell types.
    focus
        Focus set names; their NES in bulk and in the cell type are added as columns.
    fdr
        Threshold for counting sets significant in both with the same sign.

    Returns
    -------
    pandas.DataFrame
        One row per contrast and non-bulk dataset: sets tested in both, Pearson and
        Spearman correlation of NES, sets significant in both (same direction), and the
        focus sets' NES.
    """
    t = long[long["tested"].astype(bool)]
    rows = []
    for contrast, sub in t.groupby("contrast", sort=False):
        bulk = sub[sub["dataset"] == "bulk"].set_index(["source", "term"])
        for ds in pd.unique(sub["dataset"]):
            if ds == "bulk":
                continue
            cell = sub[sub["dataset"] == ds].set_index(["source", "term"])
            both = bulk[["NES", "FDR"]].join(cell[["NES", "FDR"]], how="inner",
                                             lsuffix="_bulk", rsuffix="_cell")
            agree = ((both["FDR_bulk"] < fdr) & (both["FDR_cell"] < fdr)
                     & (np.sign(both["NES_bulk"]) == np.sign(both["NES_cell"])))
            row = {
                "contrast": contrast,
                "dataset": ds,
                "sets_in_both": len(both),
                "pearson_r": both["NES_bulk"].corr(both["NES_cell"]) if len(both) > 2 else np.nan,
                "spearman_r": (both["NES_bulk"].corr(both["NES_cell"], method="spearman")
                               if len(both) > 2 else np.nan),
                "significant_bulk": int((both["FDR_bulk"] < fdr).sum()),
                "significant_cell": int((both["FDR_cell"] < fdr).sum()),
                "significant_both_same_sign": int(agree.sum()),
            }
            terms = both.index.get_level_values("term")
            for name in focus:
                m = both[terms == name]
                row[f"{name}_NES_bulk"] = m["NES_bulk"].iloc[0] if len(m) else np.nan
                row[f"{name}_NES_cell"] = m["NES_cell"].iloc[0] if len(m) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def dataset_from_path(path: str | Path, root: str) -> tuple[str, str]:
    """Dataset and file stem of a result path ``<root>/<dataset>/<stem>[.ora].tsv``.

    ``results/enrichment/snrna/L2_3_IT/pain_vs_sham.tsv`` with root
    ``results/enrichment`` gives ``("snrna/L2_3_IT", "pain_vs_sham")``.
    """
    rel = Path(path).relative_to(root)
    stem = rel.name
    for suffix in (".tsv", ".ora"):
        stem = stem.removesuffix(suffix)
    return str(rel.parent), stem


def ora_summary(tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Mapping],
                fdr: float, top: int = 5) -> pd.DataFrame:
    """Per dataset, contrast and direction: genes called, sets with FDR < fdr, top sets.

    Parameters
    ----------
    tables
        ``{key: ORA table}`` (:func:`ora`).
    meta
        ``{key: {"dataset": ..., "contrast": ...}}``.
    fdr
        Threshold.
    top
        How many of the most significant terms to name.
    """
    rows = []
    for key, t in tables.items():
        for direction in ("up", "down"):
            sub = t[t["direction"] == direction]
            hits = sub[sub["term"].notna() & (sub["FDR"] < fdr)].sort_values("pvalue")
            rows.append({
                **meta[key],
                "direction": direction,
                "genes_called": int(sub["query_size"].iloc[0]) if len(sub) else 0,
                "background": int(sub["background_size"].iloc[0]) if len(sub) else 0,
                "sets_fdr_below": len(hits),
                "top_sets": "; ".join(f"{r.term} ({r.source})"
                                      for r in hits.head(top).itertuples()),
                "note": "; ".join(n for n in sub["note"].fillna("").unique() if n),
            })
    return pd.DataFrame(rows)


def dataset_from_de_path(path: str | Path) -> tuple[str, str]:
    """Dataset and contrast of a DE table path.

    ``results/bulk/de/pain_vs_sham.tsv`` gives ``("bulk", "pain_vs_sham")``;
    ``results/snrna/de/L5_ET/pain_vs_sham.tsv`` gives ``("snrna/L5_ET", "pain_vs_sham")``.
    """
    parts = Path(path).parts
    i = len(parts) - 1 - parts[::-1].index("de")
    branch = parts[i - 1]
    inner = parts[i + 1:-1]
    dataset = "/".join([branch, *inner]) if inner else branch
    return dataset, Path(path).name.removesuffix(".tsv")


def ora_tables(
    tables: Mapping[str, pd.DataFrame],
    sets: Sequence[GeneSet],
    padj: float = 0.05,
    lfc_threshold: float = 0.0,
    min_size: int = 15,
    max_size: int = 500,
) -> pd.DataFrame:
    """:func:`ora` of several DE tables, stacked with ``dataset`` and ``contrast`` columns.

    Parameters
    ----------
    tables
        ``{(dataset, contrast): DE table}``.
    sets, padj, lfc_threshold, min_size, max_size
        As in :func:`ora`.
    """
    frames = []
    for (dataset, contrast), table in tables.items():
        out = ora(table, sets, padj=padj, lfc_threshold=lfc_threshold, min_size=min_size,
                  max_size=max_size)
        out.insert(0, "contrast", contrast)
        out.insert(0, "dataset", dataset)
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=["dataset", "contrast", *ORA_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def untested_table(sets: Sequence[GeneSet], note: str) -> pd.DataFrame:
    """A GSEA table in which no set was tested, every row carrying ``note``."""
    rows = [{"term": s.term, "source": s.source, "set_size": len(s.genes), "genes_found": 0,
             "tested": False, "note": note, "leading_edge": "", "leading_edge_size": 0}
            for s in sets]
    return pd.DataFrame(rows).reindex(columns=GSEA_COLUMNS)
