"""Unit tests of the single-nucleus library: readers, checks, QC, annotation, pseudobulk."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import de, demo, inputs, io, snrna
from acc_tiam1.design import Contrast
from acc_tiam1.errors import InputError
from conftest import REPO
from scipy import sparse

MARKERS = REPO / "config" / "markers" / "acc_markers.tsv"
GMT = REPO / "config" / "genesets" / "tiam1_rac1.gmt"
CONTRASTS = [
    Contrast("pain_vs_sham", "condition", "pain", "sham"),
    Contrast("ketamine_rescue", "condition", "pain_ketamine", "pain"),
]


@pytest.fixture(scope="module")
def study():
    modules = demo.demo_modules(GMT)
    return demo.build_study(
        io.read_markers(MARKERS),
        modules,
        n_genes=1500,
        seed=3,
        cell_types=["L2/3 IT", "L5 ET", "Sst", "Astro", "Oligo", "Microglia"],
    )


@pytest.fixture(scope="module")
def sample(study):
    adata, truth = demo.simulate_sample(
        study, "S1", {"condition": "pain", "sex": "F", "batch": "b1"}, 0, 400
    )
    return adata, truth


def small_counts(n_obs=30, n_vars=20, seed=0):
    rng = np.random.default_rng(seed)
    x = sparse.csr_matrix(rng.poisson(2, (n_obs, n_vars)).astype(np.int32))
    var = pd.DataFrame(
        {"gene": [f"G{i}" for i in range(n_vars - 2)] + ["mt-Co1", "mt-Nd1"]},
        index=[f"ID{i}" for i in range(n_vars)],
    )
    return ad.AnnData(X=x, obs=pd.DataFrame(index=[f"BC{i}-1" for i in range(n_obs)]), var=var)


# --- names --------------------------------------------------------------------------


def test_safe_name_examples():
    assert snrna.safe_name("L2/3 IT") == "L2-3_IT"
    assert snrna.safe_name("L6 IT Car3") == "L6_IT_Car3"
    assert snrna.safe_name("L5/6 NP") == "L5-6_NP"
    assert snrna.safe_name("Astro (reactive)") == "Astro__reactive"
    markers = io.read_markers(MARKERS)
    safe = snrna.safe_names(markers["cell_type"])
    assert len(set(safe.values())) == len(markers)


def test_safe_name_collision_is_an_error():
    with pytest.raises(InputError, match="same file-safe name 'L2-3_IT'"):
        snrna.safe_names(["L2/3 IT", "L2-3 IT"], where="markers.tsv")
    with pytest.raises(InputError, match="reserved"):
        snrna.safe_names(["Unassigned"])


# --- readers ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["s.h5", "folder", "s.h5ad"])
def test_readers_round_trip(tmp_path, sample, name):
    adata, _ = sample
    path = tmp_path / name
    demo.write_sample(adata, path)
    back = snrna.read_sample(path, "S1")
    assert back.shape == adata.shape
    assert back.X.dtype == np.int32
    assert (back.X != adata.X).nnz == 0
    assert list(back.var_names) == list(adata.var_names)
    assert list(back.var["gene"]) == list(adata.var["gene"])
    assert list(back.obs_names) == list(adata.obs_names)


def test_starsolo_uncompressed_folder(tmp_path):
    a = small_counts()
    folder = tmp_path / "Solo.out" / "Gene" / "filtered"
    folder.mkdir(parents=True)
    from scipy.io import mmwrite

    mmwrite(folder / "matrix.mtx", sparse.csr_matrix(a.X).T.tocoo(), field="integer")
    (folder / "barcodes.tsv").write_text("\n".join(a.obs_names) + "\n")
    (folder / "features.tsv").write_text(
        "".join(
            f"{i}\t{g}\tGene Expression\n" for i, g in zip(a.var_names, a.var["gene"], strict=True)
        )
    )
    back = snrna.read_sample(folder, "S2")
    assert back.shape == a.shape and back.X.sum() == a.X.sum()


def test_h5ad_counts_in_x(tmp_path):
    a = small_counts()
    a.write_h5ad(tmp_path / "x.h5ad")
    assert snrna.read_sample(tmp_path / "x.h5ad", "S").X.sum() == a.X.sum()


def test_missing_input(tmp_path):
    with pytest.raises(InputError, match="sample 'S9': input does not exist") as err:
        snrna.read_sample(tmp_path / "nope.h5", "S9")
    assert "nope.h5" in str(err.value)


def test_unreadable_input(tmp_path, monkeypatch):
    path = tmp_path / "s.h5"
    path.write_bytes(b"x")
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    with pytest.raises(InputError, match="sample 'S1': input is not readable"):
        snrna.read_sample(path, "S1")


def test_h5_that_is_not_10x(tmp_path):
    path = tmp_path / "anndata.h5"
    small_counts().write_h5ad(path)
    with pytest.raises(InputError, match=r"sample 'S3': this \.h5 is not a 10x") as err:
        snrna.read_sample(path, "S3")
    assert "name it .h5ad" in str(err.value) and str(path) in str(err.value)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("foo", data=[1, 2])
    with pytest.raises(InputError, match="top-level keys: foo"):
        snrna.read_sample(other, "S3")
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(InputError, match="not an HDF5 file"):
        snrna.read_sample(text, "S3")


def test_sample_with_no_data(tmp_path):
    empty = small_counts(n_obs=0)
    demo.write_10x_h5(empty, tmp_path / "empty.h5")
    with pytest.raises(InputError, match=r"sample 'S4': no data \(0 barcodes"):
        snrna.read_sample(tmp_path / "empty.h5", "S4")
    zeros = small_counts()
    zeros.X = sparse.csr_matrix(zeros.shape, dtype=np.int32)
    zeros.write_h5ad(tmp_path / "zeros.h5ad")
    with pytest.raises(InputError, match="every count is 0"):
        snrna.read_sample(tmp_path / "zeros.h5ad", "S4")


def test_non_integer_h5ad(tmp_path):
    a = small_counts()
    a.X = a.X.astype(np.float32) / 3
    a.write_h5ad(tmp_path / "lognorm.h5ad")
    with pytest.raises(InputError, match=r"sample 'S5': X holds non-integer values") as err:
        snrna.read_sample(tmp_path / "lognorm.h5ad", "S5")
    assert "lognorm.h5ad" in str(err.value)
    b = small_counts()
    b.layers["counts"] = b.X.astype(np.float32) * 0.5
    b.write_h5ad(tmp_path / "layer.h5ad")
    with pytest.raises(InputError, match=r"layers\['counts'\] holds non-integer"):
        snrna.read_sample(tmp_path / "layer.h5ad", "S5")


def test_negative_counts(tmp_path):
    a = small_counts()
    a.X = a.X.astype(np.float32)
    a.X[0, 0] = -1
    a.write_h5ad(tmp_path / "neg.h5ad")
    with pytest.raises(InputError, match="negative values"):
        snrna.read_sample(tmp_path / "neg.h5ad", "S6")


def test_matrix_folder_missing_file(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "matrix.mtx.gz").write_bytes(gzip.compress(b""))
    with pytest.raises(InputError, match=r"no barcodes\.tsv\.gz or barcodes\.tsv"):
        snrna.read_sample(tmp_path / "m", "S7")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "counts.loom"
    path.write_text("x")
    with pytest.raises(InputError, match=r"unsupported input 'counts\.loom'"):
        snrna.read_sample(path, "S8")


# --- parse-time config checks -------------------------------------------------------


def write_sheet(tmp_path, paths, conditions=None):
    conditions = conditions or ["sham", "sham", "pain", "pain", "pain_ketamine", "pain_ketamine"]
    sheet = pd.DataFrame(
        {
            "sample": [f"S{i}" for i in range(len(paths))],
            "path": paths,
            "condition": conditions[: len(paths)],
            "sex": ["F", "M"] * (len(paths) // 2),
        }
    )
    path = tmp_path / "sheets" / "sn.tsv"
    path.parent.mkdir(exist_ok=True)
    sheet.to_csv(path, sep="\t", index=False)
    return path


def snrna_config(sheet, contrasts=CONTRASTS):
    return {
        "snrna": {"samples": str(sheet), "design": "~ sex + condition", "markers": str(MARKERS)},
        "contrasts": [c.__dict__ for c in contrasts],
        "de": {"min_group_size": 2},
    }


def test_check_snrna_resolves_paths_relative_to_sheet(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(6):
        (data / f"s{i}.h5").write_bytes(b"")
    sheet = write_sheet(tmp_path, [f"../data/s{i}.h5" for i in range(6)])
    checked = inputs.check_snrna(snrna_config(sheet))
    assert checked.paths["S0"] == os.path.normpath(str(data / "s0.h5"))
    assert checked.safe["L2/3 IT"] == "L2-3_IT"
    assert checked.label("L2-3_IT") == "L2/3 IT"
    assert inputs.check_snrna({"contrasts": []}) is None


def test_check_snrna_missing_path_names_sample_and_sheet(tmp_path):
    sheet = write_sheet(tmp_path, [f"s{i}.h5" for i in range(6)])
    with pytest.raises(InputError, match=r"sample 'S0': path '.*s0\.h5' does not exist") as e:
        inputs.check_snrna(snrna_config(sheet))
    assert str(sheet) in str(e.value)
    # A path a demo rule writes is accepted before it exists.
    producible = [os.path.normpath(str(sheet.parent / f"s{i}.h5")) for i in range(6)]
    assert inputs.check_snrna(snrna_config(sheet), producible=producible) is not None


def test_check_snrna_unreadable_and_bad_folder(tmp_path, monkeypatch):
    (tmp_path / "sheets").mkdir()
    for i in range(6):
        (tmp_path / "sheets" / f"m{i}").mkdir()
    sheet = write_sheet(tmp_path, [f"m{i}" for i in range(6)])
    with pytest.raises(InputError, match=r"sample 'S0': .*matrix folder has no matrix\.mtx\.gz"):
        inputs.check_snrna(snrna_config(sheet))
    for i in range(6):
        (tmp_path / "sheets" / f"f{i}.h5ad").write_text("")
    sheet = write_sheet(tmp_path, [f"f{i}.h5ad" for i in range(6)])
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, m: not str(p).endswith("f0.h5ad") and real_access(p, m)
    )
    with pytest.raises(InputError, match=r"sample 'S0': path .* is not readable"):
        inputs.check_snrna(snrna_config(sheet))


def test_check_snrna_contrast_level_without_samples(tmp_path):
    for i in range(6):
        (tmp_path / f"s{i}.h5").write_bytes(b"")
    sheet = write_sheet(
        tmp_path,
        [str(tmp_path / f"s{i}.h5") for i in range(6)],
        conditions=["sham", "sham", "pain", "pain", "pain", "pain"],
    )
    with pytest.raises(
        InputError,
        match="contrast 'ketamine_rescue': no single-nucleus sample "
        "has condition = 'pain_ketamine'",
    ) as e:
        inputs.check_snrna(snrna_config(sheet))
    assert str(sheet) in str(e.value)


def test_check_snrna_needs_path_column(tmp_path):
    sheet = tmp_path / "sn.tsv"
    pd.DataFrame({"sample": ["a"], "condition": ["sham"]}).to_csv(sheet, sep="\t", index=False)
    with pytest.raises(InputError, match="no column 'path'"):
        inputs.check_snrna(snrna_config(sheet))


def test_demo_snrna_outputs_match_demo_sheet(monkeypatch):
    monkeypatch.chdir(REPO)
    outputs = inputs.demo_snrna_outputs()
    assert all(o.startswith("resources/demo/snrna/") for o in outputs)
    sheet = io.read_sample_sheet(inputs.DEMO_SNRNA_SHEET)
    formats = {
        snrna.input_format(inputs.resolve_sample_path(p, inputs.DEMO_SNRNA_SHEET))
        for p in sheet["path"]
    }
    assert formats == {"10x_h5", "mtx", "h5ad"}
    assert len(sheet) == 12 and sheet["condition"].value_counts().eq(3).all()


# --- QC ------------------------------------------------------------------------------


def test_mad_thresholds_and_overrides():
    rng = np.random.default_rng(0)
    metrics = pd.DataFrame(
        {
            "total_counts": np.r_[np.round(np.exp(rng.normal(7, 0.3, 50))), 10, 100000],
            "n_genes": np.r_[np.round(np.exp(rng.normal(6, 0.3, 50))), 8, 9000],
            "pct_mito": [0.5] * 50 + [30.0, 0.1],
        }
    )
    params = {"n_mads": 5, "mito_n_mads": 3, "mito_pct_floor": 1.0, "mito_pct_cap": 5.0}
    t = snrna.qc_thresholds(metrics, params)
    assert t["max_pct_mito"] == 1.0  # MAD is 0: the floor applies
    flags = snrna.qc_flags(metrics, t)
    assert flags.loc[50, "low_counts"] and flags.loc[51, "high_counts"]
    assert flags.loc[50, "low_genes"] and flags.loc[51, "high_genes"]
    assert flags.loc[50, "high_mito"] and not flags.loc[:49].any().any()
    t2 = snrna.qc_thresholds(metrics, {**params, "min_counts": 5, "max_pct_mito": 40})
    assert t2["min_counts"] == 5 and t2["max_pct_mito"] == 40
    flat = metrics.assign(n_genes=500)
    assert snrna.qc_thresholds(flat, params)["max_genes"] == np.inf  # MAD 0: no outliers


def test_sample_qc_removes_low_quality_and_doublets(sample):
    adata, truth = sample
    truth = truth.set_index("barcode")
    params = {
        "n_mads": 5,
        "mito_n_mads": 3,
        "mito_pct_floor": 1.0,
        "mito_pct_cap": 5.0,
        "doublets": True,
        "expected_doublet_rate": 0.06,
    }
    kept, nuclei, summary = snrna.sample_qc(adata, "S1", params, seed=1)
    nuclei = nuclei.join(truth)
    assert (~nuclei.loc[nuclei["low_quality"], "kept"]).mean() > 0.9
    good = ~nuclei["low_quality"] & ~nuclei["doublet"]
    assert nuclei.loc[good, "kept"].mean() > 0.9
    row = summary.iloc[0]
    assert row["nuclei_in"] == adata.n_obs
    assert row["nuclei_kept"] == kept.n_obs == nuclei["kept"].sum()
    assert row["failed_qc"] + row["doublets"] + row["nuclei_kept"] == row["nuclei_in"]
    assert {"total_counts", "n_genes", "pct_mito", "doublet_score"} <= set(kept.obs.columns)


def test_sample_qc_nothing_left_is_an_error():
    a = small_counts()
    with pytest.raises(InputError, match="sample 'S1': no nucleus passed QC"):
        snrna.sample_qc(a, "S1", {"min_counts": 10**9, "doublets": False}, seed=1)


# --- annotation (cluster assignment: tests/test_annotation.py) ------------------------


def test_marker_scores_find_the_right_type(study, sample):
    adata, truth = sample
    a = adata.copy()
    snrna.normalise(a)
    scores = snrna.marker_scores(a, io.read_markers(MARKERS))
    best = scores.dropna(axis=1, how="all").idxmax(axis=1)
    single = (~truth["doublet"] & ~truth["low_quality"]).to_numpy()
    agree = (best.to_numpy()[single] == truth["cell_type"].to_numpy()[single]).mean()
    assert agree > 0.95


def test_marker_expression_and_cluster_score_means(sample):
    adata, truth = sample
    a = adata.copy()
    snrna.normalise(a)
    markers = io.read_markers(MARKERS)
    a.obs["cell_type"] = pd.Categorical(truth["cell_type"].to_numpy())
    mean, fraction, groups = snrna.marker_expression(a, markers)
    # Every type's own markers are detected far more often in it than elsewhere.
    for cell_type in mean.index:
        own = [g for g in groups.get(cell_type, []) if g in fraction.columns]
        if own:
            others = fraction.drop(index=cell_type)[own].to_numpy().mean()
            assert fraction.loc[cell_type, own].mean() > others + 0.3, cell_type
    assert (mean.columns == fraction.columns).all() and mean.shape == fraction.shape
    scores = snrna.marker_scores(a, markers)
    a.obsm["marker_scores"] = scores.to_numpy()
    a.uns["marker_score_types"] = list(scores.columns)
    a.obs["leiden"] = pd.Categorical(np.where(np.arange(a.n_obs) % 3 == 0, "10", "2"))
    means = snrna.cluster_score_means(a)
    assert list(means.index) == ["2", "10"]  # numeric order, not text order
    expected = scores[(a.obs["leiden"] == "10").to_numpy()].mean()
    np.testing.assert_allclose(means.loc["10"], expected)


# --- composition --------------------------------------------------------------------


def test_composition_test_finds_a_planted_shift():
    rng = np.random.default_rng(0)
    samples = [f"m{i}" for i in range(8)]
    sheet = pd.DataFrame(
        {"condition": ["sham"] * 4 + ["pain"] * 4, "sex": ["F", "M"] * 4},
        index=pd.Index(samples, name="sample"),
    )
    base = np.array([0.5, 0.3, 0.15, 0.05])
    rows = []
    for s in samples:
        p = base.copy()
        if sheet.loc[s, "condition"] == "pain":
            p[3] *= 3
        rows.append(rng.multinomial(3000, rng.dirichlet(500 * p / p.sum())))
    counts = pd.DataFrame(rows, index=samples, columns=["A", "B", "C", "D"])
    tests = snrna.composition_tests(counts, sheet, "~ sex + condition", CONTRASTS[:1])
    d = tests.set_index("cell_type").loc["D"]
    assert d["padj"] < 0.05 and d["clr_difference"] > 0 and d["log2_prop_ratio"] > 1
    assert tests["df"].iloc[0] == 8 - 3


# --- pseudobulk ---------------------------------------------------------------------


def annotated(study, n_samples=6):
    conditions = ["sham", "sham", "sham", "pain", "pain", "pain"]
    sexes = ["F", "M", "F", "M", "F", "M"]
    parts, types = {}, []
    for i in range(n_samples):
        a, truth = demo.simulate_sample(
            study, f"S{i}", {"condition": conditions[i], "sex": sexes[i], "batch": "b1"}, i, 300
        )
        a.obs_names = [f"S{i}_{b}" for b in a.obs_names]
        a.obs["sample"] = f"S{i}"
        parts[f"S{i}"] = a
        types.append(truth["cell_type"].to_numpy())
    sheet = pd.DataFrame(
        {"path": "x", "condition": conditions[:n_samples], "sex": sexes[:n_samples]},
        index=pd.Index(list(parts), name="sample"),
    )
    merged = snrna.merge_samples(parts, sheet)
    types = np.concatenate(types)
    merged.obs["cell_type"] = np.where(types == "doublet", snrna.UNASSIGNED, types)
    return merged, sheet


def pseudobulk_of(merged):
    """Pseudobulk of a merged object, fed one sample at a time as the workflow does."""
    samples = (
        (s, merged[(merged.obs["sample"] == s).to_numpy()])
        for s in merged.obs["sample"].cat.categories
    )
    return snrna.pseudobulk(samples, merged.obs["cell_type"])


def test_pseudobulk_sums_counts(study):
    merged, _ = annotated(study, n_samples=2)
    pb = pseudobulk_of(merged)
    assigned = merged.obs["cell_type"] != snrna.UNASSIGNED
    assert pb.X.sum() == merged.X[assigned.to_numpy()].sum()
    row = pb.obs.loc["S0|L2-3_IT"]
    mask = ((merged.obs["sample"] == "S0") & (merged.obs["cell_type"] == "L2/3 IT")).to_numpy()
    assert row["n_nuclei"] == mask.sum() and row["total_counts"] == merged.X[mask].sum()
    assert pb.X.dtype == np.int64


def test_pseudobulk_plan_skips_with_reasons(study):
    merged, sheet = annotated(study)
    pb = pseudobulk_of(merged)
    params = {
        "min_nuclei": 10,
        "min_counts": 1000,
        "min_count": 10,
        "min_total_count": 15,
        "large_n": 10,
        "min_prop": 0.7,
        "min_genes": 50,
    }
    markers = io.read_markers(MARKERS)
    _, plan, counts = snrna.pseudobulk_plan(
        pb, sheet, list(markers["cell_type"]), "~ sex + condition", CONTRASTS[:1], params, 2
    )
    p = plan.set_index("cell_type")
    assert p.loc["L2/3 IT", "status"] == "tested"
    assert p.loc["Vip", "status"] == "skipped"
    assert p.loc["Vip", "reason"] == "no nuclei annotated as this cell type"
    assert "L2-3_IT" in counts and list(counts["L2-3_IT"].columns[:1]) == ["gene"]
    assert set(counts["L2-3_IT"].columns[1:]) == set(sheet.index)
    # L5 ET has few nuclei per sample: raising min_nuclei drops its samples.
    params["min_nuclei"] = 10**6
    _, plan2, counts2 = snrna.pseudobulk_plan(
        pb, sheet, list(markers["cell_type"]), "~ sex + condition", CONTRASTS[:1], params, 2
    )
    assert (
        plan2.loc[plan2["cell_type"] == "Oligo", "reason"]
        .iloc[0]
        .startswith("too few replicates: 0 pain and 0 sham")
    )
    assert not counts2


def test_plan_pairs_splits_tested_and_skipped():
    plan = pd.DataFrame(
        {
            "cell_type_safe": ["Astro", "Astro", "Oligo", "Oligo"],
            "contrast": ["pain", "rescue", "pain", "rescue"],
            "status": ["tested", "skipped", "skipped", "skipped"],
            "reason": [None, "2 animals in pain (< 3)", "no nuclei annotated", None],
        }
    )
    tested, skipped = snrna.plan_pairs(plan)
    assert tested == {("Astro", "pain")}
    assert skipped == {
        ("Astro", "rescue"): "2 animals in pain (< 3)",
        ("Oligo", "pain"): "no nuclei annotated",
        ("Oligo", "rescue"): "not tested",
    }


def test_plan_cell_type_design_not_fittable():
    sheet = pd.DataFrame(
        {"condition": ["sham", "sham", "pain", "pain"], "sex": ["F", "F", "M", "M"]},
        index=["a", "b", "c", "d"],
    )
    rows = snrna.plan_cell_type(["a", "b", "c", "d"], sheet, "~ sex + condition", CONTRASTS[:1], 2)
    assert rows[0]["status"] == "skipped" and "not of full rank" in rows[0]["reason"]


def test_filter_by_expr():
    counts = pd.DataFrame(
        {"a": [100, 0, 5, 50], "b": [100, 0, 0, 40], "c": [100, 1, 0, 0], "d": [100, 0, 0, 0]},
        index=list("wxyz"),
    )
    keep = de.filter_by_expr(counts, ["g1", "g1", "g2", "g2"], min_count=10, min_total_count=15)
    assert keep.tolist() == [True, False, False, True]


def test_pathway_table_per_animal(study):
    merged, sheet = annotated(study)
    pb = pseudobulk_of(merged)
    pb.obs["kept"] = True
    table = snrna.pathway_table(pb, sheet, io.read_gmt(GMT), ["Tiam1", "Rac1", "Nope"])
    tiam1 = table[(table["feature"] == "Tiam1") & (table["cell_type"] == "L2/3 IT")]
    assert len(tiam1) == len(sheet) and set(tiam1["sample"]) == set(sheet.index)
    assert "Nope" not in set(table["feature"])
    sets = table[table["kind"] == "gene set"]
    assert "TIAM1_RAC1_CORE_ABC" in set(sets["feature"])
    core = sets[(sets["feature"] == "TIAM1_RAC1_CORE_ABC") & (sets["cell_type"] == "Oligo")]
    assert abs(core["value"].mean()) < 1e-9  # z-scores are centred within a cell type


# --- demo ---------------------------------------------------------------------------


def test_demo_is_deterministic(study):
    a1, t1 = demo.simulate_sample(study, "S", {"condition": "sham"}, 2, 150)
    a2, t2 = demo.simulate_sample(study, "S", {"condition": "sham"}, 2, 150)
    assert (a1.X != a2.X).nnz == 0 and t1.equals(t2)


def test_demo_truth(study):
    truth = demo.truth_genes(study)
    assert set(truth["cell_type"]) == {"L2/3 IT", "L5 ET", "Sst", "Microglia"}
    l23 = truth[truth["cell_type"] == "L2/3 IT"].set_index("gene")
    assert l23.loc["Tiam1", "pain_log2fc"] > 0 and l23.loc["Rac1", "pain_log2fc"] > 0
    table = study.cell_types
    assert not table.loc[["Oligo", "Astro"], "de_planted"].any()
    assert table["proportion"].idxmax() == "Oligo"
    mito = study.genes["gene"].str.startswith("mt-")
    assert mito.sum() == len(demo.MITO_GENES)


def test_h5ad_writer_is_atomic(tmp_path, sample):
    adata, _ = sample
    snrna.write_h5ad(adata, tmp_path / "x" / "a.h5ad")
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["a.h5ad"]
    assert Path(tmp_path / "x" / "a.h5ad").stat().st_size > 0


def test_h5ad_writer_shuffles_matrices_and_keeps_everything(tmp_path, sample):
    import h5py

    adata, _ = sample
    a = adata.copy()
    a.layers["corrected"] = a.X.copy()
    a.obsm["X_pca"] = np.ones((a.n_obs, 2), dtype=np.float32)
    a.uns["scalar"] = 3
    snrna.write_h5ad(a, tmp_path / "a.h5ad")
    back = ad.read_h5ad(tmp_path / "a.h5ad")
    assert (back.X != a.X).nnz == 0 and (back.layers["corrected"] != a.X).nnz == 0
    assert back.obs.equals(a.obs) and back.var.equals(a.var) and back.uns["scalar"] == 3
    assert np.array_equal(back.obsm["X_pca"], a.obsm["X_pca"])
    with h5py.File(tmp_path / "a.h5ad") as f:
        assert f["X/indices"].shuffle and f["X/indices"].compression == "gzip"
        assert f["layers/corrected/data"].shuffle


def merge_parts(sample, n_samples=3):
    """Per-sample objects with a layer, as the final object's merge sees them."""
    adata, _ = sample
    parts = {}
    for i in range(n_samples):
        a = adata[i * 50 : (i + 1) * 50 + 7 * i].copy()
        a.obs_names = [f"S{i}_{b}" for b in a.obs_names]
        a.obs["sample"] = f"S{i}"
        a.obs["ambient_umis"] = np.arange(a.n_obs, dtype=float)
        corrected = a.X.copy()
        corrected.data //= 2
        a.layers["ambient_corrected"] = corrected
        parts[f"S{i}"] = a
    sheet = pd.DataFrame(
        {"path": "x", "condition": ["sham", "pain", "pain"][:n_samples]},
        index=pd.Index(list(parts), name="sample"),
    )
    return parts, sheet


def test_merge_samples_one_at_a_time_equals_concat(sample):
    parts, sheet = merge_parts(sample)
    expected = ad.concat(list(parts.values()), join="inner", merge="first")
    for merged in (
        snrna.merge_samples(parts, sheet),
        snrna.merge_samples(iter(parts.items()), sheet),
    ):
        assert merged.obs_names.equals(expected.obs_names)
        assert merged.X.dtype == np.int32 and (merged.X != expected.X).nnz == 0
        layer = merged.layers["ambient_corrected"]
        assert (layer != expected.layers["ambient_corrected"]).nnz == 0
        assert list(merged.obs["condition"]) == ["sham"] * 50 + ["pain"] * 121
        assert merged.uns["genes_dropped"] == 0
    assert (parts["S0"].X != sample[0].X[:50]).nnz == 0  # the caller's objects are intact


def test_merge_samples_keeps_shared_genes_of_pairs(sample):
    parts, sheet = merge_parts(sample)
    parts["S1"] = parts["S1"][:, 3:].copy()
    merged = snrna.merge_samples(iter(parts.items()), sheet, allow_intersection=True)
    assert list(merged.var_names) == list(parts["S1"].var_names)
    assert merged.uns["genes_dropped"] == 3
    assert (merged[parts["S0"].obs_names].X != parts["S0"][:, 3:].X).nnz == 0


def test_stack_rows_empties_the_list_and_takes_columns():
    from acc_tiam1.snrna._counts import stack_rows

    blocks = [sparse.random(n, 6, density=0.4, format="csr", random_state=n) for n in (3, 0, 5)]
    expected = sparse.vstack(blocks, format="csr")[:, [4, 0, 2]]
    given = list(blocks)
    stacked = stack_rows(given, [np.array([4, 0, 2])] * 3)
    assert given == [] and stacked.shape == (8, 3)
    assert np.array_equal(stacked.toarray(), expected.toarray())


def test_counts_store_writes_the_merged_object(tmp_path, sample):
    parts, sheet = merge_parts(sample)
    in_memory = snrna.merge_samples(parts, sheet)
    snrna.write_h5ad(in_memory, tmp_path / "memory.h5ad")
    with snrna.CountsStore(tmp_path) as counts:
        frame = snrna.merge_samples(iter(parts.items()), sheet, counts=counts)
        assert frame.X is None and not frame.layers
        snrna.write_h5ad(frame, tmp_path / "store.h5ad", counts=counts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["memory.h5ad", "store.h5ad"]
    a, b = ad.read_h5ad(tmp_path / "memory.h5ad"), ad.read_h5ad(tmp_path / "store.h5ad")
    assert b.obs.equals(a.obs) and b.var.equals(a.var) and b.uns == a.uns
    assert b.X.dtype == a.X.dtype and (b.X != a.X).nnz == 0
    assert (b.layers["ambient_corrected"] != a.layers["ambient_corrected"]).nnz == 0
    with h5py.File(tmp_path / "store.h5ad") as f:
        assert f["X/indices"].shuffle and f["layers/ambient_corrected/data"].compression == "gzip"


def test_counts_store_widens_row_pointers(tmp_path, sample):
    x = sample[0].X[:40]
    with snrna.CountsStore(tmp_path) as counts:
        counts.append("X", x[:25])
        counts._widen_indptr(counts._file["X"])  # what 2^31 stored counts would need
        counts.append("X", x[25:])
        assert counts._file["X/indptr"].dtype == np.int64
        back = ad.io.read_elem(counts._file["X"])
    assert (back != x).nnz == 0


def test_counts_store_needs_the_same_genes(tmp_path, sample):
    parts, sheet = merge_parts(sample)
    parts["S1"] = parts["S1"][:, 3:].copy()
    with snrna.CountsStore(tmp_path) as counts, pytest.raises(InputError, match="S1"):
        snrna.merge_samples(parts, sheet, allow_intersection=True, counts=counts)


def test_annotation_table_round_trip(tmp_path, sample):
    adata, _ = sample
    a = adata.copy()
    a.obs["sample"] = "01"  # a numeric-looking id stays text
    snrna.normalise(a)
    a.obs["leiden"] = pd.Categorical(np.where(np.arange(a.n_obs) % 2, "1", "0"))
    markers = io.read_markers(MARKERS)
    scores = snrna.marker_scores(a, markers)
    table = snrna.assign_clusters(scores, a.obs["leiden"])
    a.obs["cell_type"] = a.obs["leiden"].astype(str).map(table["cell_type"])
    a.obs["cell_type_nucleus"] = scores.dropna(axis=1, how="all").idxmax(axis=1)
    a.obs["cell_type_score"] = 1.0
    a.obsm["marker_scores"] = scores.to_numpy(dtype=np.float32)
    a.uns["marker_score_types"] = list(scores.columns)
    io.write_tsv(snrna.annotation_table(a), tmp_path / "nuclei.tsv")
    back = snrna.read_annotation_table(tmp_path / "nuclei.tsv")
    assert (back["sample"] == "01").all()
    b = adata.copy()
    snrna.apply_annotation(b, back, list(markers["cell_type"]))
    assert list(b.obs["cell_type"].cat.categories)[-1] == snrna.UNASSIGNED
    np.testing.assert_allclose(b.obsm["marker_scores"], a.obsm["marker_scores"], rtol=1e-5)
    assert b.uns["marker_score_types"] == list(markers["cell_type"])


def test_fast_harmony_matches_harmonypy():
    """FastHarmony reorganises harmonypy's arithmetic, not its algorithm: same answer."""
    import harmonypy
    from acc_tiam1.snrna._harmony import run_harmony

    rng = np.random.default_rng(3)
    n, n_types = 1800, 4
    types = rng.integers(0, n_types, n)
    batch = rng.integers(0, 2, n)
    centres = rng.normal(0, 4, (n_types, 10))
    pcs = centres[types] + 1.5 * batch[:, None] + rng.normal(0, 1, (n, 10))
    obs = pd.DataFrame({"batch": np.where(batch, "b2", "b1")})
    ours = run_harmony(pcs, obs, "batch", seed=0)
    np.random.seed(0)  # noqa: NPY002 (harmonypy draws from the global generator)
    ref = harmonypy.run_harmony(pcs, obs, ["batch"], random_state=0, verbose=False).Z_corr.T
    assert ours.shape == pcs.shape
    assert np.abs(ours - ref).max() < 1e-4 * ref.std()
    # and it did correct: the batch shift within a type is mostly gone
    shift = [
        ours[(types == t) & (batch == 1)].mean(0) - ours[(types == t) & (batch == 0)].mean(0)
        for t in range(n_types)
    ]
    assert np.linalg.norm(np.mean(shift, axis=0)) < 0.5 * 1.5 * np.sqrt(10)


def test_exact_neighbour_search_gives_the_same_graph_on_one_or_two_threads(caplog):
    """The one threaded step of integration: its graph must not depend on the threads,
    or results would depend on the core count of the node (issue 15)."""
    from acc_tiam1.snrna._integrate import search_threads

    assert search_threads(2048, 2) == 1  # sklearn would split the searched nuclei
    assert search_threads(2049, 2) == 2  # four chunks of 256 queries per thread
    assert search_threads(100_000, 1) == 1
    rng = np.random.default_rng(11)
    n, n_genes = 2600, 200
    types = rng.integers(0, 6, n)
    rates = rng.gamma(1.0, 2.0, (6, n_genes))
    x = rng.poisson(rates[types]).astype(np.float32)
    graphs = []
    for threads in (1, 2):
        adata = ad.AnnData(X=sparse.csr_matrix(x))
        adata.obs["batch"] = np.where(np.arange(n) % 2, "b1", "b2")
        snrna.normalise(adata)
        with caplog.at_level(logging.INFO):
            snrna.integrate(adata, n_top_genes=100, n_pcs=10, threads=threads, seed=0)
        graphs.append((adata.obsp["distances"].tocsr(), adata.obsp["connectivities"].tocsr()))
    assert "neighbours (exact, 2 threads)" in caplog.text
    for one, two in zip(*graphs, strict=True):
        assert np.array_equal(one.indptr, two.indptr)
        assert np.array_equal(one.indices, two.indices)
        assert np.array_equal(one.data, two.data)


def test_pcs_are_the_double_precision_pca_of_the_scaled_hvgs():
    """The PCs integration stores are those of an SVD in double precision of the
    centred, scaled highly variable genes (sign aside), to single-precision rounding."""
    rng = np.random.default_rng(4)
    n, n_genes = 3000, 300
    types = rng.integers(0, 8, n)
    rates = rng.gamma(0.8, 2.0, (8, n_genes))
    adata = ad.AnnData(X=sparse.csr_matrix(rng.poisson(rates[types]).astype(np.float32)))
    adata.obs["batch"] = "b1"
    snrna.normalise(adata)
    snrna.integrate(adata, n_top_genes=150, n_pcs=12, seed=0)
    x = adata[:, adata.var["highly_variable"].to_numpy()].X.toarray().astype(np.float64)
    x = (x - x.mean(0)) / x.std(0, ddof=1)
    x = np.minimum(x, 10)
    x -= x.mean(0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    truth = u[:, :12] * s[:12]
    ours = np.asarray(adata.obsm["X_pca"], dtype=np.float64)
    sign = np.sign(np.sum(ours * truth, axis=0))
    assert np.abs(ours * sign - truth).max() < 1e-4 * np.abs(truth).max()
    variance = s[:12] ** 2 / (n - 1)
    np.testing.assert_allclose(adata.uns["pca"]["variance"], variance, rtol=1e-4)


def test_neighbour_search_exact_then_approximate():
    """Above exact_neighbors_max the graph comes from pynndescent: same neighbours for
    nearly every nucleus, and the same graph on a rerun."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (3000, 10)).astype(np.float32)
    exact, name = snrna.neighbour_search(len(x), 15, exact_max=len(x), seed=0)
    assert name == "exact"
    approx, name = snrna.neighbour_search(len(x), 15, exact_max=len(x) - 1, seed=0)
    assert name.startswith("approximate")
    truth = NearestNeighbors(n_neighbors=15).fit(x).kneighbors(x, return_distance=False)

    def neighbours(transformer):
        graph = transformer.fit_transform(x).tocsr()
        return [
            set(graph.indices[graph.indptr[i] : graph.indptr[i + 1]]) - {i} for i in range(len(x))
        ]

    recall = np.mean(
        [
            len(found & set(t)) / 14
            for found, t in zip(neighbours(approx), truth[:, 1:], strict=True)
        ]
    )
    assert recall > 0.95
    again, _ = snrna.neighbour_search(len(x), 15, exact_max=len(x) - 1, seed=0)
    assert neighbours(again) == neighbours(approx)
    assert (
        np.mean(
            [len(f & set(t)) / 14 for f, t in zip(neighbours(exact), truth[:, 1:], strict=True)]
        )
        == 1.0
    )


def test_lognorm_genes_equals_normalising_every_gene(tmp_path):
    """Annotation normalises only the marker genes (with each nucleus's total from all
    genes); the values must be exactly those of normalising every gene."""
    rng = np.random.default_rng(4)
    paths = {}
    full = []
    for sample in ("S1", "S2"):
        counts = sparse.random(300, 500, density=0.1, random_state=rng, format="csr")
        counts.data = rng.integers(1, 40, counts.nnz).astype(np.int32)
        counts = counts.astype(np.int32)
        adata = ad.AnnData(X=counts)
        adata.obs_names = [f"bc{i}" for i in range(adata.n_obs)]
        adata.var_names = [f"G{j}" for j in range(adata.n_vars)]
        adata.var["gene"] = [f"Sym{j}" for j in range(adata.n_vars)]
        paths[sample] = tmp_path / f"{sample}.h5ad"
        snrna.write_h5ad(adata, paths[sample])
        every = snrna.read_qc_sample(paths[sample], sample)
        snrna.normalise(every)
        full.append(every)
    symbols = ["Sym3", "Sym77", "Sym250", "Sym499", "NotAGene"]
    ours = snrna.lognorm_genes(paths, symbols)
    expected = ad.concat(full)[:, ["G3", "G77", "G250", "G499"]]
    assert list(ours.var["gene"]) == ["Sym3", "Sym77", "Sym250", "Sym499"]
    assert list(ours.obs_names) == list(expected.obs_names)
    assert ours.X.dtype == np.float32
    assert np.array_equal(ours.X.toarray(), expected.X.toarray())
