"""Reading one sample's counts into a standard AnnData; parts of .h5ad files.

Inputs: Cell Ranger .h5, matrix folders (mtx), .h5ad with raw counts.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError

if TYPE_CHECKING:
    import anndata

log = logging.getLogger(__name__)

#: gzip level of the .h5ad files the workflow writes. Level 1 writes the byte-shuffled
#: counts of the 100k-nuclei benchmark's annotated object 1.7 times as fast as anndata's
#: default 4, for a file 4% larger, and reads them back as fast (docs/benchmarks.md).
GZIP_LEVEL = 1


#: Input formats and how they are recognised.
FORMAT_HELP = (
    "expected a Cell Ranger filtered_feature_bc_matrix.h5, a matrix folder "
    "(matrix.mtx[.gz], barcodes.tsv[.gz], features.tsv[.gz] or genes.tsv[.gz]) "
    "or an .h5ad with raw counts in X or layers['counts']"
)


#: Columns of ``var`` that may hold gene ids / symbols in an .h5ad.
H5AD_ID_COLUMNS = ("gene_ids", "gene_id", "ensembl_id", "feature_id", "gene_ids-0")


H5AD_SYMBOL_COLUMNS = (
    "gene",
    "gene_symbols",
    "gene_symbol",
    "gene_name",
    "feature_name",
    "symbol",
    "Symbol",
)


def input_format(path: str | Path) -> str:
    """``"10x_h5"``, ``"h5ad"`` or ``"mtx"`` (a folder), judged from the path.

    A path that does not exist yet (a file a rule will write) is judged by its suffix;
    no suffix means a matrix folder.
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".h5ad"):
        return "h5ad"
    if name.endswith(".h5") or name.endswith(".hdf5"):
        return "10x_h5"
    if p.is_dir() or (not p.exists() and not p.suffix):
        return "mtx"
    raise InputError(f"unsupported input '{p.name}': {FORMAT_HELP}.", path)


def mtx_files(folder: str | Path) -> dict[str, Path]:
    """The matrix, barcode and feature files of a Cell Ranger / STARsolo matrix folder.

    Raises
    ------
    InputError
        When one of the three files is missing.
    """
    folder = Path(folder)
    wanted = {
        "matrix": ("matrix.mtx.gz", "matrix.mtx"),
        "barcodes": ("barcodes.tsv.gz", "barcodes.tsv"),
        "features": ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"),
    }
    found = {}
    for key, names in wanted.items():
        hit = next((folder / n for n in names if (folder / n).is_file()), None)
        if hit is None:
            raise InputError(f"matrix folder has no {' or '.join(names)} ({FORMAT_HELP}).", folder)
        found[key] = hit
    return found


def read_sample(path: str | Path, sample: str) -> anndata.AnnData:
    """Read one sample's count matrix in any supported format and check it.

    Parameters
    ----------
    path
        A 10x ``.h5`` (Cell Ranger, or CellBender's output), a matrix folder or an
        ``.h5ad`` (see :data:`FORMAT_HELP`).
    sample
        Sample id, for error messages.

    Returns
    -------
    anndata.AnnData
        Nuclei x genes, ``X`` raw counts as CSR int32, ``var`` indexed by gene id with
        column ``gene`` (symbol), ``obs`` indexed by barcode.

    Raises
    ------
    InputError
        Naming the sample and file: missing or unreadable file, a ``.h5`` that is not a
        10x matrix, no nuclei or no counts, negative or non-integer counts, duplicated
        barcodes.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"sample '{sample}': input does not exist.", path)
    if not os.access(path, os.R_OK):
        raise InputError(f"sample '{sample}': input is not readable (permissions).", path)
    fmt = input_format(path)
    if fmt == "10x_h5":
        from ._raw import is_cellbender_h5, read_cellbender_h5

        if is_cellbender_h5(path):
            adata = read_cellbender_h5(path, sample)
        else:
            adata = _read_10x_h5(path, sample)
    elif fmt == "mtx":
        if not path.is_dir():
            raise InputError(f"sample '{sample}': {FORMAT_HELP}.", path)
        adata = _read_mtx(path, sample)
    else:
        adata = _read_h5ad(path, sample)
    return _standardise(adata, sample, path)


def _read_10x_h5(path: Path, sample: str):
    import h5py
    import scanpy as sc

    if not h5py.is_hdf5(path):
        raise InputError(
            f"sample '{sample}': not an HDF5 file, so not a Cell Ranger .h5 ({FORMAT_HELP}).",
            path,
        )
    with h5py.File(path, "r") as f:
        keys = list(f.keys())
        is_v3 = "matrix" in f
        legacy = [
            k
            for k in keys
            if isinstance(f[k], h5py.Group)
            and {"barcodes", "data", "indices", "indptr", "shape"} <= set(f[k].keys())
        ]
    if not is_v3 and not legacy:
        hint = ""
        if {"X", "obs", "var"} & set(keys):
            hint = " It looks like an AnnData file: name it .h5ad."
        raise InputError(
            f"sample '{sample}': this .h5 is not a 10x Genomics (Cell Ranger) matrix: it "
            f"has no 'matrix' group (top-level keys: {', '.join(keys) or 'none'}).{hint}",
            path,
        )
    try:
        adata = sc.read_10x_h5(path, genome=legacy[0] if not is_v3 else None, gex_only=True)
    except Exception as err:
        raise InputError(f"sample '{sample}': could not read the 10x .h5: {err}", path) from err
    ids = adata.var["gene_ids"].astype(str).to_numpy()
    adata.var = pd.DataFrame({"gene": adata.var_names.astype(str)}, index=pd.Index(ids))
    return adata


def _read_lines(path: Path) -> list[list[str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as handle:
        return [line.rstrip("\r\n").split("\t") for line in handle if line.strip()]


def _read_mtx(folder: Path, sample: str):
    import anndata as ad
    from scipy.io import mmread

    files = mtx_files(folder)
    try:
        matrix = mmread(files["matrix"])
    except Exception as err:
        raise InputError(
            f"sample '{sample}': {files['matrix'].name} is not a Matrix Market file: {err}",
            files["matrix"],
        ) from err
    try:
        barcodes = [row[0] for row in _read_lines(files["barcodes"])]
        features = _read_lines(files["features"])
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise InputError(f"sample '{sample}': could not read {err}", folder) from err
    matrix = sparse.csr_matrix(matrix)
    n_genes, n_barcodes = matrix.shape
    if len(barcodes) != n_barcodes or len(features) != n_genes:
        raise InputError(
            f"sample '{sample}': the matrix is {n_genes} genes x {n_barcodes} barcodes but "
            f"{files['features'].name} lists {len(features)} genes and "
            f"{files['barcodes'].name} {len(barcodes)} barcodes.",
            folder,
        )
    ids = [f[0] for f in features]
    symbols = [f[1] if len(f) > 1 else f[0] for f in features]
    types = [f[2] if len(f) > 2 else "Gene Expression" for f in features]
    adata = ad.AnnData(
        X=matrix.T.tocsr(),
        obs=pd.DataFrame(index=pd.Index(barcodes)),
        var=pd.DataFrame({"gene": symbols, "feature_type": types}, index=pd.Index(ids)),
    )
    gex = adata.var["feature_type"].eq("Gene Expression").to_numpy()
    if gex.any() and not gex.all():
        adata = adata[:, gex].copy()
    adata.var = adata.var[["gene"]]
    return adata


def _read_h5ad(path: Path, sample: str):
    import anndata as ad

    try:
        adata = ad.read_h5ad(path)
    except Exception as err:
        raise InputError(f"sample '{sample}': could not read the .h5ad: {err}", path) from err
    if "counts" in adata.layers:
        counts, where = adata.layers["counts"], "layers['counts']"
    else:
        counts, where = adata.X, "X"
    if counts is None:
        raise InputError(f"sample '{sample}': the .h5ad has no X and no layers['counts'].", path)
    counts = sparse.csr_matrix(counts)
    _check_integer(counts, sample, path, where)
    var = adata.var
    id_col = next((c for c in H5AD_ID_COLUMNS if c in var.columns), None)
    sym_col = next((c for c in H5AD_SYMBOL_COLUMNS if c in var.columns), None)
    ids = var[id_col].astype(str).to_numpy() if id_col else var.index.astype(str).to_numpy()
    symbols = var[sym_col].astype(str).to_numpy() if sym_col else var.index.astype(str).to_numpy()
    return ad.AnnData(
        X=counts,
        obs=pd.DataFrame(index=adata.obs_names.astype(str)),
        var=pd.DataFrame({"gene": symbols}, index=pd.Index(ids)),
    )


def _check_integer(counts: sparse.spmatrix, sample: str, path: Path, where: str = "X") -> None:
    data = np.asarray(counts.data)
    if data.size == 0:
        return
    if not np.all(np.isfinite(data)):
        raise InputError(f"sample '{sample}': {where} holds NaN or infinite values.", path)
    if (data < 0).any():
        raise InputError(
            f"sample '{sample}': {where} holds negative values ({data.min():g}); raw UMI "
            "counts are never negative.",
            path,
        )
    frac = np.abs(data - np.round(data)) > 1e-6
    if frac.any():
        example = data[np.argmax(frac)]
        raise InputError(
            f"sample '{sample}': {where} holds non-integer values (e.g. {example:g}). The "
            "workflow needs raw UMI counts: put them in X or in layers['counts'], not "
            "normalised, log-transformed or scaled values.",
            path,
        )


def _standardise(adata, sample: str, path: Path):
    """Integer CSR counts, unique gene ids, unique barcodes; no empty samples."""
    x = sparse.csr_matrix(adata.X)
    _check_integer(x, sample, path)
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(
            f"sample '{sample}': no data ({adata.n_obs} barcodes x {adata.n_vars} genes).",
            path,
        )
    if x.nnz == 0 or float(x.sum()) == 0:
        raise InputError(f"sample '{sample}': no data (every count is 0).", path)
    if x.max() > np.iinfo(np.int32).max:
        raise InputError(f"sample '{sample}': counts above 2^31 are not UMI counts.", path)
    x = sparse.csr_matrix(
        np.round(x).astype(np.int32) if x.dtype.kind == "f" else x, dtype=np.int32
    )
    x.sort_indices()
    adata.X = x
    dup = adata.obs_names[adata.obs_names.duplicated()].unique().tolist()
    if dup:
        raise InputError(f"sample '{sample}': duplicated barcode(s) {', '.join(dup[:5])}.", path)
    adata.var.index = adata.var.index.astype(str)
    adata.var.index.name = None
    if adata.var.index.duplicated().any():
        n = int(adata.var.index.duplicated().sum())
        log.warning("sample %s: %d duplicated gene id(s) made unique", sample, n)
        adata.var_names_make_unique()
    adata.var["gene"] = adata.var["gene"].astype(str)
    return adata


def write_h5ad(
    adata, path: str | Path, compression: str | None = "gzip", counts: CountsStore | None = None
) -> None:
    """Write an AnnData atomically (see :func:`acc_tiam1.io.atomic_output`).

    Parameters
    ----------
    adata
        The object.
    path
        Destination.
    compression
        HDF5 filter of the matrices. gzip stores the demo's counts in 27% of the
        uncompressed size and reads them back as fast; lzf kept 60% and wrote no faster
        on 2 cores (docs/benchmarks.md). gzip runs at level :data:`GZIP_LEVEL`. ``X`` and
        the layers also get HDF5's byte-shuffle filter, which groups the high bytes of
        the sparse indices so that gzip finds them: the demo's annotated object shrinks
        from 179 to 110 MB and is written faster. Any HDF5 reader (scanpy, anndata,
        cellxgene) reads either, as shuffle is a standard HDF5 filter.
    counts
        Matrices kept on disk while ``adata`` was built (``X`` and layers, written with
        the same filters): they are copied into the file, in place of ``adata``'s own
        ``X`` and layers, which it should then not have.
    """
    from ..io import atomic_output

    with atomic_output(path) as tmp:
        if compression is None or adata.raw is not None:
            adata.write_h5ad(tmp, **_filter_options(compression))
        else:
            _write_shuffled(adata, tmp, compression)
        if counts is not None:
            counts.copy_into(tmp)


def _filter_options(compression: str | None) -> dict:
    """HDF5 dataset options of a filter name (gzip at :data:`GZIP_LEVEL`)."""
    if compression == "gzip":
        return {"compression": "gzip", "compression_opts": GZIP_LEVEL}
    return {"compression": compression}


def _write_shuffled(adata, path, compression: str) -> None:
    import anndata as ad
    import h5py

    # anndata passes dataset options to every element, and HDF5 refuses filters on the
    # scalars of .uns: the frame is written as usual, the matrices with shuffle after it.
    frame = ad.AnnData(
        obs=adata.obs,
        var=adata.var,
        uns=adata.uns,
        obsm=adata.obsm,
        varm=adata.varm,
        obsp=adata.obsp,
        varp=adata.varp,
    )
    frame.write_h5ad(path, **_filter_options(compression))
    options = {**_filter_options(compression), "shuffle": True}
    with h5py.File(path, "r+") as f:
        if adata.X is not None:
            ad.io.write_elem(f, "X", adata.X, dataset_kwargs=options)
        for key, layer in adata.layers.items():
            ad.io.write_elem(f, f"layers/{key}", layer, dataset_kwargs=options)


class CountsStore:
    """Sparse matrices built block of rows by block of rows in a scratch HDF5 file.

    The counts of every nucleus need not be in memory at once: each sample's rows are
    appended as it is read, and :func:`write_h5ad` copies the finished matrices into the
    final file. Use as a context manager; the scratch file, in ``folder``, is removed on
    exit.

    Parameters
    ----------
    folder
        Where the scratch file goes (the output's folder: same file system, and space
        for the output is needed there anyway).
    compression
        HDF5 filter of the matrices, as for :func:`write_h5ad` (byte-shuffled too).
    """

    def __init__(self, folder: str | Path, compression: str | None = "gzip"):
        self.folder = Path(folder)
        # h5py sizes chunks by the first block, one sample: a fixed size about what it
        # gives a whole matrix keeps the file as small as one written at once
        self.options = {"chunks": (1 << 16,)}
        if compression is not None:
            self.options.update(_filter_options(compression), shuffle=True)
        self.keys: list[str] = []
        self._file = None

    def __enter__(self) -> CountsStore:
        import tempfile

        import h5py

        self.folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=".counts.", suffix=".h5.tmp")
        os.close(fd)
        self.path = Path(name)
        self._file = h5py.File(self.path, "w")
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

    def append(self, key: str, rows) -> None:
        """Append rows (CSR, the same columns every time) to the matrix ``key``.

        ``key`` is where the matrix goes in the final file: ``"X"`` or
        ``"layers/<name>"``.
        """
        import anndata as ad

        rows = sparse.csr_matrix(rows)
        if key not in self._file:
            ad.io.write_elem(self._file, key, rows, dataset_kwargs=self.options)
            self.keys.append(key)
            return
        group = self._file[key]
        if group["indptr"].dtype == np.int32 and (
            group["indices"].shape[0] + rows.nnz >= np.iinfo(np.int32).max
        ):
            self._widen_indptr(group)
        ad.io.sparse_dataset(group).append(rows)

    def _widen_indptr(self, group) -> None:
        # anndata will not append past 32-bit row offsets; the pointers are one number
        # per row, so rewriting them as int64 is cheap
        indptr = group["indptr"][...].astype(np.int64)
        del group["indptr"]
        group.create_dataset("indptr", data=indptr, maxshape=(None,), **self.options)

    def copy_into(self, path: str | Path) -> None:
        """Copy every matrix into an .h5ad file that has none of them yet."""
        import h5py

        self._file.flush()
        with h5py.File(path, "r+") as out:
            for key in self.keys:
                parent, _, name = key.rpartition("/")
                self._file.copy(self._file[key], out.require_group(parent or "/"), name=name)


def read_h5ad_parts(
    path: str | Path,
    x: bool = True,
    counts: bool = False,
    obsm: Sequence[str] = (),
    graph: bool = False,
):
    """Read only some parts of an .h5ad (obs and var always).

    Rules need a fraction of a large file: the raw-counts layer is only read when
    ``counts`` is true, ``X`` only when ``x`` is true, the neighbour graph (``obsp`` and
    ``uns["neighbors"]``) only when ``graph`` is true; ``obsm`` keys the file lacks are
    skipped.
    """
    import anndata as ad
    import h5py
    from anndata.io import read_elem

    with h5py.File(path, "r") as f:
        out = ad.AnnData(obs=read_elem(f["obs"]), var=read_elem(f["var"]))
        if x:
            out.X = read_elem(f["X"])
        if counts:
            out.layers["counts"] = read_elem(f["layers/counts"])
        for key in obsm:
            if key in f.get("obsm", {}):
                out.obsm[key] = read_elem(f[f"obsm/{key}"])
        if graph:
            for key in f["obsp"]:
                out.obsp[key] = read_elem(f[f"obsp/{key}"])
            out.uns["neighbors"] = read_elem(f["uns/neighbors"])
        if "uns" in f and "marker_score_types" in f["uns"]:
            out.uns["marker_score_types"] = list(read_elem(f["uns/marker_score_types"]))
    return out
