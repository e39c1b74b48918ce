"""Writing simulated samples in the formats labs bring.

Cell Ranger .h5 (filtered or raw), a Cell Ranger matrix folder (filtered or raw), a
processed .h5ad. Matrices are written a block of barcodes at a time (no second copy of a
sample's counts in memory), and every file is byte-identical for identical counts: no
time stamps in the HDF5 objects or gzip headers.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..io import atomic_output

#: Barcodes written at a time (.h5; a Matrix Market block is formatted as text in memory,
#: so those are smaller).
BLOCK_ROWS = 4096
MTX_BLOCK_ROWS = 1024
GEX = "Gene Expression"


def write_10x_h5(adata, path: str | Path, genome: str = "GRCm39-demo") -> None:
    """Write counts as a Cell Ranger (v3) ``filtered_feature_bc_matrix.h5``.

    Parameters
    ----------
    adata
        Nuclei x genes, integer counts in ``X``, symbols in ``var["gene"]``.
    path
        Destination.
    genome
        Value of the features' ``genome`` field.
    """
    x = sparse.csr_matrix(adata.X)
    blocks = _row_blocks(x, np.arange(x.shape[0]))
    _write_h5(
        path, blocks, x.shape[0], x.nnz, adata.var_names, adata.var["gene"], adata.obs_names, genome
    )


def write_mtx_folder(adata, folder: str | Path) -> None:
    """Write counts as a Cell Ranger matrix folder (gzipped mtx, barcodes, features).

    Parameters
    ----------
    adata
        Nuclei x genes, integer counts in ``X``, symbols in ``var["gene"]``.
    folder
        Destination folder (created).
    """
    x = sparse.csr_matrix(adata.X)
    blocks = _row_blocks(x, np.arange(x.shape[0]), size=MTX_BLOCK_ROWS)
    _write_mtx(
        folder, blocks, x.shape[0], x.nnz, adata.var_names, adata.var["gene"], adata.obs_names
    )


def write_raw_droplets(adata, empties: sparse.spmatrix, empty_barcodes, path: str | Path) -> None:
    """Write a raw droplet matrix: the nuclei of ``adata`` and the empty droplets.

    Barcodes are sorted, as Cell Ranger writes them, so the nuclei lie scattered among the
    empty droplets; the nuclei's counts are those of the filtered matrix.

    Parameters
    ----------
    adata
        The filtered matrix (nuclei x genes).
    empties
        Empty droplets x genes.
    empty_barcodes
        Their barcodes.
    path
        ``*.h5`` for a Cell Ranger ``raw_feature_bc_matrix.h5``, otherwise a raw matrix
        folder.
    """
    x = sparse.csr_matrix(adata.X)
    e = sparse.csr_matrix(empties)
    barcodes = np.concatenate(
        [np.asarray(adata.obs_names, dtype=object), np.asarray(empty_barcodes, dtype=object)]
    )
    order = np.argsort(barcodes.astype(str), kind="stable")
    args = (order.size, x.nnz + e.nnz, adata.var_names, adata.var["gene"], barcodes[order])
    if str(path).lower().endswith(".h5"):
        _write_h5(path, _row_blocks(x, order, e), *args)
    else:
        _write_mtx(path, _row_blocks(x, order, e, MTX_BLOCK_ROWS), *args)


def write_processed_h5ad(adata, path: str | Path) -> None:
    """Write an .h5ad as analysis tools leave it: log-normalised X, counts in a layer.

    ``X`` is scanpy's ``normalize_total(target_sum=1e4)`` then ``log1p``; symbols are the
    var names (made unique), gene ids in ``var["gene_ids"]``.
    """
    import anndata as ad

    counts = sparse.csr_matrix(adata.X)
    totals = np.asarray(counts.sum(axis=1)).ravel().astype(np.float64)
    scale = np.divide(1e4, totals, out=np.zeros_like(totals), where=totals > 0)
    x = sparse.diags(scale) @ counts.astype(np.float64)
    x.data = np.log1p(x.data)
    out = ad.AnnData(
        X=x.astype(np.float32).tocsr(),
        obs=adata.obs.copy(),
        var=pd.DataFrame(
            {"gene_ids": adata.var_names.to_numpy()}, index=pd.Index(adata.var["gene"].to_numpy())
        ),
        layers={"counts": counts},
    )
    out.var_names_make_unique()
    with atomic_output(path) as tmp:
        out.write_h5ad(tmp, compression="gzip")


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


# --------------------------------------------------------------------------------------


def _row_blocks(
    x: sparse.csr_matrix,
    order: np.ndarray,
    extra: sparse.csr_matrix | None = None,
    size: int = BLOCK_ROWS,
) -> Iterator[sparse.csr_matrix]:
    """Rows ``order`` of ``x`` (stacked over ``extra``), ``size`` at a time."""
    n_x = x.shape[0]
    for start in range(0, order.size, size):
        src = order[start : start + size]
        if extra is None:
            yield x[src]
            continue
        is_x = src < n_x
        block = sparse.vstack([x[src[is_x]], extra[src[~is_x] - n_x]], format="csr")
        take = np.where(is_x, np.cumsum(is_x) - 1, is_x.sum() + np.cumsum(~is_x) - 1)
        yield block[take]


def _write_h5(path, blocks, n_rows, nnz, gene_ids, names, barcodes, genome="GRCm39-demo"):
    """A Cell Ranger v3 ``/matrix`` group (CSC genes x barcodes == CSR barcodes x genes)."""
    import h5py

    n = len(gene_ids)
    kw = {"compression": "gzip", "compression_opts": 1, "track_times": False}
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=False) as f:
        m = f.create_group("matrix")
        m.create_dataset("barcodes", data=np.asarray(barcodes, dtype="S"), **kw)
        data = m.create_dataset("data", shape=(nnz,), dtype=np.int32, **_chunked(nnz, kw))
        indices = m.create_dataset("indices", shape=(nnz,), dtype=np.int64, **_chunked(nnz, kw))
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        row = at = 0
        for block in blocks:
            k = block.nnz
            data[at : at + k] = block.data
            indices[at : at + k] = block.indices
            indptr[row + 1 : row + 1 + block.shape[0]] = at + block.indptr[1:]
            row += block.shape[0]
            at += k
        m.create_dataset("indptr", data=indptr, **kw)
        m.create_dataset("shape", data=np.array([n, n_rows], dtype=np.int32), track_times=False)
        feat = m.create_group("features")
        feat.create_dataset("id", data=np.asarray(gene_ids, dtype="S"), **kw)
        feat.create_dataset("name", data=np.asarray(names, dtype="S"), **kw)
        feat.create_dataset("feature_type", data=np.array([GEX] * n, dtype="S"), **kw)
        feat.create_dataset("genome", data=np.array([genome] * n, dtype="S"), **kw)
        feat.create_dataset(
            "_all_tag_keys", data=np.array(["genome"], dtype="S"), track_times=False
        )


def _chunked(n: int, kw: dict) -> dict:
    # HDF5 cannot chunk a zero-length dataset's compression; an empty matrix is stored plain.
    return kw if n > 0 else {"track_times": False}


def _write_mtx(folder, blocks, n_rows, nnz, gene_ids, names, barcodes) -> None:
    """A Cell Ranger matrix folder; entries sorted by barcode, then gene."""
    from scipy.io import mmwrite

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_genes = len(gene_ids)
    header = (
        "%%MatrixMarket matrix coordinate integer general\n"
        '%metadata_json: {"software_version": "acc_tiam1 demo"}\n'
        f"{n_genes} {n_rows} {nnz}\n"
    )
    with _gz(folder / "matrix.mtx.gz") as handle:
        handle.write(header.encode())
        row = 0
        for block in blocks:
            coo = block.tocoo()
            part = sparse.coo_matrix(
                (coo.data, (coo.col, coo.row + row)), shape=(n_genes, max(n_rows, 1))
            )
            buf = BytesIO()
            mmwrite(buf, part, field="integer")
            text = buf.getvalue()
            handle.write(text[_after_lines(text, 3) :])  # scipy's own header: 3 lines
            row += block.shape[0]
    lines = [f"{i}\t{n}\t{GEX}\n" for i, n in zip(gene_ids, names, strict=True)]
    with _gz(folder / "features.tsv.gz") as handle:
        handle.write("".join(lines).encode())
    with _gz(folder / "barcodes.tsv.gz") as handle:
        handle.write("".join(f"{b}\n" for b in np.asarray(barcodes, dtype=str)).encode())


def _after_lines(text: bytes, n: int) -> int:
    at = 0
    for _ in range(n):
        at = text.index(b"\n", at) + 1
    return at


@contextmanager
def _gz(path: Path) -> Iterator[gzip.GzipFile]:
    """A gzip file written atomically, with no time stamp or name in its header."""
    with (
        atomic_output(path) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as gz,
    ):
        yield gz
