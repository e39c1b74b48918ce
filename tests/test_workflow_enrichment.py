"""End to end: pathway enrichment and ketamine rescue on the small demo study.

The demo plants the Tiam1/Rac1 program (modules A-D) and the ketamine/activity module (E)
up in pain, mostly reversed by ketamine, and nothing in the program for ketamine alone.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from conftest import planned_jobs, small_bulk_config, snakemake, write_config

pytestmark = pytest.mark.e2e

CORE = "TIAM1_RAC1_CORE_ABC"
ACTIVITY = "KETAMINE_ACTIVITY_E_RESPONSE"
#: (dataset, whether the demo planted the program in it). Extend with the snRNA cell types
#: once that branch exists, e.g. ("snrna/L2_3_IT", True), ("snrna/Oligodendrocytes", False).
DATASETS = [("bulk", True)]


@pytest.fixture(scope="module")
def demo_run(bulk_demo_run):
    return bulk_demo_run


def _gsea(wf, dataset, contrast):
    return pd.read_csv(
        wf / f"results/enrichment/{dataset}/{contrast}.tsv",
        sep="\t",
        keep_default_na=False,
        na_values=[""],
    ).set_index("term")


def test_outputs_columns_and_report(demo_run):
    for rel in [
        "results/enrichment/bulk/pain_vs_sham.tsv",
        "results/enrichment/summary/ora.tsv",
        "results/enrichment/summary/ora_overview.tsv",
        "results/enrichment/summary/nes.tsv",
        "results/enrichment/summary/geneset_coverage.tsv",
        "results/enrichment/summary/pain_vs_sham.nes_heatmap.png",
        "results/enrichment/summary/pain_vs_sham.running_sum.png",
        "results/rescue/bulk/genes.tsv",
        "results/rescue/bulk/pathways.tsv",
        "results/rescue/bulk/genes_scatter.png",
        "results/rescue/bulk/pathways_scatter.png",
        "results/rescue/bulk/interaction_gsea.tsv",
        "results/key_findings.html",
    ]:
        assert (demo_run / rel).stat().st_size > 0, rel
    table = pd.read_csv(demo_run / "results/enrichment/bulk/pain_vs_sham.tsv", sep="\t")
    assert list(table.columns[:8]) == [
        "term",
        "source",
        "NES",
        "pvalue",
        "FDR",
        "set_size",
        "genes_found",
        "leading_edge",
    ]
    assert set(table["source"]) == {"tiam1_rac1"}
    ora = pd.read_csv(demo_run / "results/enrichment/summary/ora.tsv", sep="\t")
    up = ora[
        (ora["dataset"] == "bulk")
        & (ora["contrast"] == "pain_vs_sham")
        & (ora["direction"] == "up")
    ].set_index("term")
    assert up.loc[CORE, "FDR"] < 0.05 and up.loc[ACTIVITY, "FDR"] < 0.05
    html = (demo_run / "results/report.html").read_text()
    for category in ("0. Key findings", "6. Pathway enrichment", "7. Ketamine rescue"):
        assert category in html, category


def check_program(wf, dataset, planted, control="ketamine_vs_sham"):
    """The focus sets are up in pain and reversed by ketamine where the demo planted
    them, and not enriched where it did not (nor for ketamine alone)."""
    pain = _gsea(wf, dataset, "pain_vs_sham")
    ketamine = _gsea(wf, dataset, "ketamine_rescue")
    branch = dataset.split("/")[0]
    reversal = pd.read_csv(wf / f"results/rescue/{branch}/pathways.tsv", sep="\t")
    title = "bulk" if dataset == "bulk" else None
    reversal = reversal[reversal["dataset"] == title] if title else reversal
    for name in (CORE, ACTIVITY):
        if planted:
            assert pain.loc[name, "NES"] > 0 and pain.loc[name, "FDR"] < 0.05, (dataset, name)
            assert ketamine.loc[name, "NES"] < 0 and ketamine.loc[name, "FDR"] < 0.05, name
        else:
            assert not (pain.loc[name, "FDR"] < 0.05), (dataset, name)
        if control and (wf / f"results/enrichment/{dataset}/{control}.tsv").exists():
            # Nothing of the program was planted for ketamine alone.
            assert not (_gsea(wf, dataset, control).loc[name, "FDR"] < 0.05), name
    if title:
        status = reversal.set_index("term")["status"]
        for name in (CORE, ACTIVITY):
            assert (status[name] == "reversed") == planted, name


def check_key_findings(wf, expected):
    """``expected``: {dataset title: planted}."""
    rows = pd.read_csv(wf / "results/key_findings.tsv", sep="\t").set_index(["dataset", "gene_set"])
    for title, planted in expected.items():
        for name in (CORE, ACTIVITY):
            row = rows.loc[(title, name)]
            if planted:
                assert row["pain"] == "up" and row["reversed_by_ketamine"] == "yes", title
            else:
                assert row["pain"] != "up", title
    return rows


@pytest.mark.parametrize("dataset,planted", DATASETS)
def test_program_up_in_pain_and_reversed_by_ketamine(demo_run, dataset, planted):
    check_program(demo_run, dataset, planted)


def test_key_findings_table(demo_run):
    rows = check_key_findings(demo_run, {"bulk": True})
    bulk = rows.loc[("bulk", CORE)]
    assert bulk["interaction"] == "down" and bulk["FDR_interaction"] < 0.05
    html = (demo_run / "results/key_findings.html").read_text()
    assert f"{CORE}: up in pain in bulk" in html


def test_gene_classes_recover_the_planted_rescue(demo_run):
    truth = pd.read_csv(demo_run / "resources/demo/bulk_truth.tsv", sep="\t")
    genes = pd.read_csv(demo_run / "results/rescue/bulk/genes.tsv", sep="\t")
    m = truth.merge(genes, on="gene_id")
    called = m[m["class"] != "unchanged"]
    for planted, expected, share in [
        ("rescued", "rescued", 0.7),
        ("not_rescued", "not_rescued", 0.7),
        ("ketamine_only", "ketamine_only", 0.8),
    ]:
        sub = called[called["rescue_class"] == planted]
        assert len(sub) >= 5 and (sub["class"] == expected).mean() >= share, planted
    partial = called[called["rescue_class"] == "partially_rescued"]
    assert (partial["class"] == "partially_rescued").mean() >= 0.4
    # Genes with no planted effect are rarely called anything.
    null = m[m["rescue_class"] == "none"]
    assert (null["class"] != "unchanged").mean() < 0.02


def test_methods_page_describes_enrichment_and_rescue(demo_run):
    import html

    page = html.unescape((demo_run / "results/provenance/methods.html").read_text())
    for heading in ("Bulk RNA-seq", "Gene-set enrichment", "Ketamine rescue"):
        assert f"<h3>{heading}</h3>" in page, heading
    assert "Single-nucleus" not in page
    assert "3 DE tables (3 bulk)" in page and "1,000 random permutations" in page
    assert "ranked by the DESeq2 Wald statistic" in page
    assert "interaction coefficient surgery[T.SNI]:drug[T.ketamine]" in page
    assert "<td>enrichment: gene sets tested, bulk (each of 3 contrasts)</td>" in page


def test_coverage_counts_genes_found(demo_run):
    cov = pd.read_csv(
        demo_run / "results/enrichment/summary/geneset_coverage.tsv", sep="\t"
    ).set_index("term")
    assert cov.loc[CORE, "set_size"] == 59 and cov.loc[CORE, "bulk"] == 59
    assert cov.loc["TIAM1_RAC1_D_PSD_SCAFFOLD", "tested_in"] == 1


def test_plot_option_change_does_not_rerun_gsea(demo_run):
    config = small_bulk_config()
    config["rescue"]["label_top"] = 3
    config["enrichment"]["heatmap_top_sets"] = 2
    cfg = write_config(demo_run / "enrich_plots.yaml", config)
    dry = snakemake(demo_run, "--configfile", str(cfg), "-n")
    jobs = set(planned_jobs(dry.stdout))
    assert {"rescue_plots", "enrichment_heatmap"} <= jobs, jobs
    mine = {j for j in jobs if j.startswith(("enrichment_", "rescue_", "bulk_"))}
    assert mine == {"rescue_plots", "enrichment_heatmap"}, jobs


def test_gene_set_without_genes_is_noted_not_fatal(demo_run, tmp_path):
    wf = tmp_path / "wf"
    shutil.copytree(demo_run, wf, symlinks=True)
    (wf / "extra.gmt").write_text(
        "NO_SUCH_GENES\tx\tNotAGene1\tNotAGene2\n"
        f"SMALL\tx\tTiam1\tRac1\tKalrn\n{CORE}\tsame name\tFos\n"
    )
    config = small_bulk_config()
    config["genesets"] = [*config["genesets"], "extra.gmt"]
    cfg = write_config(wf / "extra.yaml", config)
    snakemake(wf, "--configfile", str(cfg), "--until", "rescue_key_findings")
    table = _gsea(wf, "bulk", "pain_vs_sham")
    table = table.reset_index().set_index(["source", "term"])
    assert "none of its 2 genes" in table.loc[("extra", "NO_SUCH_GENES"), "note"]
    assert "only 3 of 3 genes" in table.loc[("extra", "SMALL"), "note"]
    # The curated sets keep their results: FDR is computed per source file.
    before = _gsea(demo_run, "bulk", "pain_vs_sham")
    assert table.loc[("tiam1_rac1", CORE), "NES"] == pytest.approx(before.loc[CORE, "NES"])
    html = (wf / "results/key_findings.html").read_text()
    assert "NO_SUCH_GENES (extra, 2 genes) was not tested" in html


@pytest.mark.parametrize(
    "change,message",
    [
        (
            {"genesets": ["config/genesets/tiam1_rac1.gmt", "broken.gmt"]},
            "broken.gmt: line 2 is not GMT",
        ),
        (
            {"rescue": {"pain_contrast": "pain_vs_naive"}},
            "rescue.pain_contrast: 'pain_vs_naive' is not a configured contrast",
        ),
        (
            {"enrichment": {"focus_sets": ["TIAM1_RAC1_CORE_AB"]}},
            "enrichment.focus_sets: focus set(s) TIAM1_RAC1_CORE_AB are in none",
        ),
    ],
)
def test_bad_enrichment_config_fails_before_any_job(workflow_copy, change, message):
    (workflow_copy / "broken.gmt").write_text("OK\tdesc\tTiam1\tRac1\nNAME_ONLY\n")
    config = small_bulk_config()
    for key, value in change.items():
        if isinstance(value, dict):
            config[key].update(value)
        else:
            config[key] = value
    cfg = write_config(workflow_copy / "bad.yaml", config)
    proc = snakemake(workflow_copy, "--configfile", str(cfg), "-n", check=False)
    assert proc.returncode != 0
    assert "Invalid input" in proc.stdout and message in proc.stdout, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout


# --- snRNA pseudobulk tables ------------------------------------------------------------

#: snRNA cell types of the small study (file-safe name, report title, planted?): the
#: program is planted in L2/3 IT and L5 ET only; Microglia gets other pain genes.
SNRNA_TYPES = [
    ("L2-3_IT", "snRNA L2/3 IT", True),
    ("L5_ET", "snRNA L5 ET", True),
    ("Astro", "snRNA Astro", False),
    ("Oligo", "snRNA Oligo", False),
    ("Microglia", "snRNA Microglia", False),
]


@pytest.fixture(scope="module")
def snrna_run(tmp_path_factory):
    from conftest import copy_workflow
    from test_workflow_snrna import small_snrna_config

    wf = copy_workflow(tmp_path_factory.mktemp("snrna_enrich") / "wf")
    config = small_snrna_config(wf)
    config["rescue"] = {"enabled": True}
    cfg = write_config(wf / "small_snrna.yaml", config)
    snakemake(
        wf,
        "results/key_findings.html",
        "results/enrichment/summary/pain_vs_sham.nes_heatmap.png",
        "results/enrichment/summary/pain_vs_sham.running_sum.png",
        "results/rescue/snrna/genes_scatter.png",
        "--configfile",
        str(cfg),
    )
    return wf


@pytest.mark.parametrize("safe,title,planted", SNRNA_TYPES)
def test_snrna_program_where_planted_only(snrna_run, safe, title, planted):
    check_program(snrna_run, f"snrna/{safe}", planted)


def test_snrna_key_findings_and_rescue_tables(snrna_run):
    check_key_findings(snrna_run, {title: planted for _, title, planted in SNRNA_TYPES})
    genes = pd.read_csv(snrna_run / "results/rescue/snrna/genes.tsv", sep="\t")
    assert {title for _, title, _ in SNRNA_TYPES} <= set(genes["dataset"])
    counts = pd.read_csv(snrna_run / "results/rescue/snrna/class_counts.tsv", sep="\t")
    rescued = counts[counts["class"] == "rescued"].set_index("dataset")["all_genes"]
    assert rescued["snRNA L2/3 IT"] > rescued["snRNA Oligo"]
    html = (snrna_run / "results/key_findings.html").read_text()
    assert f"{CORE}: up in pain in snRNA L2/3 IT, snRNA L5 ET;" in html
