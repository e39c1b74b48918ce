"""Unit tests of acc_tiam1.rescue and of the enrichment/rescue config checks."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml
from acc_tiam1 import inputs, rescue
from acc_tiam1.errors import InputError
from acc_tiam1.io import read_sample_sheet
from conftest import REPO


def _de(lfc, padj):
    n = len(lfc)
    return pd.DataFrame(
        {
            "gene_id": [f"id{i}" for i in range(n)],
            "gene": [f"G{i}" for i in range(n)],
            "baseMean": 100.0,
            "log2FoldChange": lfc,
            "padj": padj,
        }
    )


def test_gene_classes_follow_the_documented_rule():
    #         rescued  partial  weak   same-dir  ns-ket  ket-only  none  small-pain
    pain = _de(
        [1.0, 1.0, 1.0, -1.0, 1.0, 0.0, 0.1, 0.1],
        [0.001, 0.001, 0.001, 0.001, 0.001, 0.9, 0.9, 0.001],
    )
    ket = _de(
        [-0.9, -0.5, -0.1, -0.5, -1.0, 1.2, 0.0, 0.0],
        [0.001, 0.001, 0.001, 0.001, 0.2, 0.001, 0.9, 0.9],
    )
    out = rescue.classify_genes(
        pain, ket, padj=0.05, lfc_threshold=0.5, rescued_fraction=0.75, partial_fraction=0.25
    )
    cls = out.set_index("gene")["class"]
    assert cls["G0"] == "rescued"
    assert cls["G1"] == "partially_rescued"
    assert cls["G2"] == "not_rescued"  # r = 0.1 < 0.25
    assert cls["G3"] == "not_rescued"  # ketamine pushes further down
    assert cls["G4"] == "not_rescued"  # ketamine effect not significant
    assert cls["G5"] == "ketamine_only"
    assert cls["G6"] == "unchanged"
    assert cls["G7"] == "unchanged"  # |pain log2FC| below lfc_threshold
    assert out.set_index("gene").loc["G1", "reversal_fraction"] == pytest.approx(0.5)
    counts = rescue.class_counts(out, {"core": ["G0", "G1", "G5"]}).set_index("class")
    assert counts.loc["rescued", "all_genes"] == 1 and counts.loc["ketamine_only", "core"] == 1
    with pytest.raises(InputError, match="partial_fraction"):
        rescue.classify_genes(pain, ket, rescued_fraction=0.3, partial_fraction=0.5)


def _gsea(nes, fdr, tested=None):
    n = len(nes)
    return pd.DataFrame(
        {
            "source": "lib",
            "term": [f"S{i}" for i in range(n)],
            "NES": nes,
            "FDR": fdr,
            "genes_found": 20,
            "tested": tested if tested is not None else [True] * n,
        }
    )


def test_pathway_status():
    pain = _gsea(
        [2.0, 2.0, 2.0, 0.5, 0.5, np.nan],
        [0.01, 0.01, 0.01, 0.5, 0.5, np.nan],
        [True] * 5 + [False],
    )
    ket = _gsea(
        [-2.0, -0.3, 2.0, -2.0, 0.1, np.nan],
        [0.01, 0.6, 0.01, 0.01, 0.9, np.nan],
        [True] * 5 + [False],
    )
    out = rescue.pathway_reversal(pain, ket, fdr=0.05).set_index("term")
    assert out["status"].to_dict() == {
        "S0": "reversed",
        "S1": "not_reversed",
        "S2": "aggravated",
        "S3": "ketamine_only",
        "S4": "not_significant",
        "S5": "not_tested",
    }
    assert out.loc["S0", "reversed"] and not out.loc["S1", "reversed"]


def test_key_findings_and_html():
    pain = _gsea([2.0, 1.0], [0.0, 0.5])
    ket = _gsea([-2.0, 0.0], [0.0001, 0.9])
    reversal = {"bulk": rescue.pathway_reversal(pain, ket, 0.05)}
    inter = {"bulk": _gsea([-1.5, 0.2], [0.01, 0.8])}
    table = rescue.key_findings(reversal, ["S0", "S1", "MISSING"], 0.05, inter)
    rows = table.set_index("gene_set")
    assert rows.loc["S0", "pain"] == "up" and rows.loc["S0", "reversed_by_ketamine"] == "yes"
    assert rows.loc["S0", "interaction"] == "down"
    assert rows.loc["S1", "pain"] == "n.s."
    assert "not in the results" in rows.loc["MISSING", "note"]
    lines = rescue.findings_summary(table)
    assert lines[0] == "S0: up in pain in bulk; reversed by ketamine in bulk."
    html = rescue.key_findings_html(
        table,
        lines,
        pd.DataFrame({"dataset": ["bulk"], "rescued": [3]}),
        ["a <note>"],
        {"fdr": 0.05},
    )
    assert "<h2>Key findings</h2>" in html and "a &lt;note&gt;" in html and "&lt; 0.001" in html


def test_coverage_notes_name_small_sources_and_count_large_ones():
    cov = pd.DataFrame(
        {
            "source": ["cur", "cur"] + ["big"] * 40,
            "term": [f"T{i}" for i in range(42)],
            "set_size": 10,
            "bulk": [10, 0] + [0] * 40,
            "tested_in": [1, 0] + [0] * 40,
        }
    )
    notes = rescue.coverage_notes(cov)
    assert any(n.startswith("T1 (cur, 10 genes) was not tested") for n in notes)
    assert any(n.startswith("40 of 40 sets of big") for n in notes)


# --- config checks (parse time) ---------------------------------------------------------


def _config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["genesets"] = [str(REPO / g) for g in config["genesets"]]
    return config


def test_check_genesets_accepts_the_demo_config():
    assert inputs.check_genesets(_config()) == [str(REPO / "config/genesets/tiam1_rac1.gmt")]


def test_malformed_gmt_fails_at_parse_time_naming_the_file(tmp_path):
    bad = tmp_path / "mine.gmt"
    bad.write_text("GOOD\tdesc\tTiam1\nBROKEN\n")
    config = _config()
    config["genesets"].append(str(bad))
    with pytest.raises(InputError, match=r"mine\.gmt: line 2 is not GMT"):
        inputs.check_genesets(config)
    config["genesets"][-1] = str(tmp_path / "missing.gmt")
    with pytest.raises(InputError, match=r"genesets: file .*missing\.gmt' does not exist"):
        inputs.check_genesets(config)


def test_unknown_focus_set_and_empty_list_fail():
    config = _config()
    config["enrichment"]["focus_sets"] = ["TIAM1_RAC1_CORE_ABC", "NOT_A_SET"]
    with pytest.raises(InputError, match=r"enrichment\.focus_sets.*NOT_A_SET"):
        inputs.check_genesets(config)
    config["genesets"] = []
    with pytest.raises(InputError, match="genesets: list at least one GMT"):
        inputs.check_genesets(config)


def test_rescue_contrast_that_is_not_configured_fails():
    config = _config()
    config["rescue"]["ketamine_contrast"] = "ketamine_in_pain"
    with pytest.raises(
        InputError,
        match=r"rescue.ketamine_contrast: 'ketamine_in_pain' is not "
        r"a configured contrast",
    ):
        inputs.check_rescue(config)
    config["rescue"]["ketamine_contrast"] = "pain_vs_sham"
    with pytest.raises(InputError, match="same"):
        inputs.check_rescue(config)
    config["rescue"] = {"enabled": False, "pain_contrast": "nope"}
    assert inputs.check_rescue(config) is None
    # Nothing named and the default contrasts not both configured: rescue is skipped.
    config["rescue"] = {}
    config["contrasts"] = config["contrasts"][:1]
    assert inputs.check_rescue(config) is None
    config["rescue"] = {"ketamine_contrast": "ketamine_rescue"}
    with pytest.raises(InputError, match=r"rescue\.ketamine_contrast"):
        inputs.check_rescue(config)


def test_interaction_is_checked_against_the_sample_sheet():
    sheet = read_sample_sheet(REPO / "config/demo/bulk_samples.tsv")
    good = {
        "design": "~ sex + batch + surgery * drug",
        "reference": {"surgery": "sham", "drug": "saline"},
    }
    levels, coef = inputs.check_interaction(sheet, good, "sheet.tsv")
    assert coef == "surgery[T.SNI]:drug[T.ketamine]"
    assert levels == {"surgery": ["SNI", "sham"], "drug": ["ketamine", "saline"]}
    bad = copy.deepcopy(good)
    bad["reference"]["drug"] = "vehicle"
    with pytest.raises(InputError, match="'vehicle' is not a level of 'drug'"):
        inputs.check_interaction(sheet, bad, "sheet.tsv")
    bad = copy.deepcopy(good)
    bad["reference"] = {"surgery": "sham"}
    with pytest.raises(InputError, match="reference level of drug"):
        inputs.check_interaction(sheet, bad, "sheet.tsv")
    bad = copy.deepcopy(good)
    bad["design"] = "~ sex + surgery * drug * batch"
    with pytest.raises(InputError, match="interaction coefficients"):
        inputs.check_interaction(sheet, bad, "sheet.tsv")
    bad = copy.deepcopy(good)
    bad["reference"]["dose"] = "low"
    with pytest.raises(InputError, match="'dose', which is not a column"):
        inputs.check_interaction(sheet, bad, "sheet.tsv")


def test_schema_fills_enrichment_and_rescue_defaults():
    from snakemake.utils import validate

    config = {
        "contrasts": [
            {"name": "pain_vs_sham", "variable": "condition", "target": "pain", "reference": "sham"}
        ]
    }
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    assert config["enrichment"]["min_size"] == 5 and config["enrichment"]["ora"]["padj"] == 0.05
    assert config["rescue"]["enabled"] and config["rescue"]["rescued_fraction"] == 0.75
    assert config["rescue"]["interaction"] is None
    bad = {**config, "rescue": {"pain_contrst": "x"}}
    with pytest.raises(Exception, match="pain_contrst"):
        validate(bad, str(REPO / "workflow/schemas/config.schema.yaml"))


def test_class_count_matrix_pivots_every_dataset_and_class():
    counts = pd.DataFrame(
        {
            "dataset": ["bulk", "bulk", "snRNA L5 ET"],
            "class": ["rescued", "not_rescued", "rescued"],
            "all_genes": [3, 2, 5],
        }
    )
    out = rescue.class_count_matrix(counts).set_index("dataset")
    assert list(out.columns) == rescue.CLASSES
    assert out.loc["bulk", "rescued"] == 3 and out.loc["bulk", "not_rescued"] == 2
    assert out.loc["snRNA L5 ET", "rescued"] == 5 and out.loc["snRNA L5 ET", "unchanged"] == 0


def test_findings_settings_name_the_thresholds():
    r = {
        "padj": 0.05,
        "lfc_threshold": 0.5,
        "rescued_fraction": 0.75,
        "partial_fraction": 0.25,
        "interaction": {"design": "~ surgery * drug"},
    }
    text = rescue.findings_settings("pain_vs_sham", "ketamine_rescue", 0.05, r)
    assert text["gene set enriched"] == "GSEA FDR < 0.05"
    assert "|log2FC| >= 0.5" in text["gene classes"] and "interaction" not in text
    with_int = rescue.findings_settings("p", "k", 0.1, r, "surgerySNI.drugketamine")
    assert with_int["interaction"].startswith("~ surgery * drug, coefficient surgerySNI")
