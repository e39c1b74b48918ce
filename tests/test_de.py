"""The shared DE module: orientation of fold changes, shrinkage, filtering, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import de, design
from acc_tiam1.design import Contrast

PAIN = Contrast("pain_vs_sham", "condition", "pain", "sham")
RESCUE = Contrast("ketamine_rescue", "condition", "pain_ketamine", "pain")


@pytest.fixture(scope="module")
def study():
    """300 genes x 12 samples; gene g0..g19 up 4x in pain, back to baseline with ketamine.

    Returns counts, gene symbols, the sample sheet and the design variables.
    """
    rng = np.random.default_rng(7)
    groups = ["sham"] * 4 + ["pain"] * 4 + ["pain_ketamine"] * 4
    sheet = pd.DataFrame(
        {"condition": groups, "sex": ["F", "M"] * 6},
        index=[f"s{i:02d}" for i in range(12)],
    )
    mu = np.exp(rng.normal(5, 1, 300))
    mu = np.outer(mu, np.ones(12))
    mu[:20, 4:8] *= 4.0
    disp = 0.05
    counts = rng.negative_binomial(1 / disp, 1 / (1 + disp * mu))
    counts[299] = 0  # all-zero gene: no test, NaN p-value
    ids = [f"g{i}" for i in range(300)]
    counts = pd.DataFrame(counts, index=pd.Index(ids, name="gene_id"), columns=sheet.index)
    genes = pd.DataFrame({"gene": [f"Sym{i}" for i in range(300)]}, index=counts.index)
    coldata = design.make_coldata(sheet, "~ sex + condition", [PAIN, RESCUE])
    return counts, genes, sheet, coldata


@pytest.fixture(scope="module")
def simulated(study):
    """The fit of :func:`study` and its gene symbols."""
    counts, genes, _, coldata = study
    return de.fit_deseq(counts, coldata, "~ sex + condition"), genes


def test_fold_change_is_target_over_reference(simulated):
    dds, genes = simulated
    pain = de.contrast_table(dds, PAIN, genes).set_index("gene_id")
    rescue = de.contrast_table(dds, RESCUE, genes).set_index("gene_id")
    planted = [f"g{i}" for i in range(20)]
    assert (pain.loc[planted, "log2FoldChange"] > 1).all()
    assert (rescue.loc[planted, "log2FoldChange"] < -1).all()
    assert pain.loc[planted, "log2FoldChange"].median() == pytest.approx(2.0, abs=0.3)
    assert (pain.loc[planted, "padj"] < 0.05).mean() >= 0.9
    # Few of the 279 unchanged genes reach padj < 0.05.
    assert (pain.drop(planted)["padj"] < 0.05).sum() <= 5


def test_columns_sorting_and_shrinkage_label(simulated):
    dds, genes = simulated
    pain = de.contrast_table(dds, PAIN, genes)
    assert pain.columns.tolist() == de.DE_COLUMNS
    p = pain["pvalue"].to_numpy()
    finite = p[~np.isnan(p)]
    assert (np.diff(finite) >= 0).all()
    assert np.isnan(p[-1]) and pain["gene_id"].iloc[-1] == "g299"
    assert pain["lfc_shrinkage"].iloc[0] == "apeglm (condition[T.pain])"
    assert pain["log2FoldChange_shrunk"].notna().sum() > 250
    shrunk = pain.set_index("gene_id").loc["g0"]
    # Shrinkage pulls estimates towards zero but keeps strong effects.
    assert 0 < shrunk["log2FoldChange_shrunk"] <= shrunk["log2FoldChange"] + 1e-6
    rescue = de.contrast_table(dds, RESCUE, genes)
    assert rescue["lfc_shrinkage"].iloc[0].startswith("none (contrast is not a single")
    assert rescue["log2FoldChange_shrunk"].isna().all()
    assert pain.loc[pain["gene_id"] == "g5", "gene"].item() == "Sym5"


def test_alpha_changes_independent_filtering_only(simulated):
    dds, genes = simulated
    a = de.contrast_table(dds, PAIN, genes, alpha=0.1).set_index("gene_id")
    b = de.contrast_table(dds, PAIN, genes, alpha=0.05).set_index("gene_id")
    pd.testing.assert_series_equal(a["stat"], b.loc[a.index, "stat"])
    off = de.contrast_table(dds, PAIN, genes, independent_filter=False).set_index("gene_id")
    # Plain BH on every tested gene: only untested genes lack padj.
    assert off["padj"].isna().sum() == off["pvalue"].isna().sum()


def test_results_are_deterministic(simulated):
    dds, genes = simulated
    first = de.contrast_table(dds, PAIN, genes)
    again = de.contrast_table(dds, PAIN, genes)
    pd.testing.assert_frame_equal(first, again)


def test_untested_table_has_the_columns_and_no_genes():
    table = de.untested_table()
    assert list(table.columns) == de.DE_COLUMNS and table.empty


SETTINGS = {
    "alpha": 0.1,
    "cooks_filter": True,
    "independent_filter": True,
    "lfc_shrink": True,
    "min_replicates_for_replace": 7,
}
EQUIVALENCE = {
    "name": "ketamine_vs_sham",
    "variable": "condition",
    "target": "pain_ketamine",
    "reference": "sham",
    "margin": 0.5,
    "requires": ["pain_vs_sham", "ketamine_rescue"],
}


def test_fit_dataset_is_the_fit_and_tests_of_one_dataset(study, simulated, tmp_path):
    """Every configured contrast gets a table in config order; the tested ones equal
    contrast_table on the same fit, annotated; the untested one has columns only."""
    counts, genes, sheet, _ = study
    dds, _ = simulated
    names = ["pain_vs_sham", "other", "ketamine_rescue"]
    seen = []

    def annotate(table):
        seen.append(len(table))
        return table.assign(flag=True)

    result = de.fit_dataset(
        counts,
        genes,
        sheet,
        "~ sex + condition",
        [PAIN, RESCUE],
        names,
        SETTINGS,
        equivalence=EQUIVALENCE,
        annotate=annotate,
    )
    assert list(result.tables) == names and seen == [300, 300]
    pd.testing.assert_frame_equal(
        result.tables["pain_vs_sham"].drop(columns="flag"), de.contrast_table(dds, PAIN, genes)
    )
    assert result.tables["other"].empty and list(result.tables["other"]) == de.DE_COLUMNS
    pd.testing.assert_frame_equal(result.normalized, de.normalized_counts(dds, genes))
    tested = ["pain_vs_sham", "ketamine_rescue", EQUIVALENCE["name"]]
    assert list(result.contrasts.columns) == tested
    assert len(result.equivalence) == 300

    # Without the pain contrast the equivalence comparison is not run.
    alone = de.fit_dataset(
        counts, genes, sheet, "~ sex + condition", [RESCUE], names, SETTINGS, EQUIVALENCE
    )
    assert alone.equivalence.empty and list(alone.contrasts.columns) == ["ketamine_rescue"]
    assert alone.tables["pain_vs_sham"].empty

    tables = [tmp_path / f"{n}.tsv" for n in names]
    model = {k: tmp_path / f"{k}.tsv" for k in de.MODEL_OUTPUTS}
    result.write(tables, model)
    back = pd.read_csv(tables[0], sep="\t")
    assert len(back) == 300 and back["flag"].all()
    assert pd.read_csv(tables[1], sep="\t").columns.tolist() == de.DE_COLUMNS


def test_untested_dataset_writes_every_file_with_columns_only(tmp_path):
    names = ["pain_vs_sham", "ketamine_rescue"]
    tables = [tmp_path / f"{n}.tsv" for n in names]
    model = {k: tmp_path / f"{k}.tsv" for k in de.MODEL_OUTPUTS}
    de.untested_dataset(names).write(tables, model)
    for path in tables:
        assert pd.read_csv(path, sep="\t").columns.tolist() == de.DE_COLUMNS
    assert pd.read_csv(model["normalized"], sep="\t").columns.tolist() == ["gene_id", "gene"]
    assert pd.read_csv(model["equivalence"], sep="\t").columns.tolist() == de.EQUIVALENCE_COLUMNS
    for kind in ("design", "contrasts", "normalized", "equivalence"):
        assert pd.read_csv(model[kind], sep="\t").empty


def test_normalized_counts_and_summary(simulated):
    dds, genes = simulated
    norm = de.normalized_counts(dds, genes)
    assert norm.columns[0] == "gene" and norm.shape == (300, 13)
    summary = de.summarise_tables({"pain": de.contrast_table(dds, PAIN, genes)}, 0.1)
    assert summary.loc[0, "up_padj_lt_0.1"] >= 18
    assert summary.loc[0, "genes_tested"] == 299


@pytest.mark.r
@pytest.mark.parametrize("sizes", [(3, 4), (2, 14, 25)])
def test_filter_by_expr_equals_edger(tmp_path, sizes):
    """The gene filter keeps exactly the genes edgeR's filterByExpr(y, group=) keeps.

    Unequal groups and a group above ``large.n`` (the min.prop branch); low counts around
    the CPM cut-off so both criteria decide for some genes.
    """
    import subprocess

    from _helpers import r_package_missing

    reason = r_package_missing("edgeR")
    if reason:
        pytest.skip(reason)
    rng = np.random.default_rng(sum(sizes))
    groups = [f"grp{i}" for i, n in enumerate(sizes) for _ in range(n)]
    n_samples = len(groups)
    mu = np.exp(rng.uniform(-1.5, 4.0, 2000))[:, None] * rng.uniform(0.5, 2.0, n_samples)
    counts = pd.DataFrame(rng.negative_binomial(5, 5 / (5 + mu)))
    counts.to_csv(tmp_path / "y.tsv", sep="\t", index=False)
    pd.Series(groups).to_csv(tmp_path / "g.tsv", sep="\t", index=False, header=False)
    script = (
        "suppressMessages(library(edgeR)); "
        "y <- as.matrix(read.delim('y.tsv')); "
        "g <- read.delim('g.tsv', header = FALSE)[[1]]; "
        "writeLines(as.character(as.integer(filterByExpr(y, group = g))), 'keep.txt')"
    )
    subprocess.run(["Rscript", "-e", script], cwd=tmp_path, check=True, capture_output=True)
    r_keep = np.loadtxt(tmp_path / "keep.txt", dtype=int).astype(bool)
    ours = de.filter_by_expr(counts, groups)
    assert 0.2 < ours.mean() < 0.9  # the cut-off decides for many genes
    np.testing.assert_array_equal(ours, r_keep)
