"""End to end: pathway enrichment and ketamine rescue on the small demo study.

The demo plants the Tiam1/Rac1 program (modules A-D) and the ketamine/activity module (E)
up in pain, mostly reversed by ketamine (per gene: fully, half or not at all), and nothing
in the program for ketamine alone. The calls are CAMERA's, focus sets with the FDR across
datasets; "fully rescued" needs the equivalence test.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
from acc_tiam1 import de, enrichment
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
        "results/rescue/set_equivalence.tsv",
        "results/enrichment/summary/focus_sets.tsv",
        "results/bulk/de/model/design.tsv",
        "results/bulk/de/model/contrasts.tsv",
        "results/bulk/de/equivalence.tsv",
        "results/key_findings.html",
        "results/key_findings.txt",
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
    # CAMERA beside GSEA in every enrichment table, the across-dataset FDR in the summary.
    assert set(enrichment.CAMERA_RESULT_COLUMNS) <= set(table.columns)
    assert table["camera_pvalue"].notna().all() and set(table["camera_direction"]) <= {
        "up",
        "down",
    }
    nes = pd.read_csv(demo_run / "results/enrichment/summary/nes.tsv", sep="\t")
    assert set(enrichment.ACROSS_COLUMNS) <= set(nes.columns)
    focus = nes[nes["focus"]]
    assert set(focus["term"]) == {CORE, ACTIVITY} and focus["camera_fdr_across"].notna().all()
    assert nes.loc[~nes["focus"], "camera_fdr_across"].isna().all()
    contrasts = pd.read_csv(demo_run / "results/bulk/de/model/contrasts.tsv", sep="\t")
    assert list(contrasts.columns) == [
        "coefficient",
        "pain_vs_sham",
        "ketamine_rescue",
        "ketamine_vs_sham",
        "pain_ketamine_vs_sham",
    ]
    equivalence = pd.read_csv(demo_run / "results/bulk/de/equivalence.tsv", sep="\t")
    assert list(equivalence.columns) == de.EQUIVALENCE_COLUMNS
    assert (equivalence["margin"] == 0.5).all()
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


def _calls(wf, dataset):
    """Focus-set rows of the enrichment summary of one dataset, by (contrast, term)."""
    nes = pd.read_csv(wf / "results/enrichment/summary/nes.tsv", sep="\t")
    mine = nes[(nes["dataset"] == dataset) & nes["focus"]]
    return mine.set_index(["contrast", "term"])


def check_program(wf, dataset, planted, title):
    """The focus sets are called up in pain and down with ketamine (CAMERA, FDR across
    datasets) where the demo planted them, and not called up in pain where it did not,
    nor for ketamine alone; the gene-set rescue says reversed exactly where planted."""
    calls = _calls(wf, dataset)
    branch = dataset.split("/")[0]
    rescue_sets = pd.read_csv(wf / f"results/rescue/{branch}/pathways.tsv", sep="\t")
    for name in (CORE, ACTIVITY):
        pain = calls.loc[("pain_vs_sham", name)]
        if planted:
            assert pain["call"] == "up" and pain["NES"] > 0, (dataset, name)
            assert pain["call_FDR"] < 0.05 and pain["camera_fdr_across"] == pain["call_FDR"]
            assert calls.loc[("ketamine_rescue", name), "call"] == "down", (dataset, name)
        else:
            assert pain["call"] != "up", (dataset, name, pain["call_FDR"])
        if ("ketamine_vs_sham", name) in calls.index:
            # Nothing of the program was planted for ketamine alone.
            assert calls.loc[("ketamine_vs_sham", name), "call"] == "n.s.", name
    cls = rescue_sets[rescue_sets["dataset"] == title].set_index("term")["class"]
    for name in (CORE, ACTIVITY):
        reversed_ = cls[name] in ("fully_rescued", "partially_rescued")
        assert reversed_ == planted, (dataset, name, cls[name])


def check_key_findings(wf, expected):
    """``expected``: {dataset title: planted}. Rows and sentences name planted datasets only."""
    rows = pd.read_csv(wf / "results/key_findings.tsv", sep="\t").set_index(["dataset", "gene_set"])
    sentences = (wf / "results/key_findings.txt").read_text().splitlines()
    for title, planted in expected.items():
        for name in (CORE, ACTIVITY):
            row = rows.loc[(title, name)]
            if planted:
                assert row["pain"] == "up", (title, name)
                assert row["reversed_by_ketamine"].startswith("yes"), (title, name)
                assert row["rescue"] in ("fully_rescued", "partially_rescued")
            else:
                assert row["pain"] != "up", (title, name)
    for name in (CORE, ACTIVITY):
        line = next(s for s in sentences if s.startswith(f"{name} is "))
        named = [t for t in expected if t in line]
        assert sorted(named) == sorted(t for t, p in expected.items() if p), line
        assert "(CAMERA, FDR across datasets < 0.05)" in line
    return rows


@pytest.mark.parametrize("dataset,planted", DATASETS)
def test_program_up_in_pain_and_reversed_by_ketamine(demo_run, dataset, planted):
    check_program(demo_run, dataset, planted, "bulk")


def test_key_findings_table(demo_run):
    rows = check_key_findings(demo_run, {"bulk": True})
    bulk = rows.loc[("bulk", CORE)]
    assert bulk["interaction"] == "down" and bulk["FDR_interaction"] < 0.05
    assert "margin 1.7 residual SD" in bulk["test"]
    html = (demo_run / "results/key_findings.html").read_text()
    assert f"{CORE} is up in pain in bulk (CAMERA, FDR across datasets &lt; 0.05)" in html


def test_gene_classes_recover_the_planted_rescue(demo_run):
    """Fully rescued needs equivalence to sham (|log2FC| < 0.5 shown): genes the demo
    rescues only by half are never called fully rescued."""
    truth = pd.read_csv(demo_run / "resources/demo/bulk_truth.tsv", sep="\t")
    genes = pd.read_csv(demo_run / "results/rescue/bulk/genes.tsv", sep="\t")
    m = truth.merge(genes, on="gene_id")
    called = m[~m["class"].isin(["unchanged", "not_tested"])]
    for planted, expected, share in [
        ("rescued", "fully_rescued", 0.6),
        ("partially_rescued", "partially_rescued", 0.6),
        ("not_rescued", "not_rescued", 0.7),
        ("ketamine_only", "ketamine_only", 0.8),
    ]:
        sub = called[called["rescue_class"] == planted]
        assert len(sub) >= 5 and (sub["class"] == expected).mean() >= share, planted
    full = called[called["class"] == "fully_rescued"]
    assert len(full) >= 20 and (full["rescue_class"] == "rescued").mean() >= 0.95
    half = called[called["rescue_class"] == "partially_rescued"]
    assert (half["class"] == "fully_rescued").sum() == 0
    # Genes with no planted effect are rarely called anything.
    null = m[m["rescue_class"] == "none"]
    assert (~null["class"].isin(["unchanged", "not_tested"])).mean() < 0.02
    assert genes["test"].iloc[0].endswith("|log2FC| < 0.5 vs sham, padj < 0.05 (equivalence)")


def test_methods_page_describes_enrichment_and_rescue(demo_run):
    import html

    page = html.unescape((demo_run / "results/provenance/methods.html").read_text())
    for heading in ("Bulk RNA-seq", "Gene-set enrichment", "Ketamine rescue"):
        assert f"<h3>{heading}</h3>" in page, heading
    assert "Single-nucleus" not in page
    assert "3 DE tables (3 bulk)" in page and "1,000 random permutations" in page
    assert "ranked by the DESeq2 Wald statistic" in page
    assert "CAMERA (Wu & Smyth 2012)" in page and "Benjamini & Bogomolov (2014)" in page
    assert "against a margin of 1.7 residual standard deviations" in page
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
    check_program(snrna_run, f"snrna/{safe}", planted, title)


def test_snrna_key_findings_and_rescue_tables(snrna_run):
    check_key_findings(snrna_run, {title: planted for _, title, planted in SNRNA_TYPES})
    genes = pd.read_csv(snrna_run / "results/rescue/snrna/genes.tsv", sep="\t")
    assert {title for _, title, _ in SNRNA_TYPES} <= set(genes["dataset"])
    counts = pd.read_csv(snrna_run / "results/rescue/snrna/class_counts.tsv", sep="\t")
    reversed_ = counts[counts["class"].isin(["fully_rescued", "partially_rescued"])]
    per_type = reversed_.groupby("dataset")["all_genes"].sum()
    assert per_type["snRNA L2/3 IT"] > per_type["snRNA Oligo"]
    html = (snrna_run / "results/key_findings.html").read_text()
    assert f"{CORE} is up in pain in snRNA L2/3 IT and snRNA L5 ET (" in html
    # Heatmap stars come from the same calls: focus sets called in planted types only.
    nes = pd.read_csv(snrna_run / "results/enrichment/summary/nes.tsv", sep="\t")
    starred = nes[nes["focus"] & nes["call"].isin(["up", "down"])]
    planted = {f"snrna/{safe}" for safe, _, p in SNRNA_TYPES if p}
    assert set(starred["dataset"]) == planted
