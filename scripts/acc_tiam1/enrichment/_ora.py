"""Over-representation of up and down genes (gseapy.enrich offline, tested genes as background)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ..errors import InputError
from ..stats import bh_adjust
from ._genesets import GeneSet

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
        base = {
            "direction": direction,
            "query_size": len(genes),
            "background_size": len(background),
        }
        if not genes:
            rows.append(
                {**base, "note": f"no {direction}-regulated genes at {criterion}; ORA not run"}
            )
            continue
        if not by_source:
            rows.append(
                {
                    **base,
                    "note": f"no gene set has {min_size}-{max_size} genes among "
                    "the tested genes; ORA not run",
                }
            )
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
                rows.append(
                    {
                        **base,
                        "term": term,
                        "source": source,
                        "set_size": sizes[(source, term)],
                        "set_in_background": len(gmt[term]),
                        "overlap": len(hit_genes),
                        "pvalue": float(r["P-value"]),
                        "FDR": float(fdr[term]),
                        "odds_ratio": float(r["Odds Ratio"]),
                        "genes": ";".join(sorted(hit_genes)),
                        "note": "",
                    }
                )
                found += 1
        if not found:
            rows.append(
                {
                    **base,
                    "note": f"none of the {len(genes)} {direction}-regulated "
                    "genes is in a tested gene set",
                }
            )
    out = pd.DataFrame(rows, columns=ORA_COLUMNS)
    out["_has_term"] = out["term"].notna()
    out = out.sort_values(
        ["direction", "_has_term", "pvalue", "source", "term"],
        ascending=[False, False, True, True, True],
        kind="mergesort",
    )
    return out.drop(columns="_has_term").reset_index(drop=True)


def _gseapy_enrich(gseapy, genes: list[str], gmt: Mapping[str, list[str]], background: set):
    """Run gseapy.enrich offline; None when no set overlaps the genes."""
    enr = gseapy.enrich(
        gene_list=genes,
        gene_sets=dict(gmt),
        background=background,
        outdir=None,
        cutoff=1.0,
        no_plot=True,
        verbose=False,
    )
    res = getattr(enr, "res2d", None)
    if res is None or len(res) == 0:
        return None
    return res


def ora_summary(result: pd.DataFrame, fdr: float, top: int = 5) -> pd.DataFrame:
    """Per dataset, contrast and direction: genes called, sets with FDR < fdr, top sets.

    Parameters
    ----------
    result
        ORA tables of every DE table stacked, with ``dataset`` and ``contrast`` columns
        (:func:`ora_tables`).
    fdr
        Threshold.
    top
        How many of the most significant terms to name.

    Returns
    -------
    pandas.DataFrame
        One row per dataset, contrast and direction, in the order of ``result``.
    """
    rows = []
    for (dataset, contrast), t in result.groupby(["dataset", "contrast"], sort=False):
        for direction in ("up", "down"):
            sub = t[t["direction"] == direction]
            hits = sub[sub["term"].notna() & (sub["FDR"] < fdr)].sort_values("pvalue")
            rows.append(
                {
                    "dataset": dataset,
                    "contrast": contrast,
                    "direction": direction,
                    "genes_called": int(sub["query_size"].iloc[0]) if len(sub) else 0,
                    "background": int(sub["background_size"].iloc[0]) if len(sub) else 0,
                    "sets_fdr_below": len(hits),
                    "top_sets": "; ".join(
                        f"{r.term} ({r.source})" for r in hits.head(top).itertuples()
                    ),
                    "note": "; ".join(n for n in sub["note"].fillna("").unique() if n),
                }
            )
    return pd.DataFrame(rows)


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
        out = ora(
            table,
            sets,
            padj=padj,
            lfc_threshold=lfc_threshold,
            min_size=min_size,
            max_size=max_size,
        )
        out.insert(0, "contrast", contrast)
        out.insert(0, "dataset", dataset)
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=["dataset", "contrast", *ORA_COLUMNS])
    return pd.concat(frames, ignore_index=True)
