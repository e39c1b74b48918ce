"""End to end: the single-nucleus branch on a small demo study, and bad snRNA input."""

from __future__ import annotations

import filecmp

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from acc_tiam1 import de, demo
from conftest import REPO, copy_workflow, planned_jobs, snakemake, write_config
from sklearn.metrics import adjusted_rand_score

pytestmark = pytest.mark.e2e

#: Cell types of the small study: two with the planted pathway effect, one with planted
#: filler genes, and two null types with nothing planted (Oligo, Astro).
SMALL_TYPES = ["L2/3 IT", "L5 ET", "Astro", "Oligo", "Microglia"]
CONTRASTS = [
    {"name": "pain_vs_sham", "variable": "condition", "target": "pain", "reference": "sham"},
    {
        "name": "ketamine_rescue",
        "variable": "condition",
        "target": "pain_ketamine",
        "reference": "pain",
    },
]


def small_snrna_config(wf) -> dict:
    """The demo config without bulk: 9 mice (3 groups), 500 nuclei, 2,000 genes, 5 types."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.pop("bulk", None)
    config["contrasts"] = CONTRASTS
    config.setdefault("rescue", {})["enabled"] = False
    config["demo"].update(
        {"snrna_nuclei_per_sample": 500, "snrna_genes": 2000, "snrna_cell_types": SMALL_TYPES}
    )
    sheet = pd.read_csv(wf / "config/demo/snrna_samples.tsv", sep="\t")
    sheet = sheet[sheet["condition"] != "sham_ketamine"]
    sheet.to_csv(wf / "config/demo/snrna_small.tsv", sep="\t", index=False)
    config["snrna"]["samples"] = "config/demo/snrna_small.tsv"
    return config


@pytest.fixture(scope="module")
def snrna_run(tmp_path_factory):
    wf = copy_workflow(tmp_path_factory.mktemp("snrna_demo") / "wf")
    config = write_config(wf / "small.yaml", small_snrna_config(wf))
    snakemake(
        wf, "--configfile", str(config), "--report-after-run", "--report", "results/report.html"
    )
    return wf


def test_fresh_rerun_on_one_core_gives_byte_identical_tables(snrna_run, tmp_path):
    """Every random step (simulation, Scrublet, PCA, Harmony, Leiden, UMAP, GSEA
    permutations) is seeded from the config seed, and no step's numbers depend on how many
    threads it gets: a second run of the same config in a fresh directory, with one core
    instead of two, writes the same bytes, nuclei tables and UMAP coordinates included.
    The second run is asked for the tables only (every table a rule declares, which
    brings the ones inside declared folders along), so jobs that only draw are left out."""
    wf = copy_workflow(tmp_path / "wf")
    config = write_config(wf / "small.yaml", small_snrna_config(wf))
    reference = snrna_run / "results"
    tables = sorted(p.relative_to(reference) for p in reference.rglob("*.tsv"))
    assert any(str(t).startswith("enrichment/") for t in tables)
    assert "snrna/umap.tsv" in map(str, tables) and len(tables) > 30
    summary = snakemake(snrna_run, "--configfile", "small.yaml", "--summary").stdout
    declared = [line.split("\t")[0] for line in summary.splitlines() if ".tsv\t" in line]
    assert len(declared) > 30
    # targets before --configfile, which takes every word after it as a config file
    snakemake(wf, *declared, "--configfile", str(config), cores=1)
    differ = [
        str(t) for t in tables if not filecmp.cmp(reference / t, wf / "results" / t, shallow=False)
    ]
    assert differ == []


def read(wf, rel):
    return pd.read_csv(wf / rel, sep="\t")


def test_outputs_report_and_annotated_h5ad(snrna_run):
    wf = snrna_run
    for rel in [
        "results/snrna/qc/filter_summary.tsv",
        "results/snrna/qc/SN01.qc.png",
        "results/snrna/annotation/marker_dotplot.png",
        "results/snrna/annotation/umap_genes.png",
        "results/snrna/composition/tests.tsv",
        "results/snrna/de/summary.tsv",
        "results/snrna/de/L2-3_IT/pain_vs_sham.volcano.png",
        "results/snrna/pathway/gene_sets.png",
    ]:
        assert (wf / rel).stat().st_size > 0, rel
    html = (wf / "results/report.html").read_text()
    for category in ("3. snRNA QC", "4. snRNA clustering and annotation", "5. snRNA pseudobulk DE"):
        assert category in html
    adata = ad.read_h5ad(wf / "results/snrna/annotated.h5ad", backed="r")
    for col in (
        "sample",
        "condition",
        "sex",
        "batch",
        "total_counts",
        "n_genes",
        "pct_mito",
        "doublet_score",
        "leiden",
        "cell_type",
    ):
        assert col in adata.obs.columns, col
    assert {"X_pca", "X_umap"} <= set(adata.obsm.keys())
    # One copy of the counts: raw in X, ambient-corrected beside them; both integers,
    # and the correction never adds counts.
    counts = adata.X[:200]
    corrected = adata.layers["ambient_corrected"][:200]
    assert np.issubdtype(counts.dtype, np.integer) and np.issubdtype(corrected.dtype, np.integer)
    assert (corrected > counts).nnz == 0 and corrected.min() >= 0
    # Every filter's removals are counted, and the numbers add up.
    summary = read(wf, "results/snrna/qc/filter_summary.tsv")
    assert (
        summary["failed_qc"]
        + summary["doublets"]
        + summary["coexpression_doublets"]
        + summary["nuclei_kept"]
        == summary["nuclei_in"]
    ).all()
    assert adata.n_obs == summary["nuclei_kept"].sum()


def test_annotation_matches_planted_types(snrna_run):
    wf = snrna_run
    obs = ad.read_h5ad(wf / "results/snrna/annotated.h5ad", backed="r").obs
    truth = read(wf, "resources/demo/snrna/truth_nuclei.tsv")
    truth.index = truth["sample"] + "_" + truth["barcode"]
    truth = truth.loc[obs.index]
    single = ~truth["doublet"].to_numpy()
    ari = adjusted_rand_score(truth["cell_type"][single], obs["cell_type"].astype(str)[single])
    print(f"ARI = {ari:.3f}")
    assert ari > 0.9, ari
    # Low-quality nuclei were removed by QC.
    assert truth["low_quality"].mean() < 0.01


def test_planted_genes_found_in_planted_types(snrna_run):
    wf = snrna_run
    truth = read(wf, "resources/demo/snrna/truth_genes.tsv")
    for cell_type, safe in (("L2/3 IT", "L2-3_IT"), ("L5 ET", "L5_ET")):
        res = read(wf, f"results/snrna/de/{safe}/pain_vs_sham.tsv")
        assert list(res.columns) == [
            *de.DE_COLUMNS,
            "ambient_fraction",
            "soup_cpm",
            "clean_cpm",
            "mostly_ambient",
        ]
        planted = truth[(truth["cell_type"] == cell_type) & truth["planted_pain"]]
        m = res.merge(planted[["gene_id", "pain_log2fc"]], on="gene_id", how="left")
        is_planted = m["pain_log2fc"].notna()
        sig = m["padj"] < 0.05
        sensitivity = sig[is_planted].mean()
        precision = is_planted[sig].mean()
        print(
            f"{cell_type}: {sig[is_planted].sum()}/{is_planted.sum()} planted genes found, "
            f"precision {precision:.2f}"
        )
        assert sensitivity > 0.5 and precision > 0.85, (cell_type, sensitivity, precision)
        hits = m[is_planted & sig]
        assert (np.sign(hits["log2FoldChange"]) == np.sign(hits["pain_log2fc"])).all()
        assert m.loc[m["gene"] == "Tiam1", "padj"].iloc[0] < 0.05


def test_null_types_stay_calibrated(snrna_run):
    wf = snrna_run
    for safe in ("Oligo", "Astro"):
        for contrast in ("pain_vs_sham", "ketamine_rescue"):
            res = read(wf, f"results/snrna/de/{safe}/{contrast}.tsv")
            n_sig = int((res["padj"] < 0.05).sum())
            print(f"{safe} {contrast}: {n_sig} genes with padj < 0.05 of {len(res)}")
            assert n_sig <= 5, (safe, contrast, n_sig)


def test_plan_and_summary_report_skipped_types(snrna_run):
    wf = snrna_run
    summary = read(wf, "results/snrna/de/summary.tsv")
    vip = summary[summary["cell_type"] == "Vip"]
    assert (vip["status"] == "skipped").all()
    assert (vip["reason"] == "no nuclei annotated as this cell type").all()
    tested = summary[summary["status"] == "tested"]
    assert set(tested["cell_type"]) >= {"L2/3 IT", "Oligo", "Astro"}
    assert tested["genes_tested"].gt(0).all()
    log = (wf / "logs/snrna/pseudobulk.log").read_text()
    assert "skipped: Vip x pain_vs_sham: no nuclei annotated" in log
    # The one DE job writes every marker cell type's files: columns only for Vip, and
    # its report pages say why.
    for contrast in ("pain_vs_sham", "ketamine_rescue"):
        table = read(wf, f"results/snrna/de/Vip/{contrast}.tsv")
        assert table.empty and list(table.columns) == de.DE_COLUMNS
        page = (wf / f"results/snrna/de/Vip/{contrast}.table.html").read_text()
        assert "Not tested: no nuclei annotated as this cell type." in page
    assert read(wf, "results/snrna/de/Vip/model/design.tsv").empty


def test_plot_and_alpha_changes_rerun_only_what_they_touch(snrna_run):
    """A plot option redraws the DE figures without refitting; alpha refits without
    redoing the pseudobulk counts."""

    def jobs_after(name, change):
        # The run's own config: small_snrna_config would rewrite the sample sheet,
        # and a newer sheet reruns everything.
        config = yaml.safe_load((snrna_run / "small.yaml").read_text())
        change(config)
        cfg = write_config(snrna_run / name, config)
        return set(planned_jobs(snakemake(snrna_run, "--configfile", str(cfg), "-n").stdout))

    plots = jobs_after("label.yaml", lambda c: c["plots"].update(label_top=3))
    assert "snrna_de_plots" in plots and not {"snrna_de", "snrna_pseudobulk"} & plots, plots
    alpha = jobs_after("alpha.yaml", lambda c: c["de"].update(alpha=0.05))
    assert {"snrna_de", "snrna_de_plots", "snrna_de_summary"} <= alpha, alpha
    upstream = {"snrna_pseudobulk", "snrna_integrate", "snrna_qc_sample", "snrna_annotate"}
    assert not upstream & alpha, alpha


def test_tiam1_per_animal(snrna_run):
    table = read(snrna_run, "results/snrna/pathway/per_animal.tsv")
    tiam1 = table[(table["feature"] == "Tiam1") & (table["cell_type"] == "L2/3 IT")]
    assert len(tiam1) == 9  # one value per animal, not per nucleus
    means = tiam1.groupby("condition")["value"].mean()
    assert means["pain"] > means["sham"] + 0.3
    assert means["pain_ketamine"] < means["pain"] - 0.3  # planted as fully rescued


def test_methods_page_describes_the_snrna_run(snrna_run):
    import html as html_lib

    page = html_lib.unescape((snrna_run / "results/provenance/methods.html").read_text())
    filters = read(snrna_run, "results/snrna/qc/filter_summary.tsv")
    plan = read(snrna_run, "results/snrna/pseudobulk/plan.tsv")
    tested = plan[plan["status"] == "tested"]
    for heading in (
        "Single-nucleus RNA-seq: quality control",
        "Single-nucleus RNA-seq: integration, clustering and annotation",
        "Single-nucleus RNA-seq: pseudobulk differential expression",
        "Gene-set enrichment",
    ):
        assert f"<h3>{heading}</h3>" in page, heading
    # Branches that did not run get no paragraph.
    assert "<h3>Bulk RNA-seq</h3>" not in page and "<h3>Ketamine rescue</h3>" not in page
    # Numbers come from the result tables, settings from the config.
    assert (
        f"Single-nucleus count matrices of 9 animals ({filters['nuclei_in'].sum():,} "
        "nuclei in the input matrices)"
    ) in page
    assert f"{filters['nuclei_kept'].sum():,} nuclei were left" in page
    assert (
        f"{len(tested)} of {len(plan)} cell type \u00d7 contrast combinations "
        f"({tested['cell_type'].nunique()} cell types"
    ) in page
    assert "with PyDESeq2" in page and "as the bulk data" not in page
    assert "design ~ sex + condition" in page and "more than 5 MADs" in page
    assert "Harmony" in page  # two batches in the demo sheet
    assert "<td>snRNA: nuclei kept after QC</td>" in page


# --- bad input ------------------------------------------------------------------------


def bad_study(wf, write_sample):
    """Six tiny samples, one of them written by ``write_sample(adata, folder) -> path``."""
    from acc_tiam1 import io

    modules = demo.demo_modules(wf / "config/genesets/tiam1_rac1.gmt")
    study = demo.build_study(
        io.read_markers(wf / "config/markers/acc_markers.tsv"),
        modules,
        n_genes=800,
        seed=1,
        cell_types=["L2/3 IT", "Oligo", "Astro"],
    )
    rows = []
    data = wf / "data"
    data.mkdir()
    for i, cond in enumerate(["sham", "sham", "pain", "pain", "pain_ketamine", "pain_ketamine"]):
        adata, _ = demo.simulate_sample(study, f"s{i}", {"condition": cond}, i, 150)
        path = data / f"s{i}.h5"
        if i == 3:
            path = write_sample(adata, data)
        else:
            demo.write_10x_h5(adata, path)
        rows.append(
            {
                "sample": f"s{i}",
                "path": f"../data/{path.name}",
                "condition": cond,
                "sex": ["F", "M"][i % 2],
            }
        )
    (wf / "sheets").mkdir()
    pd.DataFrame(rows).to_csv(wf / "sheets/sn.tsv", sep="\t", index=False)
    config = {
        "snrna": {"samples": "sheets/sn.tsv", "design": "~ sex + condition"},
        "contrasts": CONTRASTS,
        "rescue": {"enabled": False},
    }
    return write_config(wf / "bad.yaml", config)


def run_bad(wf, config, *targets, dry=False):
    # Targets first: --configfile takes every value that follows it.
    proc = snakemake(
        wf, *targets, "--configfile", str(config), *(["-n"] if dry else []), check=False
    )
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "Traceback" not in proc.stdout, proc.stdout[-3000:]
    return proc.stdout


def test_h5_that_is_not_10x_names_sample_and_file(workflow_copy):
    def write(adata, folder):
        path = folder / "s3.h5"
        adata.write_h5ad(path)  # an AnnData file with a 10x suffix
        return path

    config = bad_study(workflow_copy, write)
    out = run_bad(workflow_copy, config, "results/snrna/qc/s3.h5ad")
    assert "sample 's3': this .h5 is not a 10x Genomics (Cell Ranger) matrix" in out
    assert "data/s3.h5" in out


def test_non_integer_h5ad_names_sample_and_file(workflow_copy):
    def write(adata, folder):
        path = folder / "s3.h5ad"
        adata.X = adata.X.astype(np.float32) * 0.37
        adata.write_h5ad(path)
        return path

    config = bad_study(workflow_copy, write)
    out = run_bad(workflow_copy, config, "results/snrna/qc/s3.h5ad")
    assert "sample 's3': X holds non-integer values" in out and "data/s3.h5ad" in out


def test_missing_path_and_missing_level_fail_at_parse_time(workflow_copy):
    def write(adata, folder):
        return folder / "missing.h5"  # never written

    config = bad_study(workflow_copy, write)
    out = run_bad(workflow_copy, config, dry=True)
    assert "sample 's3': path" in out and "missing.h5' does not exist" in out
    assert "sheets/sn.tsv" in out
    sheet = pd.read_csv(workflow_copy / "sheets/sn.tsv", sep="\t")
    sheet.loc[3, "path"] = sheet.loc[2, "path"]
    sheet = sheet[sheet["condition"] != "pain_ketamine"]
    sheet.to_csv(workflow_copy / "sheets/sn.tsv", sep="\t", index=False)
    out = run_bad(workflow_copy, config, dry=True)
    assert (
        "contrast 'ketamine_rescue': no single-nucleus sample has condition = 'pain_ketamine'"
    ) in out
