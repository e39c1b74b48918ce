"""Methods paragraphs and step counts of the provenance page, from small hand-made tables."""

from __future__ import annotations

import copy

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml
from acc_tiam1 import provenance
from conftest import REPO
from scipy import sparse

CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
VERSIONS = pd.DataFrame(
    {
        "package": [
            "python",
            "snakemake",
            "pydeseq2",
            "scanpy",
            "anndata",
            "gseapy",
            "harmonypy",
            "igraph",
            "umap-learn",
            "scikit-learn",
            "scikit-image",
            "pynndescent",
        ],
        "version": [
            "3.11.7",
            "9.1.0",
            "0.5.4",
            "1.11.5",
            "0.12.1",
            "1.3.1",
            "0.0.10",
            "1.0.0",
            "0.5.12",
            "1.9.1",
            "0.26.0",
            "0.5.13",
        ],
    }
)
#: filter_summary.tsv of two samples.
FILTERS = pd.DataFrame(
    {
        "sample": ["s1", "s2"],
        "nuclei_in": [1000, 1200],
        "low_counts": [10, 20],
        "high_counts": [1, 2],
        "low_genes": [12, 15],
        "high_genes": [0, 3],
        "high_mito": [40, 50],
        "failed_qc": [50, 70],
        "doublets": [30, 40],
        "coexpression_doublets": [3, 5],
        "nuclei_kept": [920, 1090],
        "pct_kept": [92.0, 90.83],
        "threshold_min_counts": [210.5, 260.2],
        "threshold_max_counts": [40123.0, 52011.0],
        "threshold_min_genes": [150.0, 170.0],
        "threshold_max_genes": [5000.0, 5600.0],
        "threshold_max_pct_mito": [1.5, 1.8],
        "threshold_doublet_score": [0.21, np.nan],
    }
)
INFO = {
    "n_nuclei": 2010,
    "n_genes": 18000,
    "batches": 2,
    "harmony": True,
    "n_hvgs": 1234,
    "n_pcs": 17,
    "neighbors": "exact",
}
MARKERS = pd.DataFrame(
    {
        "cell_type": ["L2/3 IT", "Astro", "Oligo"],
        "class": ["", "", ""],
        "markers": [["Cux2", "Satb2"], ["Gfap", "Aqp4"], ["Mog", "Plp1"]],
    }
)
CLUSTERS = pd.DataFrame(
    {
        "cluster": ["0", "1", "2", "3"],
        "n_nuclei": [900, 600, 450, 60],
        "cell_type": ["L2/3 IT", "Oligo", "Astro", "Unassigned"],
        "status": ["assigned", "assigned", "assigned", "no_match"],
    }
)
#: pseudobulk samples.tsv: 3 animals x 3 types; one Astro sample too small.
PB_SAMPLES = pd.DataFrame(
    {
        "pseudobulk_sample": [f"a{i}|{t}" for i in range(3) for t in ("L2-3_IT", "Astro", "Oligo")],
        "sample": [f"a{i}" for i in range(3) for _ in range(3)],
        "cell_type": ["L2/3 IT", "Astro", "Oligo"] * 3,
        "n_nuclei": [300, 150, 200, 300, 5, 200, 300, 295, 200],
        "kept": [True, True, True, True, False, True, True, True, True],
    }
)
PLAN = pd.DataFrame(
    {
        "cell_type": ["L2/3 IT", "L2/3 IT", "Astro", "Astro", "Oligo", "Oligo", "Vip", "Vip"],
        "contrast": ["pain_vs_sham", "ketamine_rescue"] * 4,
        "status": [
            "tested",
            "tested",
            "skipped",
            "skipped",
            "tested",
            "skipped",
            "skipped",
            "skipped",
        ],
        "reason": [
            "",
            "",
            "too few replicates: 1 pain and 1 sham",
            "too few replicates: x",
            "",
            "only 12 genes pass the expression filter (< 50)",
            "no nuclei annotated as this cell type",
            "no nuclei annotated as this cell type",
        ],
        "n_genes": [9000, 9000, 0, 0, 7000, 7000, 0, 0],
    }
)
GENE_SETS = {"config/genesets/tiam1_rac1.gmt": 6, "c2.cp.gmt": 2000}
TABLES = [
    ("bulk", "pain_vs_sham"),
    ("bulk", "ketamine_rescue"),
    ("snrna/L2-3_IT", "pain_vs_sham"),
    ("snrna/L2-3_IT", "ketamine_rescue"),
]
RESCUE = {
    "pain_contrast": "pain_vs_sham",
    "ketamine_contrast": "ketamine_rescue",
    "interaction_design": "~ sex + batch + surgery * drug",
    "interaction_coefficient": "surgery[T.SNI]:drug[T.ketamine]",
    "interaction_levels": {"surgery": ["SNI", "sham"], "drug": ["ketamine", "saline"]},
    "equivalence_contrast": {
        "name": "pain_ketamine_vs_sham",
        "variable": "condition",
        "target": "pain_ketamine",
        "reference": "sham",
    },
}


#: contamination.tsv of the two samples: one with raw droplets, one without.
CONTAMINATION = pd.DataFrame(
    {
        "sample": ["s1", "s2"],
        "rho": [0.031, 0.092],
        "beta": [0.05, 0.2],
        "soup_basis": ["empty_droplets", "nuclei"],
        "coexpression_doublets": [3, 5],
    }
)


def methods_text(config, info=INFO, rescue=RESCUE) -> str:
    """Every Methods paragraph of the snRNA, enrichment and rescue parts, joined."""
    snrna, seed = config["snrna"], config["seed"]
    return "\n".join(
        [
            provenance.snrna_qc_methods(snrna["qc"], FILTERS, VERSIONS, seed),
            provenance.snrna_clustering_methods(snrna, info, MARKERS, CLUSTERS, VERSIONS, seed),
            provenance.snrna_pseudobulk_methods(
                config, VERSIONS, PB_SAMPLES, PLAN, {"sex": "F", "condition": "sham"}
            ),
            provenance.enrichment_methods(config, VERSIONS, GENE_SETS, TABLES),
            provenance.rescue_methods(config, rescue, ["bulk", "snRNA L2/3 IT"]),
            provenance.snrna_ambient_methods(snrna.get("ambient", {}), CONTAMINATION),
        ]
    )


def with_value(config, dotted, value):
    out = copy.deepcopy(config)
    *parents, last = dotted.split(".")
    node = out
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return out


#: (config key, unusual value, text that must then appear). Every threshold or setting a
#: reader needs to reproduce the analysis.
SETTINGS = [
    ("seed", 77, "random state 77"),
    ("snrna.qc.n_mads", 4.25, "more than 4.25 MADs below or above"),
    ("snrna.qc.mito_n_mads", 2.75, "median + 2.75 MADs"),
    ("snrna.qc.mito_pct_floor", 0.35, "within 0.35\u20135%"),
    ("snrna.qc.mito_pct_cap", 7.5, "within 1\u20137.5%"),
    ("snrna.qc.min_counts", 333, "a UMI count below 333 (fixed)"),
    ("snrna.qc.max_counts", 44444, "above 44444 (fixed)"),
    ("snrna.qc.min_genes", 222, "detected genes below 222 (fixed)"),
    ("snrna.qc.max_genes", 7777, "above 7777 (fixed)"),
    ("snrna.qc.max_pct_mito", 2.5, "more than 2.5% of its UMIs"),
    ("snrna.qc.expected_doublet_rate", 0.075, "expected doublet rate 0.075"),
    ("snrna.qc.doublet_threshold", 0.31, "doublet-score threshold 0.31"),
    ("snrna.qc.doublets", False, "Doublet detection with Scrublet was switched off"),
    ("snrna.integration.n_neighbors", 23, "A 23-nearest-neighbour graph"),
    ("snrna.integration.umap_min_dist", 0.15, "min_dist 0.15"),
    ("snrna.integration.batch_key", "cohort", "column 'cohort'"),
    ("snrna.annotation.resolution", 0.65, "resolution 0.65"),
    ("snrna.annotation.min_evidence", 1.7, "(i) that evidence was at least 1.7"),
    ("snrna.annotation.min_margin", 0.35, "was at least 0.35, as SingleR"),
    ("snrna.annotation.min_fraction", 0.55, "at least 55% of the cluster's nuclei"),
    ("snrna.annotation.min_score", 0.42, "its mean score was at least 0.42"),
    ("snrna.markers", "my/markers.tsv", "marker table my/markers.tsv"),
    ("snrna.composition.pseudocount", 0.25, "pseudocount of 0.25"),
    ("snrna.design", "~ batch + condition", "on the design ~ batch + condition"),
    ("snrna.pseudobulk.min_nuclei", 13, "fewer than 13 nuclei"),
    ("snrna.pseudobulk.min_counts", 2500, "fewer than 2,500 UMIs"),
    ("de.filter.min_count", 11, "min.count 11"),
    ("de.filter.min_total_count", 17, "min.total.count 17"),
    ("de.filter.large_n", 12, "large.n 12"),
    ("de.filter.min_prop", 0.6, "min.prop 0.6"),
    ("snrna.pseudobulk.min_genes", 66, "fewer than 66 genes left"),
    ("de.filter.method", "none", "Genes were not filtered before the fit"),
    ("snrna.ambient.method", "none", "Ambient RNA was neither estimated nor removed"),
    ("snrna.ambient.max_fraction", 0.4, "at least 0.4 is flagged mostly_ambient"),
    ("snrna.qc.coexpression_doublets", False, None),
    ("de.min_group_size", 3, "at least 3 animals"),
    ("de.alpha", 0.07, "alpha = 0.07"),
    ("de.independent_filter", False, "within each cell type \u00d7 contrast without independent"),
    ("de.lfc_shrink", False, None),
    ("enrichment.min_size", 7, "when 7 to 500 of its genes"),
    ("enrichment.max_size", 321, "when 5 to 321 of their genes"),
    ("enrichment.permutations", 2500, "from 2,500 random permutations"),
    ("enrichment.weight", 0.5, "|statistic|^0.5"),
    ("enrichment.fdr", 0.2, "when this FDR was below 0.2"),
    (
        "enrichment.across_datasets",
        "global",
        "Benjamini-Hochberg procedure over all dataset x set tests (global)",
    ),
    ("enrichment.focus_sets", ["SET_X"], "For the focus sets (SET_X)"),
    ("enrichment.ora.padj", 0.02, "(padj < 0.02)"),
    ("enrichment.ora.lfc_threshold", 0.58, "|log2 fold change| >= 0.58 (unshrunk)"),
    ("rescue.padj", 0.03, "its pain effect (DESeq2 padj < 0.03)"),
    ("rescue.gene_margin", 0.7, "within |log2 fold change| < 0.7"),
    ("rescue.set_margin", 1.2, "against a margin of 1.2 residual standard deviations"),
]


@pytest.mark.parametrize(("key", "value", "expected"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_every_setting_is_reflected_in_the_text(key, value, expected):
    default = methods_text(CONFIG)
    changed = methods_text(with_value(CONFIG, key, value))
    assert changed != default, f"{key} = {value!r} does not change the Methods text"
    if expected is not None:
        assert expected not in default
        assert expected in changed


def test_unassigned_clusters_are_counted_by_rule():
    clusters = pd.concat(
        [
            CLUSTERS,
            pd.DataFrame(
                {
                    "cluster": ["4", "5", "6"],
                    "n_nuclei": [40, 30, 20],
                    "cell_type": ["Unassigned"] * 3,
                    "status": ["two_classes", "low_agreement", "two_classes"],
                }
            ),
        ],
        ignore_index=True,
    )
    text = provenance.snrna_clustering_methods(
        CONFIG["snrna"], INFO, MARKERS, clusters, VERSIONS, CONFIG["seed"]
    )
    assert "Unassigned (4 of 7 clusters, 150 nuclei). Of these, 1 matched no type, " in text
    assert "2 had markers of two classes and 1 had too few agreeing nuclei. " in text


def test_default_text_names_tools_versions_and_numbers():
    text = methods_text(CONFIG)
    for phrase in [
        "Single-nucleus count matrices of 2 animals (2,200 nuclei in the input matrices)",
        "scanpy 1.11.5",
        "Scrublet (Wolock et al. 2019)",
        "as scDblFinder's doubletThresholding(method='optim') does",
        "per-sample thresholds 0.210",  # one sample was scored...
        "In 1 sample(s) fewer than 100 nuclei passed QC",  # ... the other was too small
        "per-sample lower limits 210\u2013260",
        "per-sample limits 1.50\u20131.80%",
        "In total 120 nuclei failed at least one QC filter (low UMI count 30, high UMI "
        "count 3, few detected genes 27, many detected genes 3, high mitochondrial fraction "
        "90; a nucleus can fail several) and 70 were removed as doublets by Scrublet.",
        "were removed as doublets as well (8 nuclei)",
        "2,010 nuclei were left (91.4%; 920\u20131,090 per animal)",
        "The 1,234 most highly variable genes",
        "reduced to 17 principal components",
        "Harmony (Korsunsky et al. 2019), with the algorithm and default parameters of "
        "harmonypy 0.0.10",
        "(exact Euclidean search, scikit-learn 1.9.1)",
        "on the Harmony-corrected components",
        "igraph 1.0.0",
        "(3 cell types, 6 marker genes)",
        "Unassigned (1 of 4 clusters, 60 nuclei). Of these, 1 matched no type.",
        "the 25th percentile of the clusters' mean scores",
        "t-test on the residual degrees of freedom",
        "sc.get.aggregate",
        "(1 of 9 animal \u00d7 cell type samples)",
        "3 of 8 cell type \u00d7 contrast combinations (2 cell types: L2/3 IT, Oligo; "
        "7,000\u20139,000 genes each) were tested; 5 were skipped",
        "too few replicates: 2",
        "no nuclei annotated as this cell type: 2",
        "too few genes pass the expression filter: 1",
        "same DESeq2 implementation and settings as the bulk data (PyDESeq2 0.5.4)",
        "reference levels sex = F, condition = sham",
        "Benjamini-Hochberg procedure within each cell type \u00d7 contrast",
        "4 DE tables (2 bulk; 2 snRNA pseudobulk, from 1 cell type)",
        "config/genesets/tiam1_rac1.gmt (6 sets); c2.cp.gmt (2000 sets)",
        "gseapy 1.3.1",
        "ranked by the DESeq2 Wald statistic",
        "seeded (20221215)",
        "from the null NES of all sets of the same gene-set file pooled",
        "gseapy.enrich",
        "background of every gene with an adjusted p-value",
        "(pain_vs_sham: condition pain vs sham)",
        "(ketamine_rescue: condition pain_ketamine vs pain)",
        "design ~ sex + batch + surgery * drug (reference levels surgery = sham, drug = saline)",
        "interaction coefficient surgery[T.SNI]:drug[T.ketamine] (the effect of "
        "drug ketamine vs saline in surgery = SNI minus that in surgery = sham)",
        "Contrasts (pain_vs_sham: condition pain vs sham; ketamine_rescue: condition "
        "pain_ketamine vs pain; ketamine_vs_sham: condition sham_ketamine vs sham) were "
        "tested with Wald tests",
    ]:
        assert phrase in text, phrase


def test_snrna_de_without_bulk_states_the_deseq2_settings():
    config = copy.deepcopy(CONFIG)
    config.pop("bulk")
    config["de"]["min_replicates_for_replace"] = 9
    text = provenance.snrna_pseudobulk_methods(config, VERSIONS, PB_SAMPLES, PLAN, {})
    assert "as the bulk data" not in text
    assert "PyDESeq2 0.5.4 (Muzellec et al. 2023)" in text
    assert "refitted in groups of at least 9 samples" in text
    assert "Cook's distance above the 0.99 quantile" in text


def test_no_harmony_and_no_interaction_say_so():
    info = {**INFO, "batches": 1, "harmony": False}
    rescue = {"pain_contrast": "pain_vs_sham", "ketamine_contrast": "ketamine_rescue"}
    text = methods_text(CONFIG, info=info, rescue=rescue)
    assert "harmonypy" not in text and "No batch integration was applied" in text
    assert "selected within each" not in text
    assert "on the principal components" in text
    assert "interaction" not in text


def test_why_harmony_did_not_run_is_given():
    info = {**INFO, "batches": 2, "harmony": False}
    skipped = methods_text(CONFIG, info=info)
    assert "too few nuclei for Harmony's clustering" in skipped
    config = copy.deepcopy(CONFIG)
    config["snrna"].setdefault("integration", {})["harmony"] = False
    switched_off = methods_text(config, info=info)
    assert "(snrna.integration.harmony: false)" in switched_off


def test_approximate_neighbour_search_is_named():
    info = {**INFO, "neighbors": "approximate (pynndescent)"}
    text = methods_text(CONFIG, info=info)
    assert "approximate Euclidean search with pynndescent 0.5.13" in text
    assert "exact Euclidean search" not in text


def test_snrna_counts_follow_every_step():
    rows = {r["step"]: r["n"] for r in provenance.snrna_counts(FILTERS, CLUSTERS, PB_SAMPLES, PLAN)}
    assert rows["snRNA: nuclei in the input matrices"] == 2200
    assert rows["snRNA: nuclei failing the low UMI count filter"] == 30
    assert rows["snRNA: nuclei failing the high mitochondrial fraction filter"] == 90
    assert rows["snRNA: nuclei failing any QC filter"] == 120
    assert rows["snRNA: doublets removed (Scrublet)"] == 70
    assert rows["snRNA: nuclei kept after QC"] == 2010
    assert rows["snRNA: nuclei annotated as L2/3 IT"] == 900
    assert rows["snRNA: nuclei Unassigned (left out of composition and pseudobulk)"] == 60
    assert rows["snRNA: pseudobulk samples dropped (too few nuclei or UMIs)"] == 1
    assert rows["snRNA: cell type \u00d7 contrast tested"] == 3
    assert rows["snRNA: cell type \u00d7 contrast skipped: too few replicates"] == 2
    # Per tested cell type, the nuclei of its kept pseudobulk samples only.
    assert rows["snRNA: nuclei in the 3 kept pseudobulk samples of Oligo (tested)"] == 600
    assert not any("of Astro (tested)" in step for step in rows)


def test_enrichment_counts_per_table():
    nes = pd.DataFrame(
        {
            "dataset": ["bulk"] * 4 + ["snrna/L2-3_IT"] * 4,
            "contrast": ["a", "a", "b", "b"] * 2,
            "tested": [True, True, True, True, True, False, True, True],
        }
    )
    rows = {
        r["step"]: r["n"]
        for r in provenance.enrichment_counts(nes, {"x.gmt": 2}, {"snrna/L2-3_IT": "snRNA L2/3 IT"})
    }
    assert rows == {
        "enrichment: gene sets in x.gmt": 2,
        "enrichment: DE tables analysed": 4,
        "enrichment: gene sets tested, bulk (each of 2 contrasts)": 2,
        "enrichment: gene sets tested, snRNA L2/3 IT, a": 1,
        "enrichment: gene sets tested, snRNA L2/3 IT, b": 2,
    }


@pytest.mark.parametrize(("n_nuclei", "harmony"), [(40, False), (240, True)])
def test_integration_info_says_whether_harmony_ran(tmp_path, n_nuclei, harmony):
    """With two batches Harmony is on, but below ~45 nuclei it cannot cluster and is
    skipped: the record (and so the Methods text) must say it did not run."""
    import json

    from acc_tiam1 import snrna

    rng = np.random.default_rng(0)
    adata = ad.AnnData(X=sparse.csr_matrix(rng.poisson(3, (n_nuclei, 60)).astype(np.float32)))
    adata.obs["batch"] = np.where(np.arange(n_nuclei) % 2, "b1", "b2")
    snrna.normalise(adata)
    info = snrna.integrate(adata, n_top_genes=40, n_pcs=5, n_neighbors=5)
    info.update(n_nuclei=adata.n_obs, n_genes=adata.n_vars)
    (tmp_path / "integration.json").write_text(json.dumps(info))
    read = provenance.read_integration_info(tmp_path / "integration.json")
    assert read == {
        "n_nuclei": n_nuclei,
        "n_genes": 60,
        "batches": 2,
        "harmony": harmony,
        "n_hvgs": 40,
        "n_pcs": 5,
        "neighbors": "exact",
    }
    assert ("X_pca_harmony" in adata.obsm) == harmony


def test_page_has_one_heading_per_paragraph_and_escapes():
    page = provenance.provenance_page(
        "Methods",
        {"Bulk RNA-seq": "a < b", "Gene-set enrichment": "c"},
        VERSIONS,
        {"seed": 1},
        pd.DataFrame([{"step": "x", "n": 1}]),
    )
    assert "<h3>Bulk RNA-seq</h3><p class='methods'>a &lt; b</p>" in page
    assert "<h3>Gene-set enrichment</h3>" in page


def test_bulk_counts_follow_every_step():
    sheet = pd.DataFrame(
        {"condition": ["sham", "pain", "pain"]}, index=pd.Index(["a", "b", "c"], name="sample")
    )
    qc = pd.DataFrame({"outlier": [False, True]}, index=["a", "b"])
    summary = pd.DataFrame({"contrast": ["pain_vs_sham"], "genes_tested": [812]})
    rows = {r["step"]: r["n"] for r in provenance.bulk_counts(sheet, qc, summary)}
    assert rows == {
        "bulk: samples in the sheet": 3,
        "bulk: samples analysed": 2,
        "bulk: samples flagged as outliers (kept)": 1,
        "bulk: genes tested, pain_vs_sham": 812,
    }


def test_reference_levels_are_the_ones_contrasts_name():
    sheet = pd.DataFrame(
        {"sex": ["M", "F", "M", "F"], "condition": ["pain", "sham", "pain_ketamine", "sham"]}
    )
    config = {
        "contrasts": [
            {"name": "a", "variable": "condition", "target": "pain", "reference": "sham"},
            {"name": "b", "variable": "condition", "target": "pain_ketamine", "reference": "sham"},
        ]
    }
    refs = provenance.reference_levels(sheet, "~ sex + condition", config)
    assert refs == {"sex": "F", "condition": "sham"}  # sex: alphabetical, as R factor()


# ---- Reads front end ----------------------------------------------------------------
#: ReadsInputs.settings of a salmon run under strandedness: auto.
READS_SALMON = {
    "quantifier": "salmon",
    "strandedness": "auto",
    "salmon_counts": "lengthScaledTPM",
    "salmon_decoys": True,
    "salmon_gencode": False,
    "star_sjdb_overhang": 100,
    "star_sa_index_nbases": None,
}
#: strandedness.tsv of four samples: three reverse, one undetermined.
STRANDEDNESS = pd.DataFrame(
    {
        "sample": ["m1", "m2", "m3", "m4"],
        "source": "salmon lib_format_counts",
        "forward_fraction": [0.05, 0.04, 0.06, 0.35],
        "inferred": ["reverse", "reverse", "reverse", "undetermined"],
        "configured": "auto",
        "used": "reverse",
        "flag": ["", "", "", "undetermined (forward fraction 0.35)"],
    }
)
#: cell_calling.tsv of two samples.
CELL_CALLING = pd.DataFrame(
    {
        "sample": ["n1", "n2"],
        "reads": [1_200_000, 1_500_000],
        "nuclei": [190, 210],
        "raw_barcodes_with_counts": [3100, 3300],
        "median_umis_per_nucleus": [780.0, 820.0],
        "intronic_fraction": [0.41, 0.45],
    }
)


def _checks(paired=True):
    """FASTQ check tables of the four bulk samples; m1 has two lanes."""
    read2 = "50-50" if paired else ""
    one = {"read1_length": "50-50", "read2_length": read2}
    return {
        "m1": pd.DataFrame(
            [{"unit": "L1", "reads": 20_000, **one}, {"unit": "L2", "reads": 21_000, **one}]
        ),
        **{
            s: pd.DataFrame([{"unit": "L1", "reads": n, **one}])
            for s, n in (("m2", 39_000), ("m3", 40_000), ("m4", 40_500))
        },
    }


def _reads_versions(tmp_path, quantifier):
    """VERSIONS plus the reads tools as rule provenance reads them from the outputs."""
    fastp = tmp_path / "m1.L1.fastp.json"
    fastp.write_text('{"summary": {"fastp_version": "0.23.2"}}')
    outputs = {"fastp": [fastp]}
    if quantifier == "salmon":
        tools = ["fastp", "salmon"]
        meta = tmp_path / "meta_info.json"
        meta.write_text('{"salmon_version": "1.10.1", "num_processed": 40000}')
        outputs["salmon"] = [meta]
    else:
        tools = ["fastp", "STAR", "featureCounts"]
        fc = tmp_path / "m1.tsv"
        fc.write_text('# Program:featureCounts v2.0.3; Command:"featureCounts" "-T" "4"\nGeneid\n')
        outputs["featureCounts"] = [fc]
    reads_versions = provenance.reads_tool_versions(tools, outputs)
    multiqc = pd.DataFrame({"package": ["multiqc"], "version": ["1.28"]})
    return pd.concat([VERSIONS, reads_versions, multiqc], ignore_index=True)


def test_reads_versions_come_from_outputs_else_the_pinned_ones(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text('{"summary": {"fastp_version": "0.23.2"}}')
    b.write_text('{"summary": {"fastp_version": "0.23.4"}}')
    table = provenance.reads_tool_versions(["fastp", "STAR"], {"fastp": [a, b]})
    got = dict(zip(table["package"], table["version"], strict=True))
    assert got == {"fastp": "0.23.2, 0.23.4", "STAR": "2.7.10b (pinned)"}


def test_reads_per_sample_sums_units_and_sees_the_layout():
    table = provenance.reads_per_sample(_checks()).set_index("sample")
    assert table.loc["m1", "units"] == 2
    assert table.loc["m1", "reads"] == 41_000
    assert table["paired"].all()
    assert not provenance.reads_per_sample(_checks(paired=False))["paired"].any()


def test_bulk_reads_paragraph_salmon(tmp_path):
    versions = _reads_versions(tmp_path, "salmon")
    reads = provenance.reads_per_sample(_checks())
    methods = provenance.reads_methods(READS_SALMON, versions, STRANDEDNESS, reads)
    assert list(methods) == ["Bulk RNA-seq: reads to counts"]
    text = methods["Bulk RNA-seq: reads to counts"]
    for expected in (
        "4 samples (paired-end; 5 sequencing units",
        "39,000\u201341,000 read pairs per sample",
        "fastp 0.23.2 (Chen et al. 2018)",
        "salmon 1.10.1 (Patro et al. 2017)",
        "--validateMappings",
        "decoy-aware index",
        "detected from the reads (-l A)",
        "transcript-to-gene map",
        "lengthScaledTPM",
        "at least 0.8, reverse when at most 0.2, unstranded when between 0.45 and 0.55",
        "0 forward, 3 reverse, 0 unstranded, 1 undetermined",
        "m4: undetermined (forward fraction 0.35)",
        "MultiQC 1.28 (Ewels et al. 2016)",
        "(fastp, salmon, the strandedness table)",
    ):
        assert expected in text, expected
    assert "STAR" not in text and "featureCounts" not in text
    counts = pd.DataFrame(provenance.reads_counts(reads, None)).set_index("step")["n"]
    assert counts["bulk reads: sequencing units"] == 5
    assert counts["bulk reads: reads (pairs) in all units"] == 160_500


def test_bulk_reads_paragraph_star_with_configured_strandedness(tmp_path):
    settings = {**READS_SALMON, "quantifier": "star", "strandedness": "reverse"}
    versions = _reads_versions(tmp_path, "star")
    strand = STRANDEDNESS.assign(used="reverse", configured="reverse")
    text = provenance.reads_bulk_methods(settings, versions, strand)
    for expected in (
        "4 samples were processed",
        "STAR 2.7.10b (the version the workflow pins; Dobin et al. 2013",
        "--sjdbOverhang 100",
        "featureCounts (subread 2.0.3; Liao et al. 2014)",
        "--countReadPairs",
        "STAR's per-gene counts",
        "bulk.strandedness: reverse) was used for featureCounts",
    ):
        assert expected in text, expected
    assert "salmon" not in text and "Patro" not in text


def test_snrna_reads_paragraph_names_starsolo_and_the_nuclei_called():
    settings = {
        **READS_SALMON,
        "chemistry": "v3",
        "cell_filter": "EmptyDrops_CR 200 0.99 10 500 3000 100 0.01 20000 0.01 10000",
    }
    versions = pd.concat(
        [VERSIONS, pd.DataFrame({"package": ["STAR", "multiqc"], "version": ["2.7.10b", "1.28"]})],
        ignore_index=True,
    )
    methods = provenance.reads_methods(settings, versions, cell_calling=CELL_CALLING)
    assert list(methods) == ["Single-nucleus RNA-seq: reads to counts"]
    text = methods["Single-nucleus RNA-seq: reads to counts"]
    for expected in (
        "10x Chromium 3' v3 reads of 2 samples",
        "STARsolo (STAR 2.7.10b; Dobin et al. 2013, Kaminow et al. 2021)",
        "--soloType CB_UMI_Simple (16 bp cell barcode and 12 bp UMI",
        "--soloFeatures GeneFull",
        "--soloCellFilter EmptyDrops_CR 200 0.99 10 500 3000",
        "400 barcodes were called as nuclei (n1 190, n2 210;",
        "out of 6,400 barcodes",
        "0.41\u20130.45",
        "MultiQC 1.28",
        "(STARsolo, the cell-calling table)",
    ):
        assert expected in text, expected
    counts = pd.DataFrame(provenance.reads_counts(None, CELL_CALLING)).set_index("step")["n"]
    assert counts["10x reads: barcodes called as nuclei"] == 400


def test_both_reads_paragraphs_share_one_multiqc_sentence(tmp_path):
    settings = {**READS_SALMON, "chemistry": "v3", "cell_filter": "EmptyDrops_CR"}
    versions = _reads_versions(tmp_path, "salmon")
    methods = provenance.reads_methods(
        settings, versions, STRANDEDNESS, provenance.reads_per_sample(_checks()), CELL_CALLING
    )
    assert list(methods) == [
        "Bulk RNA-seq: reads to counts",
        "Single-nucleus RNA-seq: reads to counts",
    ]
    assert "MultiQC" not in methods["Bulk RNA-seq: reads to counts"]
    assert (
        "(fastp, salmon, the strandedness table, STARsolo, the cell-calling table)"
        in (methods["Single-nucleus RNA-seq: reads to counts"])
    )


def test_no_reads_paragraph_without_units():
    from acc_tiam1 import reads

    assert not reads.check_reads(CONFIG).active
    assert provenance.reads_methods(None, VERSIONS) == {}
    assert provenance.reads_methods(READS_SALMON, VERSIONS) == {}
    assert provenance.reads_counts(None, None) == []
