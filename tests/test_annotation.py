"""Cluster annotation on relative marker evidence: rules, warnings, and the demo at full
depth and in a shallow copy, against the former absolute rule."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import demo, io, snrna
from conftest import REPO
from scipy import sparse
from sklearn.metrics import adjusted_rand_score

MARKERS = REPO / "config" / "markers" / "acc_markers.tsv"
GMT = REPO / "config" / "genesets" / "tiam1_rac1.gmt"

#: A small marker table: two neuronal types of one class, two glial types of another.
TABLE = pd.DataFrame(
    {
        "cell_type": ["ExcA", "ExcB", "Glia1", "Glia2"],
        "class": ["Glutamatergic", "Glutamatergic", "Non-neuronal", "Non-neuronal"],
        "markers": [
            ["a1", "a2", "a3", "a4"],
            ["b1", "b2", "b3", "b4"],
            ["g1", "g2", "g3", "g4"],
            ["h1", "h2", "h3", "h4"],
        ],
    }
)
CLASSES = dict(zip(TABLE["cell_type"], TABLE["class"], strict=True))


def old_rule(scores: pd.DataFrame, clusters: pd.Series, min_score=0.5, min_fraction=0.3):
    """The rule before relative evidence: best mean z-score >= ``min_score`` and at least
    ``min_fraction`` of the nuclei with that type as their own highest score."""
    valid = scores.dropna(axis=1, how="all")
    nucleus_best = valid.idxmax(axis=1)
    out = {}
    for cluster, idx in clusters.groupby(clusters, observed=True).groups.items():
        means = valid.loc[idx].mean(axis=0).sort_values(ascending=False)
        agree = (nucleus_best.loc[idx] == means.index[0]).mean()
        ok = means.iloc[0] >= min_score and agree >= min_fraction
        out[str(cluster)] = means.index[0] if ok else snrna.UNASSIGNED
    return pd.Series(out)


def nuclei(
    groups: dict[str, int],
    seed: int = 0,
    depth: float = 1.0,
    on: float = 3.0,
    leak: dict[str, dict[str, float]] | None = None,
):
    """Log-normalised nuclei whose groups express marker sets of :data:`TABLE`.

    ``groups`` maps a group name to its nuclei; the name lists the types it expresses,
    joined by ``+`` (a doublet group expresses both at half strength), or ``X`` for a type
    missing from the table (its own markers ``x1..x4``). Markers are Poisson with mean
    ``on * depth`` in expressing nuclei and ``0.05 * depth`` elsewhere, over 200 filler
    genes; ``leak`` sets other genes' means per group. ``obs["group"]`` is the group.
    """
    rng = np.random.default_rng(seed)
    marker_genes = [g for gs in TABLE["markers"] for g in gs] + ["x1", "x2", "x3", "x4"]
    genes = marker_genes + [f"f{i}" for i in range(200)]
    own = {t: gs for t, gs in zip(TABLE["cell_type"], TABLE["markers"], strict=True)}
    own["X"] = ["x1", "x2", "x3", "x4"]
    col = {g: i for i, g in enumerate(genes)}
    blocks, labels = [], []
    for group, n in groups.items():
        parts = group.split("+")
        mean = np.full(len(genes), 0.05)
        mean[len(marker_genes) :] = 1.0
        for t in parts:
            for g in own[t]:
                mean[col[g]] = on / len(parts)
        for g, m in (leak or {}).get(group, {}).items():
            mean[col[g]] = m
        blocks.append(rng.poisson(mean * depth, size=(n, len(genes))))
        labels += [group] * n
    x = sparse.csr_matrix(np.vstack(blocks).astype(np.int32))
    adata = ad.AnnData(
        X=x,
        obs=pd.DataFrame({"group": labels}, index=[f"n{i}" for i in range(x.shape[0])]),
        var=pd.DataFrame({"gene": genes}, index=[f"ID{i}" for i in range(len(genes))]),
    )
    snrna.normalise(adata)
    return adata


def assign(adata, **rules):
    scores = snrna.marker_scores(adata, TABLE)
    clusters = adata.obs["group"]
    evidence = snrna.marker_evidence(scores, clusters)
    table = snrna.assign_clusters(scores, clusters, CLASSES, evidence=evidence, **rules)
    found = snrna.marker_genes(TABLE, adata.var["gene"])
    warnings = snrna.annotation_warnings(table, evidence, TABLE, found)
    return scores, table, warnings


# --- rules on built data ------------------------------------------------------------


def test_abundant_type_is_assigned_where_an_absolute_score_cannot_reach():
    """80% of the nuclei are ExcA: its markers' z-scores are capped near
    sqrt(0.2 / 0.8) = 0.5, so the former rule drops the largest type; evidence does not."""
    adata = nuclei({"ExcA": 1600, "ExcB": 150, "Glia1": 150, "Glia2": 100}, depth=0.4)
    scores, table, warnings = assign(adata)
    old = old_rule(scores, adata.obs["group"])
    assert old["ExcA"] == snrna.UNASSIGNED
    assert table.loc["ExcA", "best_score"] < 0.5
    assert (table["cell_type"] == table.index).all(), table
    assert warnings.empty, warnings
    # The same data with the former floor switched back on: the type is lost again,
    # and the warning says that its markers are there.
    _, floored, warned = assign(adata, min_score=0.5)
    assert floored.loc["ExcA", "status"] == "below_min_score"
    row = warned.set_index("cell_type").loc["ExcA"]
    assert row["kind"] == "unassigned" and "not tested" in row["message"]


def test_evidence_does_not_depend_on_the_share_of_the_type():
    small = nuclei({"ExcA": 200, "ExcB": 800, "Glia1": 500, "Glia2": 500}, seed=1)
    large = nuclei({"ExcA": 1600, "ExcB": 150, "Glia1": 150, "Glia2": 100}, seed=2)
    ev = {}
    raw = {}
    for name, a in (("small", small), ("large", large)):
        scores = snrna.marker_scores(a, TABLE)
        e = snrna.marker_evidence(scores, a.obs["group"])
        ev[name] = e.clusters.at["ExcA", "ExcA"]
        raw[name] = e.means.at["ExcA", "ExcA"]
    assert raw["small"] > 2.5 * raw["large"]  # the z-score falls with the share...
    assert ev["large"] == pytest.approx(ev["small"], rel=0.15)  # ...the evidence does not


def test_cluster_of_a_type_missing_from_the_table_is_unmatched():
    adata = nuclei({"ExcA": 300, "ExcB": 300, "Glia1": 300, "X": 300})
    _, table, warnings = assign(adata)
    assert table.loc["X", "status"] == "no_match"
    assert table.loc["X", "cell_type"] == snrna.UNASSIGNED
    assert table.loc["X", "best_evidence"] < 1
    assert (table.drop(index="X")["cell_type"] == table.drop(index="X").index).all()
    kinds = warnings.set_index("kind")
    assert kinds.loc["unmatched", "clusters"] == "X"
    assert kinds.loc["absent", "cell_type"] == "Glia2"  # in the table, not in the data
    sentences = snrna.warning_sentences(warnings)
    assert any(
        s.startswith("Glia2: in the marker table but no cluster is Glia2") for s in sentences
    )
    assert any("Cluster X (300 nuclei) matches no type" in s for s in sentences)


def test_doublets_of_two_classes_and_of_one_class():
    adata = nuclei(
        {"ExcA": 400, "ExcB": 400, "Glia1": 400, "Glia2": 400, "ExcA+Glia1": 150, "ExcB+ExcA": 150}
    )
    _, table, warnings = assign(adata)
    assert table.loc["ExcA+Glia1", "status"] == "two_classes"
    assert {table.loc["ExcA+Glia1", "best_type"], table.loc["ExcA+Glia1", "other_class_type"]} == {
        "ExcA",
        "Glia1",
    }
    assert table.loc["ExcB+ExcA", "status"] == "ambiguous"
    assert table.loc["ExcB+ExcA", "margin"] < 0.5
    singles = table.loc[["ExcA", "ExcB", "Glia1", "Glia2"]]
    assert (singles["cell_type"] == singles.index).all()
    assert (singles["margin"] > 0.9).all()
    flagged = warnings[warnings["kind"] == "unassigned"]
    assert len(flagged) == 2
    assert flagged["message"].str.contains("is assigned to other clusters").all()


def test_cross_talk_of_an_absent_type_of_another_class_is_not_a_doublet():
    """Glia1 nuclei express two of ExcB's markers at a third of their level, and no ExcB
    cluster exists: ExcB has evidence in the Glia1 cluster but is no source of a doublet
    (scDblFinder's doublet clusters lie between two existing clusters)."""
    adata = nuclei(
        {"ExcA": 300, "Glia1": 300, "Glia2": 300}, leak={"Glia1": {"b1": 1.0, "b2": 1.0}}
    )
    _, table, warnings = assign(adata)
    assert table.loc["Glia1", "second_type"] == "ExcB"
    assert table.loc["Glia1", "second_evidence"] >= 1
    assert table.loc["Glia1", "other_class_type"] == ""  # ExcB is the best type nowhere
    assert (table["cell_type"] == table.index).all(), table
    row = warnings.set_index("cell_type").loc["ExcB"]
    assert row["kind"] == "absent"
    assert "which is Glia1" in row["message"]


def test_cluster_mostly_of_an_unknown_type_fails_agreement():
    """40% ExcB nuclei among 60% nuclei of a type missing from the table: ExcB's markers
    stand out in the cluster mean, but most nuclei are not ExcB."""
    adata = nuclei({"ExcA": 400, "ExcB": 400, "Glia1": 400, "Glia2": 400})
    mixed = nuclei({"ExcB": 120, "X": 180}, seed=5)
    mixed.obs["group"] = "mixed"
    mixed.obs_names = [f"m{i}" for i in range(mixed.n_obs)]
    both = ad.concat([adata, mixed])
    both.var["gene"] = adata.var["gene"].to_numpy()
    _, table, _ = assign(both)
    row = table.loc["mixed"]
    assert row["best_type"] == "ExcB" and row["best_evidence"] >= 1
    assert row["status"] == "low_agreement"
    assert row["fraction_agree"] < 0.5
    _, lenient, _ = assign(both, min_fraction=0.3)
    assert lenient.loc["mixed", "cell_type"] == "ExcB"


def test_one_cluster_cannot_be_judged_relatively():
    adata = nuclei({"ExcA": 200})
    adata.obs["group"] = "0"
    _, table, _ = assign(adata)
    assert table.loc["0", "status"] == "no_match"
    assert "one cluster" in table.loc["0", "reason"]


def test_cluster_table_columns_and_warnings_round_trip(tmp_path):
    adata = nuclei({"ExcA": 300, "ExcB": 300, "Glia1": 300, "X": 100})
    _, table, warnings = assign(adata)
    assert list(table.columns) == list(snrna.CLUSTER_COLUMNS)
    assert set(table["status"]) <= {"assigned", "no_match"}
    assert (table.loc[table["status"] == "assigned", "reason"] == "").all()
    io.write_tsv(warnings, tmp_path / "warnings.tsv", index=False)
    back = snrna.read_annotation_warnings(tmp_path / "warnings.tsv")
    assert list(back.columns) == list(snrna.WARNING_COLUMNS)
    assert snrna.warning_sentences(back) == snrna.warning_sentences(warnings)
    empty = snrna.annotation_warnings(
        table.iloc[:0], snrna.marker_evidence(*_scores_and_groups(adata)), TABLE.iloc[:0], {}
    )
    io.write_tsv(empty, tmp_path / "none.tsv", index=False)
    assert snrna.warning_sentences(snrna.read_annotation_warnings(tmp_path / "none.tsv")) == []


def _scores_and_groups(adata):
    return snrna.marker_scores(adata, TABLE), adata.obs["group"]


def test_many_absent_types_fold_into_one_sentence():
    adata = nuclei({"ExcA": 300, "Glia1": 300, "X": 50})
    table = TABLE.copy()
    extra = pd.DataFrame(
        {"cell_type": ["Z1", "Z2"], "class": ["", ""], "markers": [["z1"], ["z2"]]}
    )
    table = pd.concat([table, extra], ignore_index=True)
    scores = snrna.marker_scores(adata, table)
    evidence = snrna.marker_evidence(scores, adata.obs["group"])
    assigned = snrna.assign_clusters(scores, adata.obs["group"], CLASSES, evidence=evidence)
    found = snrna.marker_genes(table, adata.var["gene"])
    warnings = snrna.annotation_warnings(assigned, evidence, table, found)
    assert set(warnings.loc[warnings["kind"] == "not_scored", "cell_type"]) == {"Z1", "Z2"}
    assert set(warnings.loc[warnings["kind"] == "absent", "cell_type"]) == {"ExcB", "Glia2"}
    sentences = snrna.warning_sentences(warnings)
    assert "2 cell types of the marker table match no cluster and are not tested: ExcB, Glia2." in (
        sentences
    )
    assert (
        "2 cell types of the marker table have none of their markers in the data and cannot "
        "be found: Z1, Z2." in sentences
    )


# --- the demo: full depth and a shallow copy --------------------------------------------

#: The cell types of the small end-to-end study (tests/test_workflow_snrna.py).
SMALL_TYPES = ["L2/3 IT", "L5 ET", "Astro", "Oligo", "Microglia"]


def demo_nuclei(n_genes: int, umi_fraction: float, seed: int = 1):
    """Six demo mice (sham, pain, pain + ketamine; both sexes and batches), QC as in the
    workflow, every UMI kept with probability ``umi_fraction`` (a shallower library),
    then normalised, integrated and clustered as rules snrna_integrate and
    snrna_annotate do."""
    markers = io.read_markers(MARKERS)
    study = demo.build_study(
        markers, demo.demo_modules(GMT), n_genes=n_genes, seed=seed, cell_types=SMALL_TYPES
    )
    sheet = pd.DataFrame(
        {
            "condition": ["sham", "sham", "pain", "pain", "pain_ketamine", "pain_ketamine"],
            "sex": ["F", "M"] * 3,
            "batch": ["b1", "b2"] * 3,
        },
        index=[f"S{i}" for i in range(6)],
    )
    thin = np.random.default_rng([seed, 5])
    parts, truths = {}, []
    for i, (sample, row) in enumerate(sheet.iterrows()):
        adata, truth = demo.simulate_sample(study, sample, row.to_dict(), i, 500)
        if umi_fraction < 1:
            x = adata.X.tocsr().copy()
            x.data = thin.binomial(x.data.astype(np.int64), umi_fraction).astype(np.int32)
            x.eliminate_zeros()
            adata.X = x
        kept, _, _ = snrna.sample_qc(adata, sample, {"expected_doublet_rate": 0.05}, seed)
        kept.obs_names = [f"{sample}_{b}" for b in kept.obs_names]
        kept.obs["sample"] = sample
        parts[sample] = kept
        truths.append(truth.set_index(sample + "_" + truth["barcode"]))
    merged = snrna.merge_samples(parts, sheet)
    snrna.normalise(merged)
    snrna.integrate(merged, n_top_genes=1000, n_pcs=30, seed=seed)
    snrna.leiden(merged, 1.0, seed)
    scores = snrna.marker_scores(merged, markers)
    truth = pd.concat(truths).loc[merged.obs_names]
    return scores, merged.obs["leiden"], truth, markers


def ari(labels: pd.Series, truth: pd.DataFrame) -> float:
    single = ~truth["doublet"].to_numpy()
    return adjusted_rand_score(truth["cell_type"][single], labels.astype(str)[single])


@pytest.fixture(scope="module")
def demo_depths():
    return {
        "full": demo_nuclei(n_genes=2000, umi_fraction=1.0),
        "shallow": demo_nuclei(n_genes=1000, umi_fraction=0.1),
    }


def test_demo_full_depth_keeps_its_annotation(demo_depths):
    scores, clusters, truth, markers = demo_depths["full"]
    classes = dict(zip(markers["cell_type"], markers["class"], strict=True))
    table = snrna.assign_clusters(scores, clusters, classes)
    new = ari(clusters.astype(str).map(table["cell_type"]), truth)
    old = ari(clusters.astype(str).map(old_rule(scores, clusters)), truth)
    print(f"full depth: ARI old rule {old:.4f}, relative evidence {new:.4f}")
    assert old > 0.99
    assert new >= old - 0.002
    assert (table["status"] == "assigned").all(), table


def test_demo_shallow_copy_old_rule_drops_clusters_new_rule_assigns_them(demo_depths):
    """A tenth of the UMIs and half the genes: markers are detected in few nuclei, as in
    real data; the abundant type's scores fall under the former absolute threshold."""
    scores, clusters, truth, markers = demo_depths["shallow"]
    classes = dict(zip(markers["cell_type"], markers["class"], strict=True))
    majority = pd.crosstab(clusters.astype(str), truth["cell_type"]).idxmax(axis=1)
    old_labels = old_rule(scores, clusters)
    lost = old_labels.index[old_labels == snrna.UNASSIGNED]
    table = snrna.assign_clusters(scores, clusters, classes)
    new = ari(clusters.astype(str).map(table["cell_type"]), truth)
    old = ari(clusters.astype(str).map(old_labels), truth)
    print(f"shallow copy: ARI old rule {old:.4f}, relative evidence {new:.4f}")
    print(table.drop(columns="reason").to_string())
    assert len(lost) >= 1 and (majority[lost] != "doublet").all()
    assert old < 0.9
    real = majority[majority != "doublet"].index
    assert (table.loc[real, "cell_type"] == majority[real]).all(), table
    assert new > 0.95
