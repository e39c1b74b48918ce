"""End to end: the bulk branch on a small demo study and on a user's own files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import planned_jobs, small_bulk_config, snakemake, write_config

pytestmark = pytest.mark.e2e

BULK_OUTPUTS = [
    "results/bulk/counts.tsv",
    "results/bulk/normalized_counts.tsv",
    "results/bulk/qc/sample_qc.tsv",
    "results/bulk/qc/pca.png",
    "results/bulk/qc/library_sizes.png",
    "results/bulk/qc/sample_distances.png",
    "results/bulk/de/summary.tsv",
    "results/bulk/de/pain_vs_sham.tsv",
    "results/bulk/de/pain_vs_sham.volcano.png",
    "results/bulk/de/ketamine_rescue.ma.png",
]


@pytest.fixture
def demo_run(bulk_demo_run):
    return bulk_demo_run


def test_outputs_and_report_exist(demo_run):
    for rel in BULK_OUTPUTS:
        assert (demo_run / rel).stat().st_size > 0, rel
    html = (demo_run / "results/report.html").read_text()
    assert "Bulk differential expression" in html and "Bulk QC" in html


def test_planted_pain_genes_are_found(demo_run):
    truth = pd.read_csv(demo_run / "resources/demo/bulk_truth.tsv", sep="\t")
    res = pd.read_csv(demo_run / "results/bulk/de/pain_vs_sham.tsv", sep="\t")
    assert list(res.columns[:8]) == [
        "gene_id",
        "gene",
        "baseMean",
        "log2FoldChange",
        "lfcSE",
        "stat",
        "pvalue",
        "padj",
    ]
    merged = truth.merge(res, on="gene_id")
    # Genes filterByExpr removes are not in the tables; the filter table counts them.
    kept = pd.read_csv(demo_run / "results/bulk/de/gene_filter.tsv", sep="\t").iloc[0]
    assert len(merged) == len(res) == kept["genes_kept"] == len(truth) - kept["genes_removed"]
    assert truth.loc[~truth["gene_id"].isin(res["gene_id"]), "planted_pain"].sum() == 0
    planted = merged["planted_pain"]
    sig = merged["padj"] < 0.05
    assert sig[planted].mean() >= 0.85, sig[planted].mean()
    # Of the unplanted genes, ketamine-only ones are truly null in this contrast too.
    false_pos = (sig & ~planted).sum()
    assert false_pos <= 0.05 * sig.sum() + 5, false_pos
    # Direction agrees with what was planted.
    hits = merged[planted & sig]
    assert (np.sign(hits["log2FoldChange"]) == np.sign(hits["pain_log2fc"])).mean() > 0.98


def test_rescue_contrast_reverses_rescued_genes(demo_run):
    truth = pd.read_csv(demo_run / "resources/demo/bulk_truth.tsv", sep="\t")
    res = pd.read_csv(demo_run / "results/bulk/de/ketamine_rescue.tsv", sep="\t")
    m = truth.merge(res, on="gene_id")
    rescued = m[m["rescue_class"] == "rescued"]
    # Ketamine undoes pain: fold changes of opposite sign to the planted pain effect.
    assert (np.sign(rescued["log2FoldChange"]) == -np.sign(rescued["pain_log2fc"])).mean() > 0.9
    assert (rescued["padj"] < 0.05).mean() > 0.75


def test_outliers_are_flagged_not_dropped(demo_run):
    qc = pd.read_csv(demo_run / "results/bulk/qc/sample_qc.tsv", sep="\t", index_col=0)
    counts = pd.read_csv(demo_run / "results/bulk/counts.tsv", sep="\t", index_col=0)
    assert set(qc.index) == set(counts.columns[1:])
    assert {"outlier", "outlier_reason", "library_size", "PC1"} <= set(qc.columns)


def test_plot_option_change_reruns_only_plots(demo_run):
    config = small_bulk_config()
    config["plots"]["label_top"] = 3
    cfg = write_config(demo_run / "plots.yaml", config)
    dry = snakemake(demo_run, "--configfile", str(cfg), "-n")
    jobs = planned_jobs(dry.stdout)
    assert jobs and set(jobs) <= {"bulk_de_plots", "all"}, jobs


def test_user_config_with_only_bulk_and_contrasts(workflow_copy):
    """A --configfile that sets only bulk.* and contrasts runs; ids ENSMUSG|Symbol."""
    rng = np.random.default_rng(3)
    samples = [f"m{i}" for i in range(8)]
    group = ["ctrl"] * 4 + ["cfa"] * 4
    mu = np.exp(rng.normal(5, 1, (400, 1))) * np.ones((1, 8))
    mu[:10, 4:] *= 5
    counts = rng.negative_binomial(20, 20 / (20 + mu))
    ids = [f"ENSMUSG{i:011d}|Gene{i}" for i in range(400)]
    pd.DataFrame(counts, index=pd.Index(ids, name="gene_id"), columns=samples).to_csv(
        workflow_copy / "my_counts.csv"
    )
    pd.DataFrame({"sample": samples, "treatment": group, "sex": ["F", "M"] * 4}).to_csv(
        workflow_copy / "my_samples.tsv", sep="\t", index=False
    )
    cfg = write_config(
        workflow_copy / "mine.yaml",
        {
            "bulk": {
                "counts": "my_counts.csv",
                "samples": "my_samples.tsv",
                "design": "~ sex + treatment",
            },
            "contrasts": [
                {
                    "name": "cfa_vs_ctrl",
                    "variable": "treatment",
                    "target": "cfa",
                    "reference": "ctrl",
                }
            ],
        },
    )
    snakemake(workflow_copy, "--configfile", str(cfg))
    res = pd.read_csv(workflow_copy / "results/bulk/de/cfa_vs_ctrl.tsv", sep="\t")
    assert res["gene_id"].str.startswith("ENSMUSG").all()
    top = res.head(10)
    assert set(top["gene"]) == {f"Gene{i}" for i in range(10)}
    assert (top["log2FoldChange"] > 0).all()
    # The demo study was not simulated: the user's config replaced it.
    assert not (workflow_copy / "resources/demo/bulk_counts.tsv").exists()
