"""The report's start page: findings and warnings from result tables, valid reST."""

from __future__ import annotations

import jinja2
import pandas as pd
import pytest
from acc_tiam1 import startpage
from docutils.core import publish_parts
from docutils.utils import SystemMessage
from matplotlib import pyplot as plt


def _render(rst: str) -> str:
    # As Snakemake renders the report's description: Jinja first, then docutils, with the
    # `Workflow`_ link target added. Strict: any docutils warning raises.
    rst += "\n.. _Workflow: javascript:show_panel('workflow')\n"
    rst = jinja2.Environment().from_string(rst).render()
    return publish_parts(
        rst, writer="html", settings_overrides={"halt_level": 2, "report_level": 5}
    )["body"]


def test_sex_warnings_name_the_mismatched_sample_and_both_sexes():
    table = pd.DataFrame(
        {
            "sheet_sex": ["female", "male", "male"],
            "inferred_sex": ["female", "female", "unclear"],
            "status": ["ok", "mismatch", "unclear"],
        },
        index=["m1", "m2", "m3"],
    )
    out = startpage.sex_warnings({"bulk": table})
    assert len(out) == 1
    assert "m2 (sheet: male, data: female)" in out[0]
    assert "m1" not in out[0] and "m3" not in out[0]
    assert startpage.sex_warnings({"bulk": table.iloc[[0]]}) == []


def test_ambient_warnings_only_for_cell_types_with_flagged_genes():
    summary = pd.DataFrame(
        {
            "cell_type": ["Astro", "L2/3 IT"],
            "contrast": ["pain_vs_sham", "pain_vs_sham"],
            "mostly_ambient": [3, 0],
        }
    )
    out = startpage.ambient_warnings(summary)
    assert len(out) == 1 and "3 significant gene(s) of Astro" in out[0]
    assert startpage.ambient_warnings(summary.drop(columns="mostly_ambient")) == []


def test_annotation_warnings_list_types_tested_in_no_contrast():
    plan = pd.DataFrame(
        {
            "cell_type": ["Astro", "Astro", "Micro", "Micro"],
            "contrast": ["a", "b", "a", "b"],
            "status": ["tested", "too few animals", "too few animals", "no nuclei"],
        }
    )
    assert startpage.annotation_warnings(plan) == [
        "Not tested in any contrast: Micro (no nuclei annotated or too few animals; see the "
        "pseudobulk plan)."
    ]
    # The annotation step's sentences come first; a type they already name as absent from
    # the data is not listed again as untested.
    warnings = pd.DataFrame(
        {
            "kind": ["unassigned", "absent"],
            "cell_type": ["Astro", "Micro"],
            "clusters": ["7", ""],
            "n_nuclei": [40, 0],
            "evidence": [0.4, None],
            "message": ["cluster 7 unassigned", "Micro absent"],
        }
    )
    assert startpage.annotation_warnings(plan, warnings) == ["cluster 7 unassigned", "Micro absent"]


def test_integration_warning_only_when_genes_were_dropped():
    assert startpage.integration_warnings({"genes_dropped": 0}) == []
    assert "1,200 genes" in startpage.integration_warnings({"genes_dropped": 1200})[0]


def test_start_page_is_valid_rest_with_findings_first_and_embedded_heatmap(tmp_path):
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.imshow([[0, 1], [1, 0]])
    png = tmp_path / "heat.png"
    fig.savefig(png, dpi=150)
    plt.close(fig)
    rst = startpage.start_page(
        ["Tiam1-Rac1 spine remodeling: up in pain in L2/3 IT; reversed by ketamine in L2/3 IT."],
        ["Sex check, bulk: m2 (sheet: male, data: female) disagree with the sample sheet."],
        {"pain_vs_sham": png},
    )
    assert max(len(line) for line in rst.splitlines()) < 10_000
    html = _render(rst)
    assert html.index("Key findings") < html.index("Warnings") < html.index("<img")
    assert "up in pain in L2/3 IT" in html and "m2 (sheet: male" in html
    assert 'src="data:image/png;base64,' in html and 'alt="NES heatmap, pain_vs_sham"' in html
    assert "show_panel('workflow')" in html


def test_braces_in_names_survive_the_jinja_pass():
    html = _render(startpage.start_page(["SET_{{x}}_{% if %}: up in pain in bulk."], []))
    assert "SET_{{x}}_{% if %}" in html


def test_start_page_says_so_when_nothing_was_found_or_flagged():
    html = _render(startpage.start_page([], []))
    assert "No focus gene set was called" in html
    assert "checks passed" in html


def test_unbalanced_rest_from_user_text_fails_loudly():
    # A guard that the rendering in these tests is strict: docutils errors must raise,
    # otherwise a broken page could pass the assertions above.
    with pytest.raises(SystemMessage):
        _render("Title\n===\n\n`unclosed")
