"""Each user mistake stops the run early with a message naming the problem and file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import snakemake, write_config

pytestmark = pytest.mark.e2e


def make_study(wf, n=4):
    rng = np.random.default_rng(1)
    samples = [f"m{i}" for i in range(2 * n)]
    counts = pd.DataFrame(
        rng.negative_binomial(10, 0.1, (200, 2 * n)),
        index=pd.Index([f"g{i}" for i in range(200)], name="gene_id"),
        columns=samples,
    )
    sheet = pd.DataFrame(
        {"sample": samples, "condition": ["sham"] * n + ["pain"] * n, "sex": ["F", "M"] * n}
    )
    return counts, sheet


def run_bad(wf, counts, sheet, design="~ sex + condition", contrasts=None, dry=False):
    counts.to_csv(wf / "counts.tsv", sep="\t")
    sheet.to_csv(wf / "samples.tsv", sep="\t", index=False)
    cfg = write_config(
        wf / "bad.yaml",
        {
            "bulk": {"counts": "counts.tsv", "samples": "samples.tsv", "design": design},
            "contrasts": contrasts
            or [
                {
                    "name": "pain_vs_sham",
                    "variable": "condition",
                    "target": "pain",
                    "reference": "sham",
                }
            ],
        },
    )
    proc = snakemake(wf, "--configfile", str(cfg), *(["-n"] if dry else []), check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]
    # Nothing was fitted.
    assert not (wf / "results/bulk/de/deseq2_fit.pkl").exists()
    return proc.stdout


def test_sample_in_sheet_not_in_matrix(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    out = run_bad(workflow_copy, counts.drop(columns="m0"), sheet)
    assert "counts.tsv" in out and "not in the matrix: m0" in out


def test_matrix_column_not_in_sheet(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    out = run_bad(workflow_copy, counts, sheet[sheet["sample"] != "m7"])
    assert "match no sample of the sheet: m7" in out


def test_non_integer_counts(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    counts = counts.astype(float)
    counts.iloc[3, 2] = 2.5
    out = run_bad(workflow_copy, counts, sheet)
    assert "non-integer count 2.5 for gene g3 in sample 'm2'" in out


def test_negative_counts(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    counts.iloc[0, 0] = -4
    assert "negative count -4" in run_bad(workflow_copy, counts, sheet)


def test_duplicated_gene_ids(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    counts.index = ["g0", *counts.index[1:-1], "g0"]
    counts.index.name = "gene_id"
    assert "duplicated gene id(s): g0" in run_bad(workflow_copy, counts, sheet)


def test_duplicated_sample_ids(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    sheet.loc[1, "sample"] = "m0"
    out = run_bad(workflow_copy, counts, sheet, dry=True)
    assert "samples.tsv" in out and "duplicated sample id(s): m0" in out


def test_contrast_level_missing(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    out = run_bad(
        workflow_copy,
        counts,
        sheet,
        dry=True,
        contrasts=[{"name": "c", "variable": "condition", "target": "CFA", "reference": "sham"}],
    )
    assert "samples.tsv" in out and "target level 'CFA' is not a value" in out


def test_design_variable_not_a_column(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    out = run_bad(workflow_copy, counts, sheet, design="~ batch + condition", dry=True)
    assert "design variable 'batch'" in out and "samples.tsv" in out


def test_group_with_one_sample(workflow_copy):
    counts, sheet = make_study(workflow_copy)
    sheet.loc[sheet["sample"].isin(["m5", "m6", "m7"]), "condition"] = "other"
    out = run_bad(workflow_copy, counts, sheet, dry=True)
    assert "level 'pain' of 'condition' has 1 sample" in out


def test_missing_count_file(workflow_copy):
    _, sheet = make_study(workflow_copy)
    sheet.to_csv(workflow_copy / "samples.tsv", sep="\t", index=False)
    cfg = write_config(
        workflow_copy / "bad.yaml",
        {
            "bulk": {"counts": "nowhere.tsv", "samples": "samples.tsv", "design": "~ condition"},
            "contrasts": [
                {"name": "p", "variable": "condition", "target": "pain", "reference": "sham"}
            ],
        },
    )
    proc = snakemake(workflow_copy, "--configfile", str(cfg), "-n", check=False)
    assert proc.returncode != 0
    assert "bulk.counts: file 'nowhere.tsv' does not exist" in proc.stdout


def test_unknown_config_key(workflow_copy):
    cfg = write_config(
        workflow_copy / "bad.yaml",
        {
            "contrasts": [
                {"name": "p", "variable": "condition", "target": "pain", "reference": "sham"}
            ],
            "bluk": {},
        },
    )
    proc = snakemake(workflow_copy, "--configfile", str(cfg), "-n", check=False)
    assert proc.returncode != 0
    assert "bluk" in proc.stdout


def test_unknown_key_in_optional_section(workflow_copy):
    # rescue.interaction may be null; when given, its keys are checked like any other.
    counts, sheet = make_study(workflow_copy)
    counts.to_csv(workflow_copy / "counts.tsv", sep="\t")
    sheet.to_csv(workflow_copy / "samples.tsv", sep="\t", index=False)
    cfg = write_config(
        workflow_copy / "bad.yaml",
        {
            "bulk": {
                "counts": "counts.tsv",
                "samples": "samples.tsv",
                "design": "~ sex + condition",
            },
            "contrasts": [
                {"name": "p", "variable": "condition", "target": "pain", "reference": "sham"}
            ],
            "rescue": {
                "interaction": {
                    "design": "~ sex * condition",
                    "reference": {"sex": "F", "condition": "sham"},
                    "coeficient": "sex[T.M]:condition[T.pain]",
                }
            },
        },
    )
    proc = snakemake(workflow_copy, "--configfile", str(cfg), "-n", check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]
    assert "'rescue.interaction.coeficient' (did you mean 'coefficient'?)" in proc.stdout, (
        proc.stdout[-3000:]
    )
