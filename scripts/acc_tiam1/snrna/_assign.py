"""Cell types of Leiden clusters from marker scores, on relative evidence.

Why relative
------------
A nucleus' score for a type is the mean z-score of the type's markers, each marker
standardised over all nuclei (:func:`acc_tiam1.snrna.marker_scores`). Standardising over
all nuclei caps the score of an abundant type: a marker expressed only in a type with a
share ``p`` of the nuclei has a z-score of at most ``sqrt((1 - p) / p)`` in that type (1.0
at ``p = 0.5``, 0.5 at ``p = 0.8``), and sparse detection lowers it further. A fixed
threshold on the score (scType's ``ncells / 4`` on summed scores, Ianevski et al. 2022;
0.5 here before) therefore drops the largest types first, and more so the shallower the
data: on a real 10x data set the largest type (400 of 1,556 cells) scored 0.28-0.49.

What is compared instead
------------------------
Per type ``T``, across the clusters of the data:

- background ``b_T``: the 25th percentile of the clusters' mean scores, the level of
  clusters that are not ``T`` as long as ``T`` fills fewer than three quarters of them;
- noise ``s_T``: the within-cluster standard deviation of the nuclei's scores, pooled
  over clusters with equal weight;
- evidence of cluster ``c``: ``(mean_c - b_T) / s_T``, how many within-cluster standard
  deviations the cluster's mean lies above the background. For an on/off marker this is
  close to ``delta / sigma`` (the difference between expressing and other nuclei over the
  nucleus-level noise) whatever the share of the type, so abundant and rare types are
  judged alike (``tests/test_annotation.py``: a type at 10% and at 80% of the nuclei
  differs six-fold in raw score and by a few percent in evidence).

This follows decoupler's ranking of marker-set scores between groups
(``rank_sources_groups``: a cluster's mean minus the rest's, over the spread of the
scores; Badia-i-Mompel et al. 2022) with two changes: the difference is not multiplied
by the square root of the cluster size (a t statistic grows with it, and large clusters
would win by size), and it is taken from the background clusters rather than from all
other nuclei (which, for a type spread over several clusters, include the type itself).

Rules, in order (the first that fails gives the cluster's ``status``):

1. ``no_match``: the best type's evidence is below ``min_evidence`` - the cluster
   matches no type of the table (a type missing from it, or nuclei without markers).
2. ``below_min_score``: only when ``min_score`` is set, the best type's mean score is
   below it (the former absolute rule, kept for old configurations).
3. ``two_classes``: a type of another ``class`` of the marker table (neuronal and glial
   classes exclude each other) that is itself the best type of some cluster (a source)
   has evidence of at least ``min_evidence`` here, and its *share* (evidence here over
   its evidence in its strongest own cluster) is at least ``1 - min_margin`` times the
   best type's share: the cluster lies between two source clusters of exclusive classes,
   as scDblFinder's ``findDoubletClusters`` looks for doublet clusters (Germain et al.
   2021). A type absent from the data, or a little cross-talk of a present one, does not
   make a cluster Unassigned.
4. ``ambiguous``: the relative margin over the runner-up, ``1 - e2 / e1``, is below
   ``min_margin`` (SingleR prunes on the difference to the next label,
   ``pruneScores(min.diff.next)``, Aran et al. 2019; Garnett requires odds of 1.5 between
   the two most likely types, ``rank_prob_ratio``, Pliner et al. 2019).
5. ``low_agreement``: fewer than ``min_fraction`` of the cluster's nuclei have the type as
   their own: their best by evidence per nucleus (same background and noise) and with at
   least ``min_evidence`` of it, other nuclei counting as unknown. Garnett extends a
   cell-level call to a cluster only when most of its cells agree, unknown cells allowed
   up to a limit (``cluster_extend``).

Otherwise the cluster is ``assigned`` the best type.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ._names import UNASSIGNED

log = logging.getLogger(__name__)

#: Quantile of the clusters' mean scores taken as a type's background level.
BACKGROUND_QUANTILE = 0.25

#: ``status`` values of the cluster table, in the order the rules are applied.
STATUSES = (
    "no_match",
    "below_min_score",
    "two_classes",
    "ambiguous",
    "low_agreement",
    "assigned",
)

#: Columns of the cluster table (index ``cluster``).
CLUSTER_COLUMNS = (
    "n_nuclei",
    "cell_type",
    "status",
    "best_type",
    "best_evidence",
    "best_score",
    "second_type",
    "second_evidence",
    "margin",
    "fraction_agree",
    "best_share",
    "other_class_type",
    "other_class_evidence",
    "other_class_share",
    "reason",
)

#: Default thresholds (``snrna.annotation`` keys).
DEFAULT_RULES = {"min_evidence": 1.0, "min_margin": 0.5, "min_fraction": 0.5, "min_score": None}


@dataclass
class Evidence:
    """Relative evidence of every type in every cluster and nucleus.

    Attributes
    ----------
    means
        Clusters x types: mean marker score of the cluster's nuclei.
    background, noise
        Per type: background level (:data:`BACKGROUND_QUANTILE` of ``means``) and
        within-cluster standard deviation of the scores (cluster variances averaged).
    clusters
        Clusters x types: ``(means - background) / noise``.
    nuclei
        Nuclei x types: ``(score - background) / noise``.
    """

    means: pd.DataFrame
    background: pd.Series
    noise: pd.Series
    clusters: pd.DataFrame
    nuclei: pd.DataFrame


def _cluster_order(labels: pd.Series) -> list[str]:
    if isinstance(labels.dtype, pd.CategoricalDtype):
        present = set(labels.astype(str))
        return [str(c) for c in labels.cat.categories if str(c) in present]
    names = sorted(set(labels.astype(str)))
    if all(n.lstrip("-").isdigit() for n in names):
        names.sort(key=int)
    return names


def marker_evidence(scores: pd.DataFrame, clusters: pd.Series) -> Evidence:
    """Per-type background, noise and evidence of every cluster and nucleus.

    Parameters
    ----------
    scores
        Nuclei x cell types, :func:`acc_tiam1.snrna.marker_scores`; types that could not
        be scored (all NaN) are left out.
    clusters
        Cluster label per nucleus (same index).

    Returns
    -------
    Evidence
        See :class:`Evidence`; a type whose score does not vary within clusters has
        evidence 0 everywhere.
    """
    valid = scores.dropna(axis=1, how="all")
    if valid.shape[1] == 0:
        raise InputError("no cell type of the marker table can be scored.", "snrna.markers")
    labels = clusters.loc[valid.index].astype(str).to_numpy()
    means = valid.groupby(labels).mean().loc[_cluster_order(clusters)]
    background = means.quantile(BACKGROUND_QUANTILE, axis=0)
    # Each cluster's variance counts once: weighting by nuclei would let an abundant
    # type's (larger) within-type variance set its noise, and its share would come back.
    noise = np.sqrt(valid.groupby(labels).var(ddof=0).mean(axis=0))
    scale = noise.where(noise > 0)
    cluster_ev = ((means - background) / scale).fillna(0.0)
    nucleus_ev = ((valid - background) / scale).fillna(0.0)
    return Evidence(means, background, noise, cluster_ev, nucleus_ev)


def _source_strength(ev: pd.DataFrame, min_evidence: float) -> pd.Series:
    """Per type, its evidence in the strongest cluster it is the best type of.

    Those clusters are the sources a doublet cluster lies between; types best nowhere
    are left out.
    """
    best = ev.idxmax(axis=1)
    own = ev.max(axis=1) >= min_evidence
    return pd.Series({t: ev.loc[own & (best == t), t].max() for t in best[own].unique()})


def _other_class(
    ev: pd.Series, best: str, classes: Mapping[str, str], strength: pd.Series, floor: float
) -> tuple[str, float, float]:
    """The type of another class with the largest share of its source strength here."""
    own = str(classes.get(best, "") or "")
    if not own:
        return "", np.nan, np.nan
    cand = [
        t
        for t, e in ev.items()
        if t in strength.index and e >= floor and str(classes.get(t, "") or "") not in ("", own)
    ]
    if not cand:
        return "", np.nan, np.nan
    shares = {t: float(ev[t] / strength[t]) for t in cand}
    top = max(shares, key=shares.get)
    return top, float(ev[top]), shares[top]


def _decide(row: dict, rules: Mapping, classes: Mapping[str, str]) -> tuple[str, str]:
    t1, t2, e1 = row["best_type"], row["second_type"], row["best_evidence"]
    if e1 < rules["min_evidence"]:
        single = " (the data have one cluster: nothing to compare with)" if row["_one"] else ""
        return "no_match", (
            f"matches no type: the best, {t1}, is {e1:.2f} SD above its background "
            f"(< {rules['min_evidence']:g}){single}"
        )
    if rules.get("min_score") is not None and row["best_score"] < rules["min_score"]:
        return "below_min_score", (
            f"{t1}'s mean score {row['best_score']:.2f} < min_score {rules['min_score']:g}"
        )
    o = row["other_class_type"]
    if o and row["other_class_share"] >= (1 - rules["min_margin"]) * row["best_share"]:
        return "two_classes", (
            f"markers of two classes: {t1} ({classes.get(t1)}) at {row['best_share']:.0%} and "
            f"{o} ({classes.get(o)}) at {row['other_class_share']:.0%} of their strength in "
            "their own clusters; doublets or a mixed cluster"
        )
    if row["margin"] < rules["min_margin"]:
        return "ambiguous", (
            f"{t1} and {t2} both match (evidence {e1:.1f} and {row['second_evidence']:.1f}, "
            f"margin {row['margin']:.2f} < {rules['min_margin']:g})"
        )
    if row["fraction_agree"] < rules["min_fraction"]:
        return "low_agreement", (
            f"only {row['fraction_agree']:.0%} of its nuclei match {t1} best "
            f"(< {rules['min_fraction']:.0%})"
        )
    return "assigned", ""


def assign_clusters(
    scores: pd.DataFrame,
    clusters: pd.Series,
    classes: Mapping[str, str] | None = None,
    *,
    min_evidence: float = 1.0,
    min_margin: float = 0.5,
    min_fraction: float = 0.5,
    min_score: float | None = None,
    evidence: Evidence | None = None,
) -> pd.DataFrame:
    """Give each cluster the type whose markers stand out in it, or :data:`UNASSIGNED`.

    Parameters
    ----------
    scores
        Nuclei x cell types (:func:`acc_tiam1.snrna.marker_scores`).
    clusters
        Cluster label per nucleus.
    classes
        ``{cell type: class}`` from the marker table; types of different non-empty
        classes are taken to exclude each other (rule ``two_classes``). None: no such rule.
    min_evidence, min_margin, min_fraction, min_score
        Thresholds of the rules in the module docstring (``min_score`` None: off).
    evidence
        :func:`marker_evidence` of the same input, if already computed.

    Returns
    -------
    pandas.DataFrame
        One row per cluster (index ``cluster``, as text), :data:`CLUSTER_COLUMNS`:
        nuclei, assigned ``cell_type``, ``status``, best type with its evidence and mean
        score, runner-up with its evidence, relative ``margin``, ``fraction_agree``, the
        best type's share of its source strength, the type of another class (present as
        a source) with the largest share here (if it has evidence), and the ``reason`` of
        an Unassigned label.
    """
    rules = {
        "min_evidence": min_evidence,
        "min_margin": min_margin,
        "min_fraction": min_fraction,
        "min_score": min_score,
    }
    classes = dict(classes or {})
    ev = evidence if evidence is not None else marker_evidence(scores, clusters)
    labels = clusters.loc[ev.nuclei.index].astype(str)
    nucleus_best = nucleus_types(ev, min_evidence)
    one = len(ev.clusters) == 1
    strength = _source_strength(ev.clusters, min_evidence)
    rows = []
    for cluster in ev.clusters.index:
        order = ev.clusters.loc[cluster].sort_values(ascending=False)
        members = labels.index[labels.to_numpy() == cluster]
        t1 = order.index[0]
        e1 = float(order.iloc[0])
        t2 = order.index[1] if len(order) > 1 else ""
        e2 = float(order.iloc[1]) if t2 else np.nan
        margin = 1.0 - max(e2, 0.0) / e1 if e1 > 0 and t2 else (1.0 if e1 > 0 else 0.0)
        other, other_ev, other_share = _other_class(order, t1, classes, strength, min_evidence)
        row = {
            "cluster": str(cluster),
            "n_nuclei": len(members),
            "best_type": t1,
            "best_evidence": e1,
            "best_score": float(ev.means.at[cluster, t1]),
            "second_type": t2,
            "second_evidence": e2,
            "margin": margin,
            "fraction_agree": float((nucleus_best.loc[members] == t1).mean()),
            "best_share": e1 / strength[t1] if t1 in strength.index else np.nan,
            "other_class_type": other,
            "other_class_evidence": other_ev,
            "other_class_share": other_share,
            "_one": one,
        }
        row["status"], row["reason"] = _decide(row, rules, classes)
        row["cell_type"] = t1 if row["status"] == "assigned" else UNASSIGNED
        rows.append(row)
    table = pd.DataFrame(rows).set_index("cluster")[list(CLUSTER_COLUMNS)]
    numeric = [c for c in CLUSTER_COLUMNS if c.endswith(("_evidence", "_score", "_share"))]
    for col in [*numeric, "margin", "fraction_agree"]:
        table[col] = table[col].astype(float).round(4)
    if one:
        log.warning("one Leiden cluster only: relative evidence needs several clusters")
    return table


def nucleus_types(evidence: Evidence, min_evidence: float = 1.0) -> pd.Series:
    """Each nucleus' own type: its best by evidence, or :data:`UNASSIGNED` below it.

    Nuclei below ``min_evidence`` are Garnett's "Unknown" cells; the share of a cluster's
    nuclei whose own type is the cluster's best is ``fraction_agree``.
    """
    best = evidence.nuclei.idxmax(axis=1)
    return best.where(evidence.nuclei.max(axis=1) >= min_evidence, UNASSIGNED)


def rules_from_config(annotation: Mapping | None) -> dict:
    """The assignment thresholds of a ``snrna.annotation`` mapping, defaults filled in."""
    annotation = dict(annotation or {})
    return {k: annotation.get(k, v) for k, v in DEFAULT_RULES.items()}


#: Columns of the annotation warnings table.
WARNING_COLUMNS = ("kind", "cell_type", "clusters", "n_nuclei", "evidence", "message")


def _n(x: int) -> str:
    return f"{int(x):,}"


def annotation_warnings(
    table: pd.DataFrame,
    evidence: Evidence,
    markers: pd.DataFrame,
    found: Mapping[str, Sequence[str]],
    min_evidence: float = 1.0,
) -> pd.DataFrame:
    """Cell types that are present but not assigned, absent, or clusters matching nothing.

    Parameters
    ----------
    table
        :func:`assign_clusters` output.
    evidence
        The :func:`marker_evidence` it was computed from.
    markers
        The marker table (its ``cell_type`` order is kept).
    found
        ``{cell type: its markers in the data}`` (:func:`acc_tiam1.snrna.marker_genes`).
    min_evidence
        The ``min_evidence`` used.

    Returns
    -------
    pandas.DataFrame
        :data:`WARNING_COLUMNS`, one row per warning. ``kind``:
        ``unassigned`` (clusters whose best type has evidence but that failed another
        rule), ``absent`` (a marker-table type no cluster is assigned to and no cluster has
        evidence for), ``not_scored`` (none of its markers is in the data) and
        ``unmatched`` (a cluster that matches no type). ``clusters`` is a comma-separated
        list.
    """
    rows = []
    assigned = set(table.loc[table["status"] == "assigned", "cell_type"].astype(str))
    failed = table[(table["status"] != "assigned") & (table["best_evidence"] >= min_evidence)]
    for t, part in failed.groupby("best_type", sort=False):
        why = "; ".join(f"cluster {c}: {r}" for c, r in part["reason"].items())
        tested = (
            f"{t} is assigned to other clusters"
            if t in assigned
            else f"no cluster is assigned {t}, so it is not tested"
        )
        rows.append(
            {
                "kind": "unassigned",
                "cell_type": t,
                "clusters": ",".join(part.index),
                "n_nuclei": int(part["n_nuclei"].sum()),
                "evidence": round(float(part["best_evidence"].max()), 4),
                "message": (
                    f"{t}: {len(part)} cluster(s) ({_n(part['n_nuclei'].sum())} nuclei) have "
                    f"{t}'s markers but are Unassigned ({why}); {tested}."
                ),
            }
        )
    flagged = set(failed["best_type"])
    for t in markers["cell_type"].astype(str):
        if t in assigned or t in flagged:
            continue
        if not found.get(t):
            rows.append(
                {
                    "kind": "not_scored",
                    "cell_type": t,
                    "clusters": "",
                    "n_nuclei": 0,
                    "evidence": np.nan,
                    "message": f"{t}: none of its markers is in the data; it cannot be found.",
                }
            )
            continue
        col = evidence.clusters[t]
        top = col.idxmax()
        there = table.at[top, "cell_type"] if top in table.index else UNASSIGNED
        where = f"cluster {top}" + (f", which is {there}" if there != UNASSIGNED else "")
        rows.append(
            {
                "kind": "absent",
                "cell_type": t,
                "clusters": "",
                "n_nuclei": 0,
                "evidence": round(float(col.max()), 4),
                "message": (
                    f"{t}: in the marker table but no cluster is {t} (highest evidence "
                    f"{col.max():.2f}, in {where}); it is not tested."
                ),
            }
        )
    for c, row in table[table["status"] == "no_match"].iterrows():
        rows.append(
            {
                "kind": "unmatched",
                "cell_type": "",
                "clusters": str(c),
                "n_nuclei": int(row["n_nuclei"]),
                "evidence": row["best_evidence"],
                "message": (
                    f"Cluster {c} ({_n(row['n_nuclei'])} nuclei) matches no type of the marker "
                    f"table (best: {row['best_type']}, evidence {row['best_evidence']:.2f}): a "
                    "type missing from the table, or nuclei without markers?"
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(WARNING_COLUMNS))


def warning_sentences(warnings: pd.DataFrame) -> list[str]:
    """The warnings as sentences for a report; several absent types make one sentence.

    Parameters
    ----------
    warnings
        :func:`annotation_warnings` output (or the TSV read back with
        :func:`read_annotation_warnings`).

    Returns
    -------
    list of str
        Unassigned types first, then absent and unscorable types, then unmatched clusters.
    """
    if warnings.empty:
        return []
    out = list(warnings.loc[warnings["kind"] == "unassigned", "message"])
    for kind, what in (
        ("absent", "match no cluster and are not tested"),
        ("not_scored", "have none of their markers in the data and cannot be found"),
    ):
        rows = warnings[warnings["kind"] == kind]
        if len(rows) == 1:
            out += list(rows["message"])
        elif len(rows):
            types = ", ".join(rows["cell_type"].astype(str))
            out.append(f"{len(rows)} cell types of the marker table {what}: {types}.")
    unmatched = warnings[warnings["kind"] == "unmatched"]
    if len(unmatched) > 3:
        out.append(
            f"{len(unmatched)} clusters ({_n(unmatched['n_nuclei'].sum())} nuclei) match no "
            f"type of the marker table: clusters {', '.join(unmatched['clusters'])}."
        )
    else:
        out += list(unmatched["message"])
    return out


def read_annotation_warnings(path) -> pd.DataFrame:
    """Read the warnings TSV written by rule ``snrna_annotate`` (text columns kept)."""
    return pd.read_csv(
        path,
        sep="\t",
        dtype={"kind": str, "cell_type": str, "clusters": str, "message": str},
        keep_default_na=False,
        na_values={"evidence": [""], "n_nuclei": [""]},
    )
