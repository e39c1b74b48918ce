"""Writing simulated samples in the formats labs bring.

Cell Ranger .h5, a matrix folder, a processed .h5ad.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..io import atomic_output


def write_10x_h5(adata, path: str | Path, genome: str = "GRCm39-demo") -> None:
    """Write counts as a Cell Ranger (v3) ``filtered_feature_bc_matrix.h5``."""
    import h5py

    x = sparse.csr_matrix(adata.X)  # nuclei x genes CSR == genes x nuclei CSC
    n = adata.n_vars
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        m = f.create_group("matrix")
        kw = {"compression": "gzip", "compression_opts": 1}
        m.create_dataset("barcodes", data=np.array(adata.obs_names, dtype="S"), **kw)
        m.create_dataset("data", data=x.data.astype(np.int32), **kw)
        m.create_dataset("indices", data=x.indices.astype(np.int64), **kw)
        m.create_dataset("indptr", data=x.indptr.astype(np.int64), **kw)
        m.create_dataset("shape", data=np.array([n, adata.n_obs], dtype=np.int32))
        feat = m.create_group("features")
        feat.create_dataset("id", data=np.array(adata.var_names, dtype="S"), **kw)
        feat.create_dataset("name", data=np.array(adata.var["gene"], dtype="S"), **kw)
        feat.create_dataset("feature_type", data=np.array(["Gene Expression"] * n, dtype="S"), **kw)
        feat.create_dataset("genome", data=np.array([genome] * n, dtype="S"), **kw)
        feat.create_dataset("_all_tag_keys", data=np.array(["genome"], dtype="S"))


def write_mtx_folder(adata, folder: str | Path) -> None:
    """Write counts as a Cell Ranger matrix folder (gzipped mtx, barcodes, features)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    coo = sparse.csr_matrix(adata.X).T.tocoo()  # genes x barcodes
    order = np.lexsort((coo.row, coo.col))
    body = pd.DataFrame({"r": coo.row[order] + 1, "c": coo.col[order] + 1, "v": coo.data[order]})
    header = (
        "%%MatrixMarket matrix coordinate integer general\n"
        '%metadata_json: {"software_version": "acc_tiam1 demo"}\n'
        f"{adata.n_vars} {adata.n_obs} {coo.nnz}\n"
    )
    _write_gz(folder / "matrix.mtx.gz", header, body)
    feats = pd.DataFrame(
        {"id": adata.var_names, "name": adata.var["gene"].to_numpy(), "type": "Gene Expression"}
    )
    _write_gz(folder / "features.tsv.gz", "", feats)
    _write_gz(folder / "barcodes.tsv.gz", "", pd.DataFrame({"b": adata.obs_names}))


def _write_gz(path: Path, header: str, table: pd.DataFrame) -> None:
    sep = " " if path.name.startswith("matrix") else "\t"
    with atomic_output(path) as tmp, gzip.open(tmp, "wt", compresslevel=1) as handle:
        handle.write(header)
        table.to_csv(handle, sep=sep, header=False, index=False, lineterminator="\n")


def write_processed_h5ad(adata, path: str | Path) -> None:
    """Write an .h5ad as analysis tools leave it: log-normalised X, counts in a layer."""
    import scanpy as sc

    from ..snrna import write_h5ad

    out = adata.copy()
    out.layers["counts"] = out.X.copy()
    out.X = out.X.astype(np.float32)
    sc.pp.normalize_total(out, target_sum=1e4)
    sc.pp.log1p(out)
    out.var = pd.DataFrame(
        {"gene_ids": out.var_names.to_numpy()}, index=pd.Index(out.var["gene"].to_numpy())
    )
    out.var_names_make_unique()
    write_h5ad(out, path)


def write_sample(adata, path: str | Path) -> None:
    """Write one sample in the format its path asks for (see :func:`snrna.input_format`)."""
    from ..snrna import input_format

    fmt = input_format(path)
    if fmt == "10x_h5":
        write_10x_h5(adata, path)
    elif fmt == "h5ad":
        write_processed_h5ad(adata, path)
    else:
        write_mtx_folder(adata, path)
