"""Design formulas, contrasts, reference levels and their checks against a sample sheet."""

from __future__ import annotations

import pandas as pd
import pytest
from acc_tiam1 import design
from acc_tiam1.design import Contrast
from acc_tiam1.errors import InputError

PAIN = Contrast("pain_vs_sham", "condition", "pain", "sham")
RESCUE = Contrast("ketamine_rescue", "condition", "pain_ketamine", "pain")


def sheet(n_per_group=3, groups=("sham", "pain", "pain_ketamine")):
    rows = []
    for g in groups:
        for i in range(n_per_group):
            rows.append(
                {"sample": f"{g}{i}", "condition": g, "sex": "FM"[i % 2], "batch": f"b{i % 2}"}
            )
    return pd.DataFrame(rows).set_index("sample")


def test_design_variables_in_formula_order():
    assert design.design_variables("~ sex + batch + condition") == ["sex", "batch", "condition"]
    assert design.design_variables("~ surgery * drug") == ["surgery", "drug"]


@pytest.mark.parametrize("formula", ["sex + condition", "~ sex + + ", "~ sex +* condition("])
def test_bad_formulas(formula):
    with pytest.raises(InputError, match=r"bulk\.design"):
        design.design_variables(formula, where="bulk.design")


def test_reference_level_is_the_one_contrasts_name_most():
    s = sheet()
    refs = design.reference_levels(
        s, ["sex", "condition"], [PAIN, RESCUE, Contrast("x", "condition", "pain_ketamine", "sham")]
    )
    assert refs == {"sex": "F", "condition": "sham"}


def test_coldata_puts_reference_first_and_shrinks_single_coefficients():
    coldata = design.make_coldata(sheet(), "~ sex + condition", [PAIN, RESCUE])
    assert list(coldata["condition"].cat.categories) == ["sham", "pain", "pain_ketamine"]
    assert design.shrink_coefficient(PAIN, coldata) == "condition[T.pain]"
    # pain_ketamine vs pain is a difference of two coefficients: no single one to shrink.
    assert design.shrink_coefficient(RESCUE, coldata) is None
    matrix = design.design_matrix(coldata, "~ sex + condition")
    assert list(matrix.columns) == [
        "Intercept",
        "sex[T.M]",
        "condition[T.pain]",
        "condition[T.pain_ketamine]",
    ]


def test_reference_follows_contrast_not_alphabet():
    only_rescue = design.make_coldata(sheet(), "~ condition", [RESCUE])
    assert only_rescue["condition"].cat.categories[0] == "pain"


def test_valid_design_passes():
    design.validate_design(sheet(), "~ sex + condition", [PAIN, RESCUE], "s.tsv")


@pytest.mark.parametrize(
    ("formula", "contrasts", "edit", "message"),
    [
        ("~ sex + genotype", [PAIN], None, "design variable 'genotype'"),
        (
            "~ sex + condition",
            [Contrast("c", "condition", "cfa", "sham")],
            None,
            "target level 'cfa' is not a value of column 'condition'",
        ),
        (
            "~ sex + condition",
            [Contrast("c", "condition", "pain", "Sham")],
            None,
            "reference level 'Sham'",
        ),
        ("~ sex", [PAIN], None, "tests 'condition', which is not a term"),
        ("~ sex + condition", [PAIN], "one_pain", "level 'pain' of 'condition' has 1 sample"),
        ("~ sex + condition", [PAIN], "one_sex", "'sex' has a single level"),
        ("~ sex + condition", [PAIN], "missing_sex", "no value for sample(s) sham0"),
        ("~ batch + condition", [PAIN], "confounded", "not of full rank"),
    ],
)
def test_design_errors_name_file_and_problem(formula, contrasts, edit, message):
    s = sheet()
    if edit == "one_pain":
        s = s.drop(["pain1", "pain2"])
    elif edit == "one_sex":
        s["sex"] = "M"
    elif edit == "missing_sex":
        s.loc["sham0", "sex"] = ""
    elif edit == "confounded":
        s["batch"] = s["condition"].map({"sham": "b1", "pain": "b2", "pain_ketamine": "b3"})
    with pytest.raises(InputError) as err:
        design.validate_design(s, formula, contrasts, "s.tsv")
    assert message in str(err.value)
    assert str(err.value).startswith("s.tsv")


def test_rank_error_names_the_confounded_coefficient():
    s = sheet()
    s["batch"] = s["condition"].map({"sham": "b1", "pain": "b2", "pain_ketamine": "b2"})
    with pytest.raises(InputError, match=r"condition\[T.pain_ketamine\]|condition\[T.pain\]"):
        design.validate_design(s, "~ batch + condition", [PAIN], "s.tsv")


def test_contrast_list_errors():
    with pytest.raises(InputError, match="used twice: a"):
        design.parse_contrasts([dict(name="a", variable="v", target="x", reference="y")] * 2)
    with pytest.raises(InputError, match="with itself"):
        design.parse_contrasts([dict(name="a", variable="v", target="x", reference="x")])
