"""Unit tests of acc_tiam1.rescue and of the enrichment/rescue config checks."""

from __future__ import annotations

import copy
import json

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


def test_gene_classes_come_from_three_tests_not_the_fraction():
    #          full   partial  weak-r  same-dir ns-ket  ket-only none   incon  no-padj
    pain = _de(
        [1.0, 1.0, 1.0, -1.0, 1.0, 0.0, 0.1, 0.3, 1.0],
        [0.001, 0.001, 0.001, 0.001, 0.001, 0.9, 0.9, 0.01, np.nan],
    )
    ket = _de(
        [-0.9, -0.5, -0.1, -0.5, -1.0, 1.2, 0.0, -0.1, -1.0],
        [0.001, 0.001, 0.001, 0.001, 0.2, 0.001, 0.9, 0.5, 0.001],
    )
    eq = _de(
        [0.1, 0.5, 0.9, -1.5, 0.0, 1.2, 0.1, 0.2, 0.0],
        [0.001, 0.4, 0.001, 0.9, 0.9, 0.9, 0.001, 0.001, 0.001],
    ).assign(margin=0.5)
    out = rescue.classify_genes(pain, ket, eq, padj=0.05)
    assert list(out.columns) == rescue.GENE_COLUMNS
    cls = out.set_index("gene")["class"]
    assert cls["G0"] == "fully_rescued"
    assert cls["G1"] == "partially_rescued"
    # r = 0.1, but the reversal is significant and equivalence is shown: the tests decide.
    assert cls["G2"] == "fully_rescued"
    assert cls["G3"] == "aggravated"  # ketamine pushes further down
    assert cls["G4"] == "not_rescued"  # ketamine effect not significant
    assert cls["G5"] == "ketamine_only"
    assert cls["G6"] == "unchanged"
    assert cls["G7"] == "inconclusive"  # pain effect, equivalent, no significant reversal
    assert cls["G8"] == "not_tested"  # no pain padj (independent filtering)
    assert out.set_index("gene").loc["G1", "reversal_fraction"] == pytest.approx(0.5)
    assert out["test"].iloc[0] == (
        "DESeq2 Wald padj < 0.05 (pain effect, ketamine reversal); DESeq2 lessAbs "
        "|log2FC| < 0.5 vs sham, padj < 0.05 (equivalence)"
    )
    counts = rescue.class_counts(out, {"core": ["G0", "G1", "G5"]}).set_index("class")
    assert list(counts.index) == rescue.RESCUE_CLASSES
    assert counts.loc["fully_rescued", "all_genes"] == 2
    assert counts.loc["ketamine_only", "core"] == 1
    # Without an equivalence test nothing is fully rescued.
    none = rescue.classify_genes(pain, ket, eq.iloc[:0], padj=0.05).set_index("gene")
    assert none.loc["G0", "class"] == "partially_rescued"
    assert none["test"].iloc[0].endswith("equivalence to sham not tested")


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
    assert config["rescue"]["enabled"] and config["rescue"]["gene_margin"] == 0.5
    assert config["rescue"]["set_margin"] == 1.7
    assert config["enrichment"]["across_datasets"] == "hierarchical"
    assert config["rescue"]["interaction"] is None
    bad = {**config, "rescue": {"pain_contrst": "x"}}
    with pytest.raises(Exception, match="pain_contrst"):
        validate(bad, str(REPO / "workflow/schemas/config.schema.yaml"))
    bad = {**config, "enrichment": {"across_datasets": "bonferroni"}}
    with pytest.raises(Exception, match="bonferroni"):
        validate(bad, str(REPO / "workflow/schemas/config.schema.yaml"))


def test_class_count_matrix_pivots_every_dataset_and_class():
    counts = pd.DataFrame(
        {
            "dataset": ["bulk", "bulk", "snRNA L5 ET"],
            "class": ["fully_rescued", "not_rescued", "partially_rescued"],
            "all_genes": [3, 2, 5],
        }
    )
    out = rescue.class_count_matrix(counts).set_index("dataset")
    assert list(out.columns) == rescue.RESCUE_CLASSES
    assert out.loc["bulk", "fully_rescued"] == 3 and out.loc["bulk", "not_rescued"] == 2
    assert out.loc["snRNA L5 ET", "partially_rescued"] == 5
    assert out.loc["snRNA L5 ET", "unchanged"] == 0


def test_genes_page_lists_classified_genes_and_highlighted_ones():
    genes = pd.DataFrame(
        {
            "dataset": ["bulk"] * 4,
            "gene_id": ["g1", "g2", "g3", "g4"],
            "gene": ["Fos", "Tiam1", "Actb", "Arc"],
            "class": ["unchanged", "unchanged", "unchanged", "fully_rescued"],
            "pain_padj": [0.5, 0.6, 0.7, 1e-5],
            "test": ["same test"] * 4,
        }
    )
    page = rescue.genes_page(genes, max_rows=10, highlight=["Tiam1"])
    payload = json.loads(page.split("id='data'>")[1].split("</script>")[0])
    assert [r[payload["columns"].index("gene")] for r in payload["rows"]] == ["Arc", "Tiam1"]
    # One test text for every row: said once in the note, not in a column.
    assert "test" not in payload["columns"] and "Calls: same test." in page
