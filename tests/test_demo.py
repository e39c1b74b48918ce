"""The simulated demo study: ambient RNA from each mouse's lysate, raw droplets, heterotypic
doublets, null and shallow variants, exact truth and byte-identical files."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import demo, inputs, io
from acc_tiam1.demo._sampling import alias_table, draw_profile, random_barcodes
from acc_tiam1.snrna._raw import read_raw_droplets
from conftest import REPO

MARKERS = REPO / "config" / "markers" / "acc_markers.tsv"
GMT = REPO / "config" / "genesets" / "tiam1_rac1.gmt"
TYPES = ["L2/3 IT", "L5 ET", "Sst", "Astro", "Oligo", "Microglia"]
PAIN = {"condition": "pain", "sex": "F", "batch": "b1"}
SHAM = {"condition": "sham", "sex": "M", "batch": "b1"}


def make_study(null=False, n_genes=1500, types=TYPES):
    return demo.build_study(
        io.read_markers(MARKERS),
        demo.demo_modules(GMT),
        n_genes=n_genes,
        seed=5,
        cell_types=types,
        null=null,
    )


@pytest.fixture(scope="module")
def study():
    return make_study()


@pytest.fixture(scope="module")
def pain_sample(study):
    return demo.simulate_droplets(study, "P1", PAIN, 0, 400, contamination=0.08)


def symbols(study) -> np.ndarray:
    return study.genes["gene"].to_numpy()


# --- ambient RNA ----------------------------------------------------------------------


def test_planted_contamination_is_the_ambient_share(study, pain_sample):
    s = pain_sample
    t = s.truth
    totals = np.asarray(s.nuclei.X.sum(axis=1)).ravel()
    np.testing.assert_array_equal(totals, t["umis"])
    np.testing.assert_array_equal(t["umis"], t["own_umis"] + t["ambient_umis"])
    assert s.summary["contamination"] == pytest.approx(t["ambient_umis"].sum() / t["umis"].sum())
    assert s.summary["contamination"] == pytest.approx(0.08, rel=0.05)
    clean = ~t["doublet"] & ~t["low_quality"]
    assert s.summary["contamination_clean_singlets"] == pytest.approx(
        t.loc[clean, "ambient_umis"].sum() / t.loc[clean, "umis"].sum()
    )
    # A roughly fixed number per droplet: the same in glia and neurons, so glial nuclei
    # (fewer UMIs of their own) hold the larger ambient share.
    single = t[clean]
    by_class = single.groupby("class")[["ambient_umis", "own_umis"]].median()
    glia, neuron = by_class.loc["Non-neuronal"], by_class.loc["Glutamatergic"]
    assert glia["ambient_umis"] == pytest.approx(neuron["ambient_umis"], rel=0.15)
    share = single["ambient_umis"] / single["umis"]
    assert share[single["class"] == "Non-neuronal"].median() > 1.8 * (
        share[single["class"] == "Glutamatergic"].median()
    )


def test_ambient_counts_are_exactly_what_the_truth_says(study, pain_sample):
    """The nuclei's own counts come from their own random stream: the same sample without
    ambient RNA is the same nuclei, and the difference is each droplet's ambient UMIs."""
    clean = demo.simulate_droplets(study, "P1", PAIN, 0, 400, contamination=0.0)
    diff = pain_sample.nuclei.X - clean.nuclei.X
    assert diff.min() >= 0
    np.testing.assert_array_equal(
        np.asarray(diff.sum(axis=1)).ravel(), pain_sample.truth["ambient_umis"]
    )
    assert (clean.truth["ambient_umis"] == 0).all() and clean.summary["contamination"] == 0
    # Empty droplets are drawn last: a sample without a raw matrix has the same nuclei.
    no_raw = demo.simulate_droplets(
        study, "P1", PAIN, 0, 400, contamination=0.08, empties_per_nucleus=0
    )
    assert no_raw.empties.shape[0] == 0 and (no_raw.nuclei.X != pain_sample.nuclei.X).nnz == 0


def test_soup_is_the_lysate_and_carries_the_condition_effect(study):
    """A pain mouse's soup holds more of the pain genes planted in its neurons (not so in
    the null variant of the same study); the empty droplets hold that soup."""
    truth = demo.truth_genes(study)
    planted = truth[
        (truth["module"] == demo.ACTIVITY_MODULE)
        & (truth["cell_type"] == "L2/3 IT")
        & (truth["pain_log2fc"] > 0)
    ]["gene_id"].unique()
    col = study.genes.index.get_indexer(planted)
    assert col.size >= 10
    other = study.genes["module"].eq("filler").to_numpy() & ~study.genes.index.isin(
        truth["gene_id"]
    )

    def soup_log_ratio(st):
        pain, sham = (
            np.mean([demo.simulate_droplets(st, f"S{i}", cov, i, 300).soup for i in idx], axis=0)
            for cov, idx in ((PAIN, range(3)), (SHAM, range(3, 6)))
        )
        keep = other & (sham > 1e-5)
        ratio = np.log2(pain / np.where(sham > 0, sham, 1.0))
        return ratio[col], ratio[keep]

    pain_genes, rest = soup_log_ratio(study)
    assert pain_genes.mean() - rest.mean() > 0.5
    assert (pain_genes > np.quantile(rest, 0.75)).mean() > 0.8
    pain_genes, rest = soup_log_ratio(make_study(null=True))
    assert abs(pain_genes.mean() - rest.mean()) < 0.2

    s = demo.simulate_droplets(study, "S", PAIN, 0, 300)
    assert s.soup.sum() == pytest.approx(1.0)
    mito = study.genes["module"].eq("mitochondrial").to_numpy()
    assert s.soup[mito].sum() == pytest.approx(demo.SOUP_MITO_FRACTION)
    empties = np.asarray(s.empties.sum(axis=0)).ravel()
    assert np.corrcoef(empties, s.soup)[0, 1] > 0.99


def test_contamination_levels_span_the_range():
    levels = demo.contamination_levels(12, 0.02, 0.12, seed=3)
    np.testing.assert_allclose(np.sort(levels), np.linspace(0.02, 0.12, 12))
    np.testing.assert_array_equal(levels, demo.contamination_levels(12, 0.02, 0.12, seed=3))
    assert not np.array_equal(levels, np.sort(levels))


# --- expression -----------------------------------------------------------------------


def test_nuclei_express_no_marker_of_another_type(study):
    """Other types' markers and other classes' class genes are zero in a singlet's own
    counts; its own markers are expressed."""
    s = demo.simulate_droplets(study, "S", PAIN, 0, 600, contamination=0.0)
    markers = io.read_markers(MARKERS).set_index("cell_type")["markers"]
    sym = symbols(study)
    x = s.nuclei.X.tocsc()
    t = s.truth
    klass = dict(zip(study.cell_types.index, study.cell_types["class"], strict=True))
    for ct in study.cell_types.index:
        rows = np.flatnonzero((t["cell_type"] == ct).to_numpy())
        assert rows.size > 5, ct
        foreign = {g for other in study.cell_types.index if other != ct for g in markers[other]}
        foreign -= set(markers[ct])
        for group, genes in demo.CLASS_GENES.items():
            on = (
                group == klass[ct]
                or (group == "neuron" and klass[ct] != "Non-neuronal")
                or (group == "mge" and ct in ("Pvalb", "Sst"))
            )
            if not on:
                foreign |= set(genes)
        cols = np.flatnonzero(np.isin(sym, sorted(foreign)))
        assert cols.size > 10
        assert x[rows][:, cols].nnz == 0, ct
        own = np.flatnonzero(np.isin(sym, markers[ct]))
        assert (np.asarray(x[rows][:, own].sum(axis=0)).ravel() > 0).all(), ct
    # With ambient RNA they are there, at soup level.
    amb = demo.simulate_droplets(study, "S", PAIN, 0, 600, contamination=0.1)
    oligo = np.flatnonzero((amb.truth["cell_type"] == "Oligo").to_numpy())
    cux2 = np.flatnonzero(sym == "Cux2")
    assert amb.nuclei.X[oligo][:, cux2].sum() > 0


def test_doublets_are_heterotypic_and_named(study, pain_sample):
    t = pain_sample.truth
    d = t[t["doublet"]]
    assert len(d) == round(demo.DOUBLET_FRACTION * len(t))
    assert (d["cell_type"] == "doublet").all()
    assert (d["doublet_type_1"] != d["doublet_type_2"]).all()
    assert d[["doublet_type_1", "doublet_type_2"]].isin(list(study.cell_types.index)).all().all()
    klass = study.cell_types["class"]
    for row in d.itertuples():
        pair = {klass[row.doublet_type_1], klass[row.doublet_type_2]}
        expected = (
            "neuron-glia"
            if "Non-neuronal" in pair and len(pair) == 2
            else "glut-gaba"
            if pair == {"Glutamatergic", "GABAergic"}
            else {"Glutamatergic": "glut-glut", "GABAergic": "gaba-gaba"}.get(
                pair.pop(), "glia-glia"
            )
        )
        assert row.doublet_pair == expected
    single = t[~t["doublet"]]
    assert (single[["doublet_type_1", "doublet_type_2", "doublet_pair"]] == "").all().all()
    assert not d["low_quality"].any()
    # A doublet holds the UMIs of two nuclei.
    assert d["own_umis"].median() > 1.4 * single["own_umis"].median()


# --- raw droplets ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["raw_feature_bc_matrix.h5", "raw_feature_bc_matrix"])
def test_raw_matrix_holds_the_nuclei_and_empty_droplets(tmp_path, pain_sample, name):
    s = pain_sample
    path = tmp_path / name
    demo.write_raw_droplets(s.nuclei, s.empties, s.empty_barcodes, path)
    raw = read_raw_droplets(path, "P1")
    barcodes = raw.barcodes.astype(str)
    n = s.nuclei.n_obs
    assert barcodes.size == n + round(3.0 * n) == n + s.empties.shape[0]
    assert list(barcodes) == sorted(barcodes)  # as Cell Ranger writes them
    is_nucleus = np.isin(barcodes, s.nuclei.obs_names)
    assert is_nucleus.sum() == n  # the filtered barcodes are a subset
    totals = pd.Series(raw.totals, index=barcodes)
    np.testing.assert_array_equal(totals[s.nuclei.obs_names], s.truth["umis"])
    empty = totals[~is_nucleus]
    clean = s.truth[~s.truth["low_quality"]]["umis"]
    assert empty.max() < clean.quantile(0.05) and empty.median() < 0.2 * clean.median()
    level = s.summary["ambient_umis_per_droplet"]
    assert ((empty > level / 2) & (empty < 2 * level)).mean() > 0.7  # the plateau
    assert (empty < level / 3).mean() > 0.1  # and a tail of barcodes with a few UMIs
    assert empty.min() >= 1
    counts, n_drops = raw.gene_counts(0, empty.max(), exclude=is_nucleus)
    assert n_drops == empty.size
    np.testing.assert_array_equal(counts, np.asarray(s.empties.sum(axis=0)).ravel())


def test_barcodes_are_distinct_10xrandom_barcodes():
    rng = np.random.default_rng(0)
    nuclei = random_barcodes(3000, rng)
    empties = random_barcodes(9000, rng, taken=nuclei)
    both = np.concatenate([nuclei, empties]).astype(str)
    assert len(set(both)) == both.size
    assert all(len(b) == 18 and b.endswith("-1") and set(b[:16]) <= set("ACGT") for b in both)


def test_demo_sheet_names_raw_droplets():
    """Raw matrices for the .h5 and folder samples, none for the .h5ad sample."""
    sheet = io.read_sample_sheet(REPO / inputs.DEMO_SNRNA_SHEET)
    assert (sheet["raw_path"] == "").sum() == 1
    assert sheet.loc[sheet["raw_path"] == "", "path"].str.endswith(".h5ad").all()
    outputs = inputs.demo_snrna_outputs(str(REPO / inputs.DEMO_SNRNA_SHEET))
    assert sum("raw_feature_bc_matrix.h5" in o for o in outputs) == 10
    assert sum("raw_feature_bc_matrix/" in o for o in outputs) == 3  # a folder's 3 files
    assert inputs.demo_snrna_nuclei(100, str(REPO / inputs.DEMO_SNRNA_SHEET)) == 100 * len(sheet)


# --- variants -------------------------------------------------------------------------


def test_snrna_null_variant_plants_nothing(study):
    null = make_study(null=True)
    assert demo.truth_genes(null).empty
    assert not null.cell_types["de_planted"].any()
    assert (null.cell_types["composition_pain_log2"] == 0).all()
    assert demo.truth_genes(study).shape[0] > 0  # the same study otherwise
    np.testing.assert_array_equal(null.profiles, study.profiles)
    s = demo.simulate_droplets(null, "S", PAIN, 0, 200)
    assert s.summary["null"] and s.summary["activity_shift_log2"] == 0


def test_activity_shift_is_shared_by_all_cell_types(study):
    """A mouse's activity module moves by one draw in every cell type."""
    base = demo.simulate_droplets(study, "S", SHAM, 4, 600, contamination=0.0)
    moved = demo.simulate_droplets(study, "S", SHAM, 4, 600, contamination=0.0, activity_sd=0.8)
    shift = moved.summary["activity_shift_log2"]
    assert abs(shift) > 0.1
    act = study.activity
    assert act.sum() == len(demo.demo_modules(GMT)[demo.ACTIVITY_MODULE])
    for klass in ("Glutamatergic", "Non-neuronal"):
        ratio = []
        for s in (base, moved):
            rows = (s.truth["class"] == klass).to_numpy()
            x = s.nuclei.X[rows]
            ratio.append(x[:, act].sum() / x.sum())
        assert np.log2(ratio[1] / ratio[0]) == pytest.approx(shift, abs=0.15), klass


def test_shallow_variant_scales_the_umis(study):
    deep = demo.simulate_droplets(study, "S", SHAM, 0, 300)
    shallow = demo.simulate_droplets(study, "S", SHAM, 0, 300, umi_scale=0.3)
    ratio = shallow.truth["own_umis"].median() / deep.truth["own_umis"].median()
    assert ratio == pytest.approx(0.3, rel=0.1)
    assert shallow.summary["umi_scale"] == 0.3
    # The contamination is a share: the same planted level, fewer ambient UMIs.
    assert shallow.summary["contamination"] == pytest.approx(0.05, rel=0.1)


def test_bulk_null_variant_plants_nothing():
    sheet = io.read_sample_sheet(REPO / "config/demo/bulk_samples.tsv")
    markers = ["Cux2", "Mog"]
    kw = {"n_genes": 800, "seed": 2}
    counts, truth = demo.simulate_bulk(sheet, demo.demo_modules(GMT), markers, **kw)
    null_counts, null_truth = demo.simulate_bulk(
        sheet, demo.demo_modules(GMT), markers, null=True, **kw
    )
    effect = ["pain_log2fc", "rescue_log2fc", "ketamine_log2fc"]
    assert (null_truth[effect] == 0).all().all() and not null_truth["planted_pain"].any()
    assert (null_truth["rescue_class"] == "none").all()
    assert (truth[effect] != 0).any().any()
    # Nothing else changes: sham mice (no effect in either study) have the same counts.
    sham = sheet.index[sheet["condition"] == "sham"]
    pd.testing.assert_frame_equal(counts[sham], null_counts[sham])
    pain = sheet.index[sheet["condition"] == "pain"]
    assert not counts[pain].equals(null_counts[pain])


# --- sampling and determinism ---------------------------------------------------------


def test_alias_table_is_exact():
    rng = np.random.default_rng(1)
    p = np.exp2(rng.normal(0, 2, 3000))
    p[:40] = 0.0
    p[-1] = 5e3  # one gene far above the rest
    p /= p.sum()
    prob, alias = alias_table(p)
    implied = prob / p.size + np.bincount(alias, weights=(1 - prob) / p.size, minlength=p.size)
    np.testing.assert_allclose(implied, p, rtol=1e-9, atol=1e-15)
    _, genes = draw_profile(np.array([0]), np.array([200_000]), (prob, alias), rng)
    assert not np.isin(genes, np.arange(40)).any()
    assert np.mean(genes == p.size - 1) == pytest.approx(p[-1], abs=0.005)


def file_hashes(folder) -> dict[str, str]:
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def write_all(folder, s) -> None:
    demo.write_sample(s.nuclei, folder / "a.h5")
    demo.write_sample(s.nuclei, folder / "folder")
    demo.write_sample(s.nuclei, folder / "a.h5ad")
    demo.write_raw_droplets(s.nuclei, s.empties, s.empty_barcodes, folder / "raw.h5")
    demo.write_raw_droplets(s.nuclei, s.empties, s.empty_barcodes, folder / "raw")
    io.write_tsv(s.truth, folder / "truth.tsv", index=False)


def test_same_seed_gives_byte_identical_files(tmp_path):
    def run(folder, seed_study):
        s = demo.simulate_droplets(seed_study, "S", PAIN, 1, 250, activity_sd=0.4)
        folder.mkdir()
        write_all(folder, s)
        return file_hashes(folder)

    first = run(tmp_path / "a", make_study())
    assert len(first) == 10
    assert run(tmp_path / "b", make_study()) == first
    other = demo.build_study(
        io.read_markers(MARKERS), demo.demo_modules(GMT), n_genes=1500, seed=6, cell_types=TYPES
    )
    changed = run(tmp_path / "c", other)
    assert changed["a.h5"] != first["a.h5"] and changed["truth.tsv"] != first["truth.tsv"]
