"""Unit tests of the calibrated calls: the DE model tables, CAMERA of DE tables, error
control across datasets, set-score equivalence, gene-set rescue classes and the key
findings' sentences."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from _helpers import design_matrix, simulate_counts
from acc_tiam1 import de, design, enrichment, inputs, rescue, stats
from acc_tiam1.enrichment import GeneSet
from acc_tiam1.errors import InputError
from conftest import REPO

# --- the DE model (design matrix, contrast vectors, gene equivalence) ------------------

GROUPS = {
    "condition": list(np.repeat(["sham", "pain", "pain_ketamine"], 4)),
    "sex": ["F", "M"] * 6,
}
CONTRASTS = design.parse_contrasts(
    [
        {"name": "pain_vs_sham", "variable": "condition", "target": "pain", "reference": "sham"},
        {
            "name": "ketamine_rescue",
            "variable": "condition",
            "target": "pain_ketamine",
            "reference": "pain",
        },
    ]
)


@pytest.fixture(scope="module")
def fit():
    counts, sheet = simulate_counts(GROUPS, 400, seed=3)
    coldata = design.make_coldata(sheet, "~ sex + condition", CONTRASTS)
    genes = pd.DataFrame({"gene": [f"G{i}" for i in range(len(counts))]}, index=counts.index)
    return de.fit_deseq(counts, coldata, "~ sex + condition"), genes, sheet


def test_design_and_contrast_tables_are_the_fitted_model(fit):
    dds, _, sheet = fit
    x = de.design_table(dds)
    assert list(x.index) == list(sheet.index) and x.index.name == "sample"
    assert list(x.columns) == [
        "Intercept",
        "sex[T.M]",
        "condition[T.pain]",
        "condition[T.pain_ketamine]",
    ]
    assert (x["condition[T.pain]"] == (sheet["condition"] == "pain").astype(float)).all()
    model = {c.name: c for c in CONTRASTS}
    model["pain_ketamine_vs_sham"] = ["condition", "pain_ketamine", "sham"]
    vectors = de.contrast_vectors(dds, model)
    assert vectors.index.name == "coefficient"
    assert vectors["pain_vs_sham"].tolist() == [0, 0, 1, 0]
    assert vectors["ketamine_rescue"].tolist() == [0, 0, -1, 1]
    assert vectors["pain_ketamine_vs_sham"].tolist() == [0, 0, 0, 1]
    # Read back in the design's order, whatever the table's row order.
    shuffled = vectors.iloc[::-1]
    assert de.read_contrast(shuffled, "ketamine_rescue", x).tolist() == [0, 0, -1, 1]
    with pytest.raises(InputError, match="no contrast vector 'nope'"):
        de.read_contrast(vectors, "nope", x)
    with pytest.raises(InputError, match="different coefficients"):
        de.read_contrast(vectors.iloc[1:], "pain_vs_sham", x)


def test_equivalence_table_is_gene_equivalence_with_symbols(fit):
    dds, genes, _ = fit
    spec = ["condition", "pain_ketamine", "sham"]
    table = de.equivalence_table(dds, spec, 0.5, genes)
    raw = de.gene_equivalence(dds, spec, 0.5)
    assert list(table.columns) == de.EQUIVALENCE_COLUMNS
    merged = table.set_index("gene_id").join(raw, rsuffix="_raw")
    assert np.allclose(merged["pvalue"], merged["pvalue_raw"], equal_nan=True)
    assert (merged["gene"] == genes.loc[merged.index, "gene"]).all()
    assert table["pvalue"].is_monotonic_increasing or table["pvalue"].isna().any()
    assert list(de.untested_equivalence().columns) == de.EQUIVALENCE_COLUMNS


def _config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["genesets"] = [str(REPO / g) for g in config["genesets"]]
    return config


def test_equivalence_contrast_is_ketamine_target_vs_pain_reference():
    settings = inputs.check_rescue(_config())
    assert settings.equivalence_contrast == {
        "name": "pain_ketamine_vs_sham",
        "variable": "condition",
        "target": "pain_ketamine",
        "reference": "sham",
    }
    pain = {"name": "p", "variable": "surgery", "target": "SNI", "reference": "sham"}
    ketamine = {"name": "k", "variable": "drug", "target": "ketamine", "reference": "saline"}
    assert inputs.equivalence_contrast(pain, ketamine) is None
    config = _config()
    config["contrasts"].append(
        {
            "name": "pain_ketamine_vs_sham",
            "variable": "condition",
            "target": "pain",
            "reference": "sham",
        }
    )
    with pytest.raises(InputError, match="contrasts: contrast 'pain_ketamine_vs_sham' is not"):
        inputs.check_rescue(config)
    config["contrasts"][-1]["target"] = "pain_ketamine"  # the same comparison: fine
    assert inputs.check_rescue(config).equivalence_contrast["name"] == "pain_ketamine_vs_sham"


# --- CAMERA of a DE table ----------------------------------------------------------------


def _camera_inputs(seed=0, n_genes=600):
    x = design_matrix(n_per_group=5, seed=seed)
    rng = np.random.default_rng(seed)
    n = len(x)
    counts = rng.negative_binomial(
        5, 5 / (5 + np.exp(rng.normal(5, 1, (n_genes, 1)))), (n_genes, n)
    )
    pain = x["condition[T.pain]"].to_numpy() == 1
    counts[:30, pain] = counts[:30, pain] * 3  # a set up in pain
    ids = [f"id{i}" for i in range(n_genes)]
    counts = pd.DataFrame(counts, index=ids, columns=x.index)
    sf = pd.Series(np.exp(rng.normal(0, 0.2, n)), index=x.index)
    normalized = counts / sf
    normalized.insert(0, "gene", [f"G{i}" for i in range(n_genes)])
    table = pd.DataFrame(
        {"gene_id": ids, "gene": normalized["gene"].to_numpy(), "stat": rng.normal(0, 1, n_genes)}
    )
    return counts, sf, normalized, table, x


def test_log_normalized_is_log_expression_of_the_counts():
    counts, sf, normalized, _, _ = _camera_inputs()
    got = enrichment.log_normalized(normalized)
    want = enrichment.log_expression(counts, sf)
    assert np.allclose(got.to_numpy(), want.to_numpy())
    bad = normalized.copy()
    bad.iloc[0, 1] = -1
    with pytest.raises(InputError, match="non-negative"):
        enrichment.log_normalized(bad)


def test_camera_de_tests_the_de_tables_genes_per_source():
    _, _, normalized, table, x = _camera_inputs()
    expression = enrichment.log_normalized(normalized)
    table.loc[5, "stat"] = np.nan  # no Wald statistic: not in the universe
    sets = [
        GeneSet("lib", "UP", tuple(f"G{i}" for i in range(30))),
        GeneSet("lib", "NULL", tuple(f"G{i}" for i in range(100, 140))),
        GeneSet("lib", "SMALL", ("G1", "G2")),
        GeneSet("other", "UP", tuple(f"G{i}" for i in range(30))),
    ]
    c = np.array([0, 0, 0, 1.0, 0, 0])
    out = enrichment.camera_de(table, expression, x, c, sets, min_size=5, max_size=500)
    assert list(out[["source", "term"]].itertuples(index=False, name=None)) == [
        (s.source, s.term) for s in sets
    ]
    assert out.loc[0, "n_genes"] == 29  # G5 has no statistic
    assert out.loc[0, "direction"] == "up" and out.loc[0, "pvalue"] < 1e-4
    assert out.loc[1, "pvalue"] > 0.05  # nothing planted
    assert not out.loc[2, "tested"]
    # FDR per source: the other file's copy of the set does not change lib's FDR.
    alone = enrichment.camera_de(table, expression, x, c, sets[:3], 5, 500)
    assert np.allclose(alone["FDR"], out["FDR"][:3], equal_nan=True)
    assert out.loc[3, "FDR"] == pytest.approx(out.loc[3, "pvalue"])
    # Same numbers as camera() on the same rows and contrast.
    _, rows = enrichment.de_inputs(table, expression)
    direct = enrichment.camera(rows, x, {"UP": sets[0].genes}, contrast=c, min_size=5)
    assert out.loc[0, "pvalue"] == pytest.approx(direct.loc[0, "pvalue"])


def test_add_camera_aligns_by_source_and_term():
    gsea = pd.DataFrame(
        {"term": ["B", "A", "C"], "source": ["s", "s", "s"], "NES": [1.0, -1.0, np.nan]}
    )
    cam = pd.DataFrame(
        {
            "source": ["s", "s", "s"],
            "term": ["A", "B", "C"],
            "direction": ["down", "up", ""],
            "pvalue": [0.01, 0.2, np.nan],
            "FDR": [0.02, 0.2, np.nan],
            "correlation": [0.1, 0.0, np.nan],
            "vif": [2.0, 1.0, np.nan],
            "tested": [True, True, False],
        }
    )
    out = enrichment.add_camera(gsea, cam)
    assert list(out.columns) == ["term", "source", "NES", *enrichment.CAMERA_RESULT_COLUMNS]
    assert out["camera_pvalue"].tolist()[:2] == [0.2, 0.01]
    assert out["camera_direction"].tolist() == ["up", "down", ""]
    assert np.isnan(out.loc[2, "camera_FDR"])
    empty = enrichment.add_camera(gsea, None)
    assert empty["camera_pvalue"].isna().all()


# --- error control across datasets -------------------------------------------------------


def _long(pvalues: dict, contrast="pain", other_p=0.001):
    rows = []
    for dataset, ps in pvalues.items():
        for i, p in enumerate(ps):
            rows.append(
                {
                    "dataset": dataset,
                    "contrast": contrast,
                    "source": "lib",
                    "term": f"F{i}",
                    "tested": not np.isnan(p),
                    "camera_pvalue": p,
                    "camera_FDR": p,
                    "camera_direction": "up",
                }
            )
        rows.append(
            {
                "dataset": dataset,
                "contrast": contrast,
                "source": "lib",
                "term": "OTHER",
                "tested": True,
                "camera_pvalue": other_p,
                "camera_FDR": other_p,
                "camera_direction": "down",
            }
        )
    return pd.DataFrame(rows)


def test_across_datasets_adjusts_focus_sets_per_contrast():
    pain = _long(
        {"bulk": [1e-6, 0.3], "L23": [1e-5, 2e-4], "Endo": [0.02, 0.6], "Oligo": [0.5, 0.9]}
    )
    ket = _long({"bulk": [0.04, 0.5], "L23": [0.5, 0.5]}, contrast="ketamine")
    long = pd.concat([pain, ket], ignore_index=True)
    focus = ["F0", "F1"]
    out = enrichment.across_datasets(long, focus, "hierarchical", 0.05)
    mine = out[(out["contrast"] == "pain") & out["focus"]]
    want = stats.benjamini_bogomolov(mine, q=0.05, pvalue="camera_pvalue")
    assert np.allclose(mine["camera_fdr_across"], want["bb_adjusted"])
    # Adjusted within its own contrast only.
    k = out[(out["contrast"] == "ketamine") & out["focus"]]
    assert np.allclose(k["camera_fdr_global"], stats.bh_adjust(k["camera_pvalue"].to_numpy()))
    calls = mine.set_index(["dataset", "term"])["call"]
    assert calls[("bulk", "F0")] == "up" and calls[("L23", "F1")] == "up"
    # Endo's 0.02 passes its own table but not the across-dataset control.
    assert (
        calls[("Endo", "F0")] == "n.s."
        and mine.set_index(["dataset", "term"]).loc[("Endo", "F0"), "camera_FDR"] < 0.05
    )
    other = out[~out["focus"]]
    assert other["camera_fdr_across"].isna().all()
    assert (other["call"] == "down").all() and np.allclose(other["call_FDR"], 0.001)
    assert other["call_test"].iloc[0] == "CAMERA, FDR within dataset < 0.05"
    assert mine["call_test"].iloc[0] == ("CAMERA, FDR across datasets (Benjamini-Bogomolov) < 0.05")
    glob = enrichment.across_datasets(long, focus, "global", 0.05)
    g = glob[(glob["contrast"] == "pain") & glob["focus"]]
    assert np.allclose(g["camera_fdr_across"], stats.bh_adjust(g["camera_pvalue"].to_numpy()))
    assert "global BH" in g["call_test"].iloc[0]
    with pytest.raises(InputError, match="across_datasets"):
        enrichment.across_datasets(long, focus, "bonferroni")


def test_across_datasets_keeps_untested_sets_out():
    long = _long({"bulk": [1e-4, np.nan], "L23": [np.nan, np.nan]})
    out = enrichment.across_datasets(long, ["F0", "F1"])
    rows = out.set_index(["dataset", "term"])
    assert rows.loc[("bulk", "F1"), "call"] == "not tested"
    assert np.isnan(rows.loc[("bulk", "F1"), "camera_fdr_across"])
    # One family with one test: the adjusted value is the p-value itself.
    assert rows.loc[("bulk", "F0"), "camera_fdr_across"] == pytest.approx(1e-4)


def test_call_marks():
    fdr = pd.DataFrame({"a": [0.001, 0.02, 0.2, np.nan]})
    assert enrichment.call_marks(fdr, 0.05)["a"].tolist() == ["**", "*", "", ""]


# --- set-score equivalence and gene-set rescue classes ------------------------------------


def test_set_equivalence_scores_sets_of_the_universe_per_source():
    x = design_matrix(n_per_group=8, seed=2)
    rng = np.random.default_rng(4)
    n = len(x)
    y = rng.normal(0, 1, (300, n)) + rng.normal(5, 2, (300, 1))
    pain = x["condition[T.pain]"].to_numpy() == 1
    pk = x["condition[T.pain_ketamine]"].to_numpy() == 1
    y[:20, pain] += 1.5  # back at sham with ketamine
    y[20:40, pain | pk] += 1.5  # still shifted with ketamine
    frame = pd.DataFrame(y, index=[f"G{i}" for i in range(300)], columns=x.index)
    sets = [
        GeneSet("a", "BACK", tuple(f"G{i}" for i in range(20))),
        GeneSet("a", "SHIFTED", tuple(f"G{i}" for i in range(20, 40))),
        GeneSet("a", "TINY", ("G50", "G51", "NotAGene")),
        GeneSet("b", "BACK", tuple(f"G{i}" for i in range(20))),
    ]
    c = np.zeros(x.shape[1])
    c[list(x.columns).index("condition[T.pain_ketamine]")] = 1.0
    out = rescue.set_equivalence(frame, x, c, sets, margin=1.7, min_size=5)
    assert list(out.columns) == rescue.SET_EQUIVALENCE_COLUMNS
    assert list(zip(out["source"], out["term"], strict=True)) == [
        ("a", "BACK"),
        ("a", "SHIFTED"),
        ("b", "BACK"),
    ]
    rows = out.set_index(["source", "term"])
    assert rows.loc[("a", "BACK"), "pvalue"] < 0.05 < rows.loc[("a", "SHIFTED"), "pvalue"]
    assert rows.loc[("a", "SHIFTED"), "effect_size"] > 1.7
    # BH per source: b's single set keeps its p-value.
    assert rows.loc[("b", "BACK"), "padj"] == pytest.approx(rows.loc[("b", "BACK"), "pvalue"])
    direct = rescue.score_equivalence(
        rescue.set_scores(frame, {"BACK": sets[0].genes}), x, c, margin=1.7
    )
    assert rows.loc[("a", "BACK"), "pvalue"] == pytest.approx(direct.loc[0, "pvalue"])
    stacked = pd.concat([out.assign(dataset="bulk"), out.assign(dataset="L23")])
    adj = rescue.equivalence_across(stacked.reset_index(drop=True), ["BACK"], "global")
    focus = adj[adj["focus"]]
    assert np.allclose(focus["fdr_across"], stats.bh_adjust(focus["pvalue"].to_numpy()))
    assert np.allclose(adj.loc[~adj["focus"], "equivalence_FDR"], adj.loc[~adj["focus"], "padj"])


def _rows(terms, directions, fdrs, focus=True, nes=None):
    n = len(terms)
    return pd.DataFrame(
        {
            "source": "lib",
            "term": terms,
            "NES": nes if nes is not None else [1.5] * n,
            "camera_direction": directions,
            "call_FDR": fdrs,
            "genes_found": 20,
            "tested": [not np.isnan(f) for f in fdrs],
            "focus": focus,
        }
    )


def test_pathway_rescue_classes_follow_the_three_tests():
    terms = ["FULL", "PART", "NOTREV", "AGG", "INCON", "KET", "NONE", "NT"]
    pain = _rows(
        terms,
        ["up", "up", "down", "up", "up", "up", "up", ""],
        [0.001, 0.001, 0.01, 0.01, 0.01, 0.5, 0.5, np.nan],
    )
    ket = _rows(
        terms,
        ["down", "down", "down", "up", "down", "down", "up", ""],
        [0.001, 0.01, 0.01, 0.01, 0.5, 0.01, 0.5, np.nan],
    )
    eq = pd.DataFrame(
        {
            "source": "lib",
            "term": terms[:7],
            "effect_size": 0.1,
            "margin": 1.7,
            "equivalence_FDR": [0.01, 0.3, 0.3, 0.3, 0.01, 0.3, 0.01],
        }
    )
    out = rescue.pathway_rescue(pain, ket, eq, fdr=0.05)
    assert list(out.columns) == rescue.PATHWAY_COLUMNS
    cls = out.set_index("term")["class"].to_dict()
    assert cls == {
        "FULL": "fully_rescued",
        "PART": "partially_rescued",
        "NOTREV": "aggravated",
        "AGG": "aggravated",
        "INCON": "inconclusive",
        "KET": "ketamine_only",
        "NONE": "unchanged",
        "NT": "not_tested",
    }
    rows = out.set_index("term")
    assert rows.loc["FULL", "reversed"] and rows.loc["PART", "reversed"]
    assert not rows.loc["AGG", "reversed"]
    assert rows.loc["NOTREV", "direction_pain"] == "down"
    assert rows.loc["KET", "direction_pain"] == "n.s."
    assert "margin 1.7 residual SD" in rows.loc["FULL", "test"]
    assert "FDR across datasets (Benjamini-Bogomolov) < 0.05" in rows.loc["FULL", "test"]
    # Without the equivalence test nothing is fully rescued.
    none = rescue.pathway_rescue(pain, ket, None, fdr=0.05).set_index("term")
    assert none.loc["FULL", "class"] == "partially_rescued"
    assert "equivalence not tested" in none.loc["FULL", "test"]
    # A pain effect without a significant reversal is not rescued.
    ket.loc[0, "call_FDR"] = 0.2
    assert rescue.pathway_rescue(pain, ket, None).set_index("term").loc["FULL", "class"] == (
        "not_rescued"
    )


# --- key findings in sentences -------------------------------------------------------------


def _pathway(cls, pain="up", margin=1.7, term="CORE"):
    ket = {"up": "down", "down": "up"}.get(pain, "")
    fdr = 0.001 if pain in ("up", "down") else 0.6
    return pd.DataFrame(
        {
            "source": ["lib"],
            "term": [term],
            "NES_pain": [2.0],
            "camera_pain": [pain if pain in ("up", "down") else "up"],
            "FDR_pain": [fdr],
            "NES_ketamine": [-2.0],
            "camera_ketamine": [ket or "down"],
            "FDR_ketamine": [
                0.001 if cls in ("fully_rescued", "partially_rescued", "ketamine_only") else 0.5
            ],
            "equivalence_effect": [0.3],
            "equivalence_margin": [margin],
            "equivalence_FDR": [0.01 if cls == "fully_rescued" else 0.4],
            "class": [cls],
            "test": ["CAMERA ..."],
            "genes_found_pain": [20],
            "tested_pain": [True],
            "tested_ketamine": [True],
        }
    )


def test_findings_sentences_name_where_and_how():
    tables = {
        "bulk": _pathway("unchanged", pain="n.s."),
        "snRNA L2/3 IT": _pathway("partially_rescued"),
        "snRNA L5 ET": _pathway("partially_rescued"),
        "snRNA Oligo": _pathway("unchanged", pain="n.s."),
    }
    findings = rescue.key_findings(tables, ["CORE"], 0.05)
    assert list(findings.columns) == [*rescue.FINDINGS_COLUMNS, "note"]
    rows = findings.set_index("dataset")
    assert rows.loc["snRNA L5 ET", "pain"] == "up"
    assert rows.loc["snRNA L5 ET", "reversed_by_ketamine"] == "yes, partially rescued"
    assert rows.loc["bulk", "pain"] == "n.s."
    assert rescue.findings_summary(findings, 0.05) == [
        "CORE is up in pain in snRNA L2/3 IT and snRNA L5 ET (CAMERA, FDR across datasets "
        "< 0.05) and reversed by ketamine in both (partially rescued: equivalence to sham "
        "not shown at margin 1.7 SD)."
    ]
    tables["snRNA L5 ET"] = _pathway("fully_rescued")
    tables["snRNA Oligo"] = _pathway("not_rescued", pain="down")
    tables["bulk"] = _pathway("ketamine_only", pain="n.s.")
    lines = rescue.findings_summary(rescue.key_findings(tables, ["CORE"], 0.05), 0.05)
    assert lines == [
        "CORE is up in pain in snRNA L2/3 IT and snRNA L5 ET and down in pain in snRNA Oligo "
        "(CAMERA, FDR across datasets < 0.05) and reversed by ketamine in snRNA L5 ET, back at "
        "sham level (fully rescued: equivalence to sham shown at margin 1.7 SD); reversed by "
        "ketamine in snRNA L2/3 IT (partially rescued: equivalence to sham not shown at margin "
        "1.7 SD); not reversed by ketamine in snRNA Oligo; ketamine changes it without a pain "
        "effect in bulk."
    ]


def test_findings_sentence_when_nothing_changes_and_when_untested():
    tables = {d: _pathway("unchanged", pain="n.s.") for d in ("bulk", "snRNA Endo")}
    findings = rescue.key_findings(tables, ["CORE", "MISSING"], 0.01)
    lines = rescue.findings_summary(findings, 0.01)
    assert lines[0] == (
        "CORE is not changed in pain in any of the 2 datasets tested (CAMERA, FDR across "
        "datasets < 0.01)."
    )
    assert lines[1] == "MISSING was not tested in any dataset (too few genes found)."
    one = rescue.key_findings({"bulk": _pathway("not_rescued")}, ["CORE"], 0.05)
    assert rescue.findings_summary(one) == [
        "CORE is up in pain in bulk (CAMERA, FDR across datasets < 0.05) and not reversed "
        "by ketamine there."
    ]


def test_key_findings_interaction_uses_camera_and_html_colours():
    inter = pd.DataFrame(
        {
            "source": ["lib"],
            "term": ["CORE"],
            "NES": [-1.8],
            "camera_direction": ["down"],
            "camera_FDR": [0.01],
            "tested": [True],
        }
    )
    findings = rescue.key_findings(
        {"bulk": _pathway("partially_rescued")}, ["CORE"], 0.05, {"bulk": inter}
    )
    row = findings.iloc[0]
    assert row["interaction"] == "down" and row["FDR_interaction"] == 0.01
    html = rescue.key_findings_html(
        findings, rescue.findings_summary(findings), pd.DataFrame(), [], {"a": "b"}
    )
    assert '<td style="background:#d9ead3">yes, partially rescued</td>' in html
    # The same test for every row is said once, under the table.
    assert "<th>test</th>" not in html and "<p>Calls: CAMERA ....</p>" in html


def test_findings_settings_name_tests_and_margins():
    r = {"padj": 0.05, "gene_margin": 0.5, "set_margin": 1.7, "interaction": None}
    eq = {"target": "pain_ketamine", "reference": "sham"}
    text = rescue.findings_settings("pain_vs_sham", "ketamine_rescue", 0.05, r, equivalence=eq)
    assert "FDR across datasets (Benjamini-Bogomolov) < 0.05" in text["focus set up / down"]
    assert "margin 1.7 residual SD" in text["gene-set rescue"]
    assert "|log2FC| < 0.5" in text["gene classes"]
    no_eq = rescue.findings_settings("p", "k", 0.05, copy.deepcopy(r))
    assert "not tested" in no_eq["gene-set rescue"]
