"""Ambient RNA: the empty-droplet range, the soup, the contamination estimate, the
correction of counts and the share of each cell type's counts the soup explains."""

from __future__ import annotations

import itertools
import shutil
import subprocess

import nuclei_sim as ns
import numpy as np
import pandas as pd
import pytest
from acc_tiam1.errors import InputError
from acc_tiam1.snrna import _ambient_correct as ac
from acc_tiam1.snrna import _ambient_kernel as kernel
from acc_tiam1.snrna import _contamination as ambient_estimate
from acc_tiam1.snrna import _raw as raw_droplets
from acc_tiam1.snrna import _soup as ambient
from scipy import sparse
from test_raw_droplets import write_h5


@pytest.fixture(scope="module")
def study():
    return ns.build_study(seed=0)


def empty_soup(sample: ns.Sample) -> ambient.SoupProfile:
    counts = np.asarray(sample.empty_counts.sum(axis=0), dtype=float).ravel()
    return ambient.SoupProfile(
        counts / counts.sum(), "empty_droplets", sample.empty_counts.shape[0], int(counts.sum())
    )


def estimate(study, sample, soup=None, **kw):
    return ambient_estimate.estimate_contamination(
        sample.counts,
        study.symbols,
        sample.truth["cell_type"],
        study.markers,
        soup or empty_soup(sample),
        "S1",
        **kw,
    )


# --- barcode-rank curve and soup -----------------------------------------------------


def rank_totals(n_cells=2000, plateau=80.0, n_plateau=20000, n_tail=60000, seed=0):
    rng = np.random.default_rng(seed)
    cells = np.round(3000 * np.exp(rng.normal(0, 0.5, n_cells)))
    empties = rng.poisson(plateau * np.exp(rng.normal(0, 0.25, n_plateau)))
    tail = rng.geometric(0.3, n_tail)
    return cells, np.concatenate([cells, empties, tail, np.zeros(5000)])


@pytest.mark.parametrize("plateau", [20.0, 80.0, 600.0])
def test_cutoff_separates_nuclei_from_the_ambient_plateau(plateau):
    cells, totals = rank_totals(plateau=plateau)
    empties = totals[cells.size : cells.size + 20000]
    rng_ = ambient.empty_droplet_cutoff(totals, n_nuclei=cells.size)
    assert (empties <= rng_.cutoff).mean() > 0.99  # the plateau is inside the range
    assert (cells <= rng_.cutoff).mean() < 0.10  # and few nuclei (these are excluded anyway)
    assert rng_.knee > rng_.cutoff and rng_.floor == 0
    fixed = ambient.empty_droplet_cutoff(totals, cutoff=100)
    assert fixed.cutoff == 100 and fixed.rule == "fixed cutoff"


def test_barcode_ranks_needs_a_curve():
    with pytest.raises(InputError, match="raw"):
        ambient.barcode_ranks(np.array([500, 400, 3, 2, 1]))


def test_soup_from_raw_droplets(tmp_path, study):
    s = ns.simulate_sample(study, 0.1, n_nuclei=800, seed=4)
    ids = np.array([f"ENSMUSG{i:011d}" for i in range(study.symbols.size)])
    raw = sparse.vstack([s.counts, s.empty_counts]).tocsr()
    bcs = np.concatenate([s.barcodes, s.empty_barcodes])
    perm = np.random.default_rng(0).permutation(raw.shape[0])
    write_h5(tmp_path / "raw.h5", raw[perm], bcs[perm], ids, study.symbols)
    droplets = raw_droplets.read_raw_droplets(tmp_path / "raw.h5", "S1")
    soup = ambient.soup_from_droplets(droplets, ids[::-1], s.barcodes)  # any gene order
    assert soup.basis == "empty_droplets"
    e_tot = np.asarray(s.empty_counts.sum(axis=1)).ravel()
    assert soup.n_droplets == (e_tot <= soup.empty_range.cutoff).sum()  # no nucleus counted
    assert soup.n_droplets >= 0.999 * e_tot.size
    assert np.abs(soup.profile[::-1] - s.soup).sum() < 0.05
    row = soup.describe()
    assert row["empty_cutoff"] == pytest.approx(soup.empty_range.cutoff, abs=0.1)
    with pytest.raises(InputError, match="same reference"):
        ambient.soup_from_droplets(droplets, [f"X{i}" for i in range(ids.size)])
    with pytest.raises(InputError, match="too few"):
        ambient.soup_from_droplets(droplets, ids, s.barcodes, min_umis=10**9)


# --- contamination ------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.02, 0.05, 0.1, 0.2])
def test_estimator_recovers_planted_contamination(study, rho):
    for seed in (1, 2, 3):
        s = ns.simulate_sample(study, rho, n_nuclei=1500, seed=seed)
        est = estimate(study, s, n_boot=40, seed=seed)
        pooled = estimate(study, s, soup=ambient.soup_from_nuclei(s.counts), n_boot=0)
        for value in (est.row["rho"], pooled.row["rho"]):
            assert abs(value - s.rho) <= 0.02
            assert abs(value - s.rho) <= 0.1 * s.rho, (value, s.rho)
        assert est.row["rho_low"] <= est.row["rho"] <= est.row["rho_high"]
        assert est.row["beta"] <= 0.25  # a fixed amount of soup per droplet
        assert pooled.row["soup_basis"] == "nuclei"
        # small glial nuclei carry the largest share of soup
        share = est.ambient_umis / np.asarray(s.counts.sum(axis=1)).ravel()
        glia = (s.truth["class"] == "Non-neuronal").to_numpy()
        assert share[glia].mean() > 1.5 * share[~glia].mean()


def test_estimator_follows_soupx_model_when_soup_scales_with_the_nucleus(study):
    s = ns.simulate_sample(study, 0.1, n_nuclei=1500, seed=7, proportional=True)
    est = estimate(study, s, n_boot=0)
    assert est.row["beta"] >= 0.75
    assert abs(est.row["rho"] - s.rho) <= 0.01
    fixed = estimate(study, s, n_boot=0, model="droplet")
    assert fixed.row["beta"] == 0.0


def test_estimator_drops_doublets_and_a_marker_the_tissue_does_express():
    st = ns.build_study(seed=0, misplaced={"Cux2": "Astro"})
    s = ns.simulate_sample(st, 0.05, n_nuclei=2000, seed=9, doublet_rate=0.06)
    est = estimate(st, s, n_boot=0)
    assert "Cux2" in est.row["genes_dropped_as_expressed"].split(",")
    assert est.row["nuclei_dropped"] >= 0.5 * s.truth["doublet"].sum()
    assert abs(est.row["rho"] - s.rho) <= 0.1 * s.rho
    naive = estimate(st, s, n_boot=0, tolerance=1e6)  # nothing dropped
    assert naive.row["rho"] > 1.3 * s.rho
    assert set(est.per_set["nuclei_class"]) == {"Glutamatergic", "GABAergic", "Non-neuronal"}


def test_estimator_needs_two_classes(study):
    s = ns.simulate_sample(study, 0.05, n_nuclei=300, seed=1)
    one_class = study.markers.assign(**{"class": "Neuron"})
    with pytest.raises(InputError, match=r"S1.*two classes"):
        ambient_estimate.estimate_contamination(
            s.counts, study.symbols, s.truth["cell_type"], one_class, empty_soup(s), "S1"
        )
    with pytest.raises(InputError, match="unknown contamination model"):
        estimate(study, s, model="soupx")


@pytest.mark.r
def test_proportional_model_equals_soupx_glm(tmp_path, study):
    """SoupX calculateContaminationFraction: glm(counts ~ 1, poisson, offset = log(exp))."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    s = ns.simulate_sample(study, 0.08, n_nuclei=800, seed=5)
    soup = empty_soup(s)
    ours = estimate(study, s, soup=soup, model="proportional", tolerance=1e9, n_boot=0)
    # SoupX's data frame: one row per nucleus x gene set, built here independently
    x = s.counts.tocsr()
    n = np.asarray(x.sum(axis=1)).ravel()
    klass = dict(zip(study.markers["cell_type"], study.markers["class"], strict=True))
    nuc_class = s.truth["cell_type"].map(klass).to_numpy()
    col = {g: i for i, g in enumerate(study.symbols)}
    rows = []
    for ex in ambient_estimate.exclusion_sets(study.markers, study.symbols):
        genes = [col[g] for g in study.symbols[ex.genes] if soup.profile[col[g]] > 0]
        cells = np.flatnonzero(nuc_class == ex.nuclei_class)
        counts = np.asarray(x[cells][:, genes].sum(axis=1)).ravel()
        rows.append(pd.DataFrame({"counts": counts, "exp": n[cells] * soup.profile[genes].sum()}))
    pd.concat(rows).to_csv(tmp_path / "df.tsv", sep="\t", index=False)
    script = (
        "d <- read.delim('df.tsv'); "
        "f <- glm(counts ~ 1, family = poisson(), offset = log(exp), data = d); "
        "cat(sprintf('%.10f', exp(coef(f))))"
    )
    out = subprocess.run(
        ["Rscript", "-e", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert ours.row["rho"] == pytest.approx(float(out.stdout), rel=1e-4)


# --- correction ---------------------------------------------------------------------


def reference_alloc(target: float, caps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SoupX alloc, one bucket at a time: fill by weight, cap, share the rest again."""
    out = np.zeros(caps.size)
    free = weights > 0
    left = float(target)
    while free.any() and left > 1e-12:
        share = left * weights / weights[free].sum()
        full = free & (share >= caps)
        if not full.any():
            out[free] = share[free]
            return out
        for i in np.flatnonzero(full):
            out[i] = caps[i]
            left -= caps[i]
            free[i] = False
        left = max(left, 0.0)
    return out


def test_water_fill_matches_soupx_alloc():
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = rng.integers(1, 30)
        caps = rng.integers(0, 6, k).astype(float)
        w = rng.dirichlet(np.ones(k)) * (rng.random(k) > 0.2)
        target = rng.uniform(0, caps.sum() * 1.2)
        ours = ac.water_fill(np.zeros(k, dtype=np.int64), 1, np.array([target]), caps, w)
        np.testing.assert_allclose(ours, reference_alloc(target, caps, w), atol=1e-9)
        assert (ours <= caps + 1e-12).all()


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    n, g = rng.integers(5, 80), rng.integers(3, 60)
    dense = rng.poisson(rng.gamma(0.5, 2.0, (n, g))) * (rng.random((n, g)) < 0.6)
    amb = rng.uniform(0, 1.5, n) * dense.sum(axis=1) * rng.uniform(0, 1)
    soup = rng.dirichlet(np.full(g, 0.3))
    groups = rng.choice(["a", "b", "c"], n)
    return sparse.csr_matrix(dense), amb, soup, groups


def test_correction_never_negative_never_above_observed():
    for seed in range(200):
        x, amb, soup, groups = random_case(seed)
        out = ac.correct_counts(x, amb, soup, groups)
        assert sparse.isspmatrix_csr(out) and out.dtype == np.int32 and out.shape == x.shape
        diff = (x - out).toarray()
        assert (out.toarray() >= 0).all() and (diff >= 0).all(), seed


def test_correction_removes_soupx_group_amounts_rounded():
    for seed in range(60):
        x, amb, soup, groups = random_case(seed)
        out = ac.correct_counts(x, amb, soup, groups)
        removed = (x - out).toarray()
        for k in np.unique(groups):
            rows = groups == k
            observed = np.asarray(x[rows].sum(axis=0), dtype=float).ravel()
            want = reference_alloc(amb[rows].sum(), observed, soup)
            np.testing.assert_array_equal(removed[rows].sum(axis=0), np.floor(want + 0.5))
            # and each nucleus lost the floor or ceiling of its share (by A_i)
    x, amb, soup, groups = random_case(3)
    dense = ac.correct_counts(x.toarray(), amb, soup, groups)
    assert (dense != ac.correct_counts(x, amb, soup, groups)).nnz == 0


def test_each_nucleus_loses_floor_or_ceiling_of_its_share():
    # counts far above the shares: no cap, so every entry's share is target * A_i / sum(A)
    rng = np.random.default_rng(1)
    indptr = np.array([0, 7, 7, 120, 500])
    rows = rng.integers(0, 60, 500)
    amb = rng.uniform(0.1, 2.0, 60)
    targets = rng.uniform(0, 200, 4) * (np.diff(indptr) > 0)  # nothing to take from none
    counts = np.full(500, 1000, dtype=np.int32)
    removed = counts - kernel.expand_and_subtract(indptr, rows, counts, amb, targets)
    for j, (a, b) in enumerate(itertools.pairwise(indptr)):
        share = targets[j] * amb[rows[a:b]] / amb[rows[a:b]].sum()
        assert ((removed[a:b] == np.floor(share)) | (removed[a:b] == np.ceil(share))).all()
        assert removed[a:b].sum() == np.floor(targets[j] + 0.5)


def vectorised_removal(indptr, rows, counts, amb, targets):
    """The expand step as array operations: water_fill by segment, then systematic
    rounding of the cumulative sum, clipped to the counts."""
    seg = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
    data = counts.astype(np.float64)
    values = ac.water_fill(seg, indptr.size - 1, targets, data, amb[rows])
    cum = np.concatenate([[0.0], np.cumsum(values)])
    base = np.repeat(cum[indptr[:-1]], np.diff(indptr))
    rounded = np.floor(cum[1:] - base + 0.5) - np.floor(cum[:-1] - base + 0.5)
    return (data - np.clip(rounded, 0.0, data)).astype(np.int32)


def test_expand_step_equals_its_array_formulation_to_the_bit():
    # shares above the counts too (large targets), so the cap rounds are exercised
    rng = np.random.default_rng(2)
    n_capped = 0
    for _ in range(300):
        n_cols, n_rows = rng.integers(1, 40), rng.integers(1, 50)
        sizes = rng.integers(0, 12, n_cols)
        indptr = np.concatenate([[0], np.cumsum(sizes)])
        rows = rng.integers(0, n_rows, indptr[-1])
        counts = rng.integers(1, 6, indptr[-1]).astype(np.int32)
        amb = rng.uniform(0, 3, n_rows) * (rng.random(n_rows) > 0.15)
        targets = (
            rng.uniform(0, 1.5, n_cols)
            * np.add.reduceat(np.append(counts, 0).astype(float), indptr[:-1])
            * (sizes > 0)
        )
        got = kernel.expand_and_subtract(indptr, rows, counts, amb, targets)
        np.testing.assert_array_equal(got, vectorised_removal(indptr, rows, counts, amb, targets))
        n_capped += int((got == 0).sum())
    assert n_capped > 100  # entries emptied to their cap


def test_correction_rejects_mismatched_inputs():
    x, amb, soup, groups = random_case(0)
    with pytest.raises(InputError, match="ambient values"):
        ac.correct_counts(x, amb[:-1], soup, groups)
    with pytest.raises(InputError, match="negative"):
        ac.correct_counts(x, -amb, soup, groups)
    with pytest.raises(InputError, match="finite"):
        ac.correct_counts(x, np.where(np.arange(amb.size) == 2, np.nan, amb), soup, groups)


def test_correction_of_no_nuclei_is_empty():
    out = ac.correct_counts(sparse.csr_matrix((0, 4), dtype=np.int64), [], np.full(4, 0.25), [])
    assert sparse.isspmatrix_csr(out) and out.shape == (0, 4) and out.dtype == np.int32


@pytest.fixture(scope="module")
def pain_study(study):
    """Three sham and three pain mice; pain raises a neuronal gene, the soup carries it."""
    out = []
    for i, pain in enumerate([False, False, False, True, True, True]):
        s = ns.simulate_sample(study, 0.1, n_nuclei=1500, seed=20 + i, pain=pain)
        soup = empty_soup(s)
        est = estimate(study, s, soup=soup, n_boot=0)
        corrected = ac.correct_counts(
            s.counts, est.ambient_umis, soup.profile, s.truth["cell_type"]
        )
        out.append((pain, s, soup, est, corrected))
    return out


def astro_cpm(matrix, truth, gene):
    rows = (truth["cell_type"] == "Astro").to_numpy()
    sub = matrix[rows]
    return sub[:, gene].sum() / sub.sum() * 1e6


def test_correction_removes_pain_signal_from_astrocytes(study, pain_study):
    g = int(np.flatnonzero(study.symbols == ns.PAIN_GENE)[0])
    raw, corr, clean = [], [], []
    for _pain, s, _soup, _est, corrected in pain_study:
        raw.append(astro_cpm(s.counts, s.truth, g))
        corr.append(astro_cpm(corrected, s.truth, g))
        clean.append(astro_cpm(s.counts - s.ambient, s.truth, g))
    raw, corr, clean = map(np.asarray, (raw, corr, clean))

    def lfc(v):
        return np.log2(v[3:].mean() / v[:3].mean())

    assert lfc(raw) > 0.7  # ambient makes the neuronal pain gene look up in astrocytes
    assert abs(lfc(corr)) < 0.3 and abs(lfc(corr) - lfc(clean)) < 0.25
    np.testing.assert_allclose(corr, clean, rtol=0.2)  # back to the astrocytes' own level
    # the astrocyte marker keeps its counts
    aqp4 = int(np.flatnonzero(study.symbols == "Aqp4")[0])
    for _pain, s, _soup, _est, corrected in pain_study:
        rows = (s.truth["cell_type"] == "Astro").to_numpy()
        assert corrected[rows][:, aqp4].sum() >= 0.97 * s.counts[rows][:, aqp4].sum()


def test_ambient_fraction_and_flag(study, pain_study):
    counts = sparse.vstack([p[1].counts for p in pain_study]).tocsr()
    samples = np.concatenate([[f"M{i}"] * p[1].counts.shape[0] for i, p in enumerate(pain_study)])
    types = np.concatenate([p[1].truth["cell_type"] for p in pain_study])
    amb = np.concatenate([p[3].ambient_umis for p in pain_study])
    soups = {f"M{i}": p[2].profile for i, p in enumerate(pain_study)}
    ids = np.array([f"ID{i}" for i in range(study.symbols.size)])
    table = ac.ambient_explained(counts, amb, soups, samples, types, ids)
    astro = table[table["cell_type"] == "Astro"].set_index("gene_id")
    pain_id = ids[study.symbols == ns.PAIN_GENE][0]
    aqp4_id = ids[study.symbols == "Aqp4"][0]
    snap_id = ids[study.symbols == "Snap25"][0]
    # truth: the soup share of astrocyte counts of each gene
    amb_counts = sparse.vstack([p[1].ambient for p in pain_study]).tocsr()
    rows = types == "Astro"
    for gid in (pain_id, aqp4_id, snap_id):
        j = int(np.flatnonzero(ids == gid)[0])
        truth = amb_counts[rows][:, j].sum() / counts[rows][:, j].sum()
        assert astro.loc[gid, "ambient_fraction"] == pytest.approx(truth, abs=0.05)
    assert astro.loc[snap_id, "ambient_fraction"] > 0.95  # neuronal: all soup in glia
    assert astro.loc[aqp4_id, "ambient_fraction"] < 0.05
    de = pd.DataFrame({"gene_id": [pain_id, aqp4_id, snap_id], "padj": [1e-4, 1e-4, 0.3]})
    flagged = ac.flag_mostly_ambient(de, table, "Astro")
    assert flagged["mostly_ambient"].tolist() == [
        astro.loc[pain_id, "ambient_fraction"] >= 0.5,
        False,
        False,
    ]
    assert (
        astro.loc[pain_id, "soup_cpm"] > astro.loc[pain_id, "clean_cpm"]
        or astro.loc[pain_id, "ambient_fraction"] < 0.5
    )
    counts_table = ac.flag_counts({"Astro": flagged})
    assert counts_table.loc[0, "significant"] == 2
    with pytest.raises(InputError, match="no soup profile"):
        ac.ambient_explained(counts, amb, {"M0": soups["M0"]}, samples, types, ids)


def test_ambient_explained_from_pseudobulk_equals_from_nuclei(study, pain_study):
    _pain, s, soup, est, _corrected = pain_study[0]
    ids = np.array([f"ID{i}" for i in range(study.symbols.size)])
    types = s.truth["cell_type"].to_numpy()
    from_nuclei = ac.ambient_explained(
        s.counts, est.ambient_umis, {"M0": soup.profile}, ["M0"] * types.size, types, ids
    )
    labels = pd.unique(types)
    pb = np.vstack([np.asarray(s.counts[types == t].sum(axis=0)).ravel() for t in labels])
    sums = [est.ambient_umis[types == t].sum() for t in labels]
    from_pb = ac.ambient_explained_pseudobulk(
        pb, ["M0"] * labels.size, labels, sums, {"M0": soup.profile}, ids
    )
    key = ["cell_type", "gene_id"]
    pd.testing.assert_frame_equal(
        from_nuclei.sort_values(key).reset_index(drop=True),
        from_pb.sort_values(key).reset_index(drop=True),
    )


def test_soup_aligns_duplicated_gene_ids_as_read_sample_names_them(tmp_path):
    from acc_tiam1 import snrna
    from test_raw_droplets import raw_matrix

    x, bcs, _ids, names = raw_matrix(n_cells=60, n_empty=3000)
    ids = np.array(["ID"] * 10 + [f"G{i}" for i in range(20)])  # as in stripped test data
    write_h5(tmp_path / "raw.h5", x, bcs, ids, names)
    adata = snrna.read_sample(tmp_path / "raw.h5", "S1")
    droplets = raw_droplets.read_raw_droplets(tmp_path / "raw.h5", "S1")
    soup = ambient.soup_from_droplets(droplets, adata.var_names, bcs[:60], cutoff=10, min_umis=10)
    empty = np.asarray(droplets.totals) <= 10
    want = np.asarray(x[empty].sum(axis=0)).ravel()
    np.testing.assert_allclose(soup.profile, want / want.sum())


def test_corrected_samples_reads_one_sample_at_a_time_and_corrects_it(tmp_path):
    import anndata as ad
    from acc_tiam1 import snrna

    rng = np.random.default_rng(3)
    genes = [f"ID{i}" for i in range(12)]
    qc, soups, rows = {}, {}, []
    for s in ("S1", "S2"):
        x = sparse.csr_matrix(rng.poisson(4, (6, 12)).astype(np.int32))
        var = pd.DataFrame({"gene": [f"G{i}" for i in range(12)]}, index=genes)
        barcodes = [f"BC{i}-1" for i in range(6)]
        ad.AnnData(X=x, obs=pd.DataFrame(index=barcodes), var=var).write_h5ad(
            tmp_path / f"{s}.h5ad"
        )
        qc[s] = tmp_path / f"{s}.h5ad"
        soup = pd.DataFrame({"gene_id": genes, "soup": rng.dirichlet(np.ones(12))})
        soup.to_csv(tmp_path / f"{s}.soup.tsv", sep="\t", index=False)
        summary = pd.DataFrame([{"soup_basis": "droplets", "soup_droplets": 9, "soup_umis": 90}])
        summary.to_csv(tmp_path / f"{s}.filters.tsv", sep="\t", index=False)
        soups[s] = (tmp_path / f"{s}.filters.tsv", tmp_path / f"{s}.soup.tsv")
        rows += [(f"{s}_{b}", 3.0, i == 0) for i, b in enumerate(barcodes)]
    nuclei = pd.DataFrame(rows, columns=["nucleus", "ambient_umis", "coexpression_doublet"])
    nuclei = nuclei.set_index("nucleus")
    cell_types = pd.Series("Astro", index=nuclei.index)
    keep = pd.Index(genes[2:])

    profiles = snrna.read_soups(soups, keep)
    out = dict(snrna.corrected_samples(qc, nuclei, cell_types, keep, profiles))
    assert list(out) == ["S1", "S2"]
    for s, adata in out.items():
        raw = snrna.read_qc_sample(qc[s], s)[1:, keep]  # the co-expression doublet is out
        assert list(adata.obs_names) == list(raw.obs_names) and adata.var_names.equals(keep)
        assert (adata.X != raw.X).nnz == 0
        row = pd.read_csv(soups[s][0], sep="\t").iloc[0].to_dict()
        soup = snrna.read_soup(pd.read_csv(soups[s][1], sep="\t"), row, keep)
        assert np.array_equal(profiles[s].profile, soup.profile)
        expected = ac.correct_counts(raw.X, np.full(5, 3.0), soup.profile, np.full(5, "Astro"))
        corrected = adata.layers["ambient_corrected"]
        assert (corrected != expected).nnz == 0 and corrected.sum() < raw.X.sum()
    # Without the ambient step the corrected counts are the counts.
    plain = dict(snrna.corrected_samples(qc, nuclei, cell_types, keep))
    assert all((a.layers["ambient_corrected"] != a.X).nnz == 0 for a in plain.values())
