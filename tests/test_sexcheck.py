"""Sex check: Xist against the chrY genes, per animal, compared with the sample sheet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import plotting, sexcheck
from acc_tiam1.errors import InputError
from scipy import sparse

GENES = ["Xist", "Ddx3y", "Eif2s3y", "Uty", "Kdm5d"] + [f"G{i}" for i in range(2000)]


def bulk_counts(sexes, depth=2e7, seed=0):
    """Genes x samples: Xist ~100 CPM in females, chrY ~40 CPM in males, noise elsewhere."""
    rng = np.random.default_rng(seed)
    base = rng.gamma(0.6, 1.0, len(GENES))
    cols = {}
    for i, sex in enumerate(sexes):
        p = base.copy()
        p[0] = 100e-6 * base.sum() if sex == "F" else 0.3e-6 * base.sum()
        p[1:5] = (10e-6 if sex == "M" else 0.02e-6) * base.sum()
        cols[f"S{i}"] = rng.poisson(p / p.sum() * depth)
    return pd.DataFrame(cols, index=GENES)


@pytest.fixture
def sheet():
    return pd.DataFrame(
        {"sex": ["F", "female", "M", "male", "F", "M"]}, index=[f"S{i}" for i in range(6)]
    )


def test_correct_samples_match(sheet):
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMFM")))
    out, mismatches = sexcheck.sex_check(table, sheet)
    assert mismatches == []
    assert out["inferred_sex"].tolist() == ["female", "female", "male", "male", "female", "male"]
    assert (out["status"] == "match").all()
    assert out.loc["S0", "xist_cpm"] > 50 and out.loc["S2", "chrY_cpm"] > 20


def test_swapped_sample_is_flagged(sheet):
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMMM")))  # S4 is really male
    out, mismatches = sexcheck.sex_check(table, sheet)
    assert mismatches == ["S4"]
    assert out.loc["S4", "status"] == "mismatch" and out.loc["S4", "sheet_sex"] == "female"
    assert (out.drop("S4")["status"] == "match").all()


def test_low_counts_are_undetermined(sheet):
    # 500k counts: Xist (~50 counts) or chrY (~20) still decide
    small = sexcheck.infer_sex(sexcheck.sex_gene_counts(bulk_counts(list("FFMMFM"), 5e5)))
    assert small["inferred_sex"].tolist()[:3] == ["female", "female", "male"]
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMFM"), depth=5e4))
    out, mismatches = sexcheck.sex_check(table, sheet)
    assert (out["inferred_sex"] == "undetermined").all() and mismatches == []
    assert out["reason"].str.startswith("too few counts").all()
    assert (out["status"] == "undetermined").all()


def test_missing_sheet_column_is_undetermined(sheet):
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMFM")))
    out, mismatches = sexcheck.sex_check(table, sheet.rename(columns={"sex": "gender"}))
    assert out["inferred_sex"].tolist()[:3] == ["female", "female", "male"]
    assert (out["status"] == "undetermined").all() and mismatches == []
    out2, _ = sexcheck.sex_check(table, None)
    assert out2["sheet_sex"].isna().all()


def test_both_or_neither_expressed_is_undetermined():
    counts = bulk_counts(list("FM"))
    chry = ["Ddx3y", "Eif2s3y", "Uty", "Kdm5d"]
    counts.loc[chry, "S0"] = counts.loc[chry, "S1"].to_numpy()  # female with male chrY too
    counts.loc[chry, "S1"] = 0  # male with no chrY
    out = sexcheck.infer_sex(sexcheck.sex_gene_counts(counts))
    assert out["inferred_sex"].tolist() == ["undetermined", "undetermined"]
    assert "both" in out.loc["S0", "reason"] and "neither" in out.loc["S1", "reason"]


def test_genes_missing_from_the_data():
    counts = bulk_counts(list("FM")).drop(index="Xist")
    out = sexcheck.infer_sex(sexcheck.sex_gene_counts(counts))
    assert (out["inferred_sex"] == "undetermined").all()
    assert out["reason"].str.contains("not in the data").all()


def test_sheet_values_and_unknown_samples(sheet):
    assert [sexcheck.normalise_sex(v) for v in ["F", " Male", "m", "x", None, np.nan]] == [
        "female",
        "male",
        "male",
        None,
        None,
        None,
    ]
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMFMF")))
    with pytest.raises(InputError, match="S6"):
        sexcheck.sex_check(table, sheet)


def test_pseudobulk_from_nuclei_equals_bulk_sum():
    rng = np.random.default_rng(3)
    x = sparse.csr_matrix(rng.poisson(0.5, (60, len(GENES))))
    samples = np.repeat(["A", "B", "C"], 20)
    table = sexcheck.sex_gene_counts_nuclei(x, GENES, samples)
    dense = pd.DataFrame(x.toarray().T, index=GENES)
    bulk = pd.DataFrame({s: dense.loc[:, samples == s].sum(axis=1) for s in "ABC"})
    pd.testing.assert_frame_equal(
        table, sexcheck.sex_gene_counts(bulk), check_dtype=False, check_names=False
    )


def test_plot(tmp_path, sheet):
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMMM")))
    out, _ = sexcheck.sex_check(table, sheet)
    fig = sexcheck.plot_sex_check(out)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert labels == ["S4 (sheet female)"]
    plotting.save(fig, tmp_path / "sex.png")
    assert (tmp_path / "sex.png").stat().st_size > 1000


def test_mismatch_warns_or_stops(sheet, caplog):
    table = sexcheck.sex_gene_counts(bulk_counts(list("FFMMMM")))
    out, mismatches = sexcheck.sex_check(table, sheet)
    assert mismatches == ["S4"]
    sexcheck.act_on_mismatches(mismatches, out, "warn", "sheet.tsv")
    assert "S4 (sheet: female, data: male)" in caplog.text
    with pytest.raises(InputError, match=r"S4 \(sheet: female, data: male\).*sex_mismatch"):
        sexcheck.act_on_mismatches(mismatches, out, "error", "sheet.tsv")
    sexcheck.act_on_mismatches([], out, "error", "sheet.tsv")  # nothing to stop on
