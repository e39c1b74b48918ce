"""Raw droplet matrices (Cell Ranger .h5, gz and STARsolo matrix folders), CellBender output
as a filtered matrix, and the check that all samples share one gene set."""

from __future__ import annotations

import gzip
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from acc_tiam1 import snrna
from acc_tiam1.errors import InputError
from acc_tiam1.snrna import _raw as rd
from scipy import sparse


def raw_matrix(n_cells=40, n_empty=400, n_genes=30, seed=0):
    """Barcodes x genes: a few cells with many UMIs, many droplets with a few, some empty."""
    rng = np.random.default_rng(seed)
    cells = rng.poisson(rng.uniform(5, 40, n_genes), (n_cells, n_genes))
    empty = rng.poisson(0.2, (n_empty, n_genes))
    empty[: n_empty // 10] = 0  # barcodes with no count at all
    x = sparse.csr_matrix(np.vstack([cells, empty]))
    barcodes = np.array([f"{'ACGT'[i % 4]}{i:07d}-1" for i in range(x.shape[0])])
    ids = np.array([f"ENSMUSG{i:011d}" for i in range(n_genes)])
    names = np.array([f"Gene{i}" for i in range(n_genes)])
    return x, barcodes, ids, names


def write_h5(path: Path, x, barcodes, ids, names, types=None, extra=None):
    """A Cell Ranger v3 .h5 (genes x barcodes CSC, i.e. barcodes x genes CSR)."""
    x = sparse.csr_matrix(x)
    types = np.array(["Gene Expression"] * len(ids)) if types is None else types
    with h5py.File(path, "w") as f:
        m = f.create_group("matrix")
        m.create_dataset("barcodes", data=np.array(barcodes, dtype="S"))
        m.create_dataset("data", data=x.data.astype(np.int32))
        m.create_dataset("indices", data=x.indices.astype(np.int64))
        m.create_dataset("indptr", data=x.indptr.astype(np.int64))
        m.create_dataset("shape", data=np.array([x.shape[1], x.shape[0]], dtype=np.int32))
        fe = m.create_group("features")
        fe.create_dataset("id", data=np.array(ids, dtype="S"))
        fe.create_dataset("name", data=np.array(names, dtype="S"))
        fe.create_dataset("feature_type", data=np.array(types, dtype="S"))
        fe.create_dataset("genome", data=np.array(["mm10"] * len(ids), dtype="S"))
        if extra:
            extra(f)


def write_mtx(folder: Path, x, barcodes, ids, names, gz=True, shuffle=False):
    """A Cell Ranger (gz) or STARsolo (plain) matrix folder."""
    folder.mkdir(parents=True, exist_ok=True)
    coo = sparse.csr_matrix(x).T.tocoo()
    order = np.random.default_rng(1).permutation(coo.nnz) if shuffle else np.arange(coo.nnz)
    opener = (lambda p: gzip.open(p, "wt")) if gz else (lambda p: open(p, "w"))
    sfx = ".gz" if gz else ""
    with opener(folder / f"matrix.mtx{sfx}") as h:
        h.write("%%MatrixMarket matrix coordinate integer general\n%\n")
        h.write(f"{x.shape[1]} {x.shape[0]} {coo.nnz}\n")
        for r, c, v in zip(coo.row[order], coo.col[order], coo.data[order], strict=True):
            h.write(f"{r + 1} {c + 1} {v}\n")
    with opener(folder / f"features.tsv{sfx}") as h:
        for i, n in zip(ids, names, strict=True):
            h.write(f"{i}\t{n}\tGene Expression\n")
    with opener(folder / f"barcodes.tsv{sfx}") as h:
        h.write("\n".join(barcodes) + "\n")


@pytest.fixture(scope="module")
def raw():
    return raw_matrix()


def check_reader(droplets: rd.RawDroplets, x, ids, barcodes):
    totals = np.asarray(x.sum(axis=1)).ravel()
    np.testing.assert_array_equal(droplets.totals, totals)
    np.testing.assert_array_equal(droplets.gene_ids.astype(str), ids)
    assert droplets.barcodes.astype(str).tolist() == list(barcodes)
    counts, n = droplets.gene_counts(0, 5)
    keep = (totals > 0) & (totals <= 5)
    np.testing.assert_array_equal(counts, np.asarray(x[keep].sum(axis=0)).ravel())
    assert n == keep.sum()
    exclude = np.zeros(len(totals), bool)
    exclude[np.flatnonzero(keep)[:3]] = True
    counts2, n2 = droplets.gene_counts(0, 5, exclude)
    assert n2 == n - 3
    np.testing.assert_array_equal(counts2, np.asarray(x[keep & ~exclude].sum(axis=0)).ravel())


def test_raw_h5_totals_and_soup_counts(tmp_path, raw, monkeypatch):
    x, bcs, ids, names = raw
    write_h5(tmp_path / "raw.h5", x, bcs, ids, names)
    monkeypatch.setattr(rd, "BLOCK_ENTRIES", 97)  # many blocks, as for a million barcodes
    check_reader(rd.read_raw_droplets(tmp_path / "raw.h5", "S1"), x, ids, bcs)


@pytest.mark.parametrize("gz", [True, False], ids=["cellranger_gz", "starsolo_plain"])
def test_raw_matrix_folders(tmp_path, raw, gz, monkeypatch):
    x, bcs, ids, names = raw
    write_mtx(tmp_path / "raw", x, bcs, ids, names, gz=gz, shuffle=True)
    monkeypatch.setattr(rd, "BLOCK_ENTRIES", 101)
    check_reader(rd.read_raw_droplets(tmp_path / "raw", "S1"), x, ids, bcs)


def test_raw_h5_leaves_out_antibody_features(tmp_path, raw):
    x, bcs, ids, names = raw
    types = np.array(["Gene Expression"] * (len(ids) - 2) + ["Antibody Capture"] * 2)
    write_h5(tmp_path / "raw.h5", x, bcs, ids, names, types)
    d = rd.read_raw_droplets(tmp_path / "raw.h5", "S1")
    assert d.gene_ids.size == len(ids) - 2
    np.testing.assert_array_equal(d.totals, np.asarray(x[:, :-2].sum(axis=1)).ravel())


def test_raw_h5_cellranger2_layout(tmp_path, raw):
    x, bcs, ids, names = raw
    csr = sparse.csr_matrix(x)
    with h5py.File(tmp_path / "raw_v2.h5", "w") as f:
        g = f.create_group("mm10")
        g.create_dataset("barcodes", data=np.array(bcs, dtype="S"))
        g.create_dataset("data", data=csr.data.astype(np.int32))
        g.create_dataset("indices", data=csr.indices.astype(np.int64))
        g.create_dataset("indptr", data=csr.indptr.astype(np.int64))
        g.create_dataset("shape", data=np.array([x.shape[1], x.shape[0]], dtype=np.int32))
        g.create_dataset("genes", data=np.array(ids, dtype="S"))
        g.create_dataset("gene_names", data=np.array(names, dtype="S"))
    check_reader(rd.read_raw_droplets(tmp_path / "raw_v2.h5", "S1"), x, ids, bcs)


def test_raw_missing_or_not_10x_names_sample_and_file(tmp_path, raw):
    with pytest.raises(InputError, match=r"S7.*does not exist") as err:
        rd.read_raw_droplets(tmp_path / "nope_raw.h5", "S7")
    assert "nope_raw.h5" in str(err.value)
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match=r"S7.*not an HDF5") as err:
        rd.read_raw_droplets(tmp_path / "text.h5", "S7")
    assert "text.h5" in str(err.value)
    with h5py.File(tmp_path / "anndata.h5", "w") as f:
        f.create_group("obs")
        f.create_group("var")
    with pytest.raises(InputError, match=r"S7.*not a 10x Genomics matrix") as err:
        rd.read_raw_droplets(tmp_path / "anndata.h5", "S7")
    assert "anndata.h5" in str(err.value)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match=r"S7.*no matrix.mtx") as err:
        rd.check_raw_path(tmp_path / "empty_dir", "S7")
    assert "empty_dir" in str(err.value)
    (tmp_path / "bad").mkdir()
    for name in ("matrix.mtx", "barcodes.tsv", "features.tsv"):
        (tmp_path / "bad" / name).write_text("hello\n")
    with pytest.raises(InputError, match=r"S7.*not a Matrix Market"):
        rd.check_raw_path(tmp_path / "bad", "S7")


def test_raw_folder_with_wrong_barcode_count(tmp_path, raw):
    x, bcs, ids, names = raw
    write_mtx(tmp_path / "raw", x, bcs[:-5], ids, names)
    with pytest.raises(InputError, match=r"S2.*barcodes"):
        rd.read_raw_droplets(tmp_path / "raw", "S2")


# --- CellBender ---------------------------------------------------------------------


def cellbender_extra(analysed, prob):
    """The groups CellBender v0.3 adds next to /matrix (io.write_matrix_to_cellranger_h5)."""

    def extra(f):
        f.attrs["TITLE"] = np.bytes_("CellBender remove-background output")
        f.attrs["PYTABLES_FORMAT_VERSION"] = np.bytes_("2.1")
        d = f.create_group("droplet_latents")
        d.create_dataset("barcode_indices_for_latents", data=analysed.astype(np.int64))
        d.create_dataset("cell_probability", data=prob)
        d.create_dataset("background_fraction", data=np.full(prob.size, 0.1))
        d.create_dataset("cell_size", data=np.full(prob.size, 3000.0))
        d.create_dataset("droplet_efficiency", data=np.ones(prob.size))
        d.create_dataset("gene_expression_encoding", data=np.zeros((prob.size, 5)))
        g = f.create_group("global_latents")
        g.create_dataset("ambient_expression", data=np.full(30, 1 / 30))
        g.create_dataset("empty_droplet_size_lognormal_loc", data=np.float64(3.0))
        g.create_dataset("target_false_positive_rate", data=np.float64(0.01))
        g.create_dataset("swapping_fraction_dist_params", data=np.array([1.0, 2.0]))
        m = f.create_group("metadata")
        m.create_dataset("barcodes_analyzed_inds", data=analysed.astype(np.int64))
        m.create_dataset("features_analyzed_inds", data=np.arange(30))
        m.create_dataset("fraction_data_used_for_testing", data=np.float64(0.1))
        m.create_dataset("train_elbo", data=np.linspace(-5, -1, 20))
        m.create_dataset("train_epoch", data=np.arange(20))
        f["matrix"].attrs["TITLE"] = np.bytes_("Counts after background correction")

    return extra


def test_cellbender_filtered_output_reads(tmp_path, raw):
    x, bcs, ids, names = raw
    cells = x[:40]
    prob = np.linspace(0.9, 1.0, 40)
    path = tmp_path / "out_filtered.h5"
    write_h5(path, cells, bcs[:40], ids, names, extra=cellbender_extra(np.arange(40), prob))
    assert rd.is_cellbender_h5(path)
    a = rd.read_cellbender_h5(path, "S1")
    assert a.shape == (40, 30)
    assert (a.X != cells).nnz == 0
    assert a.var_names.tolist() == list(ids) and a.var["gene"].tolist() == list(names)
    np.testing.assert_allclose(a.obs["cell_probability"], prob)
    # scanpy reads only /matrix, so the filtered output also goes through read_sample
    ad_sc = sc.read_10x_h5(path)
    assert ad_sc.shape == (40, 30)
    std = snrna.read_sample(path, "S1")
    assert (std.X != cells).nnz == 0 and std.var_names.tolist() == list(ids)


def test_cellbender_unfiltered_output_keeps_cells(tmp_path, raw, caplog):
    x, bcs, ids, names = raw
    analysed = np.arange(100)  # CellBender analyses the top droplets only
    prob = np.where(analysed < 40, 0.99, 0.02)
    prob[5] = 0.3  # a barcode CellBender does not call a cell
    path = tmp_path / "out.h5"
    write_h5(path, x, bcs, ids, names, extra=cellbender_extra(analysed, prob))
    a = rd.read_cellbender_h5(path, "S1")
    assert a.n_obs == 39
    assert bcs[5] not in a.obs_names and bcs[41] not in a.obs_names
    assert "unfiltered" in caplog.text
    # A sheet's path may name CellBender's output: the workflow's reader keeps the cells.
    std = snrna.read_sample(path, "S1")
    assert std.n_obs == 39 and std.X.dtype == np.int32


def test_cellbender_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"S3.*does not exist"):
        rd.read_cellbender_h5(tmp_path / "cb_filtered.h5", "S3")
    assert not rd.is_cellbender_h5(tmp_path / "cb_filtered.h5")


# --- same genes in every sample -----------------------------------------------------


def test_gene_sets_agree():
    genes = [f"G{i}" for i in range(10)]
    assert snrna.shared_genes({"A": genes, "B": genes[::-1]}) == genes


def test_gene_sets_differ_is_an_error_naming_samples():
    """A user's sample quantified against another reference (600 of the others' 1,267
    genes) must not silently cut every sample down to the shared genes."""
    full = [f"G{i}" for i in range(1267)]
    sets = {"S1": full, "S2": full, "S3": full[:600]}
    with pytest.raises(InputError) as err:
        snrna.shared_genes(sets)
    text = str(err.value)
    assert "'S3' has 600 genes, 667 of all 1,267 missing" in text
    assert "'S1'" not in text and "allow_gene_intersection" in text


def test_gene_sets_differ_allowed_intersect(caplog):
    full = [f"G{i}" for i in range(1267)]
    out = snrna.shared_genes({"S1": full, "S3": full[:600]}, allow_intersection=True)
    assert out == full[:600]
    assert "667 of 1267 gene ids dropped" in caplog.text


def test_gene_sets_disjoint():
    with pytest.raises(InputError, match="share no gene"):
        snrna.shared_genes({"A": ["G1"], "B": ["G2"]}, allow_intersection=True)


def test_gene_sets_frame_of_var_names():
    a = pd.Index(["G1", "G2"])
    assert snrna.shared_genes({"A": a, "B": list(a)}) == ["G1", "G2"]
