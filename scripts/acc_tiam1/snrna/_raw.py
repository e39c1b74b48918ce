"""Raw (unfiltered) droplet matrices, and CellBender output as a filtered matrix.

A raw matrix holds every barcode the sequencer saw: a few thousand nuclei and 0.5-1 million
droplets with no nucleus, whose few UMIs are the ambient RNA ("soup") of the sample. Only
two things are needed from it: the total UMIs of every barcode (the barcode-rank curve, on
which the empty-droplet cutoff is read) and, per gene, the counts summed over the droplets
inside the empty range (the soup profile; SoupX ``estimateSoup``, DropletUtils
``ambientProfileEmpty``). :class:`RawDroplets` gets both by streaming the file twice in
blocks, so memory stays at a few vectors of barcode and gene length whatever the file size.

Formats: Cell Ranger ``raw_feature_bc_matrix.h5`` (v3 ``/matrix`` group, or a v2 genome
group), a Cell Ranger matrix folder (``matrix.mtx.gz``, ``barcodes.tsv.gz``,
``features.tsv.gz``) and STARsolo ``Solo.out/GeneFull/raw`` (the same files uncompressed).

CellBender ``remove-background`` writes a Cell Ranger v3 ``/matrix`` group (features
``name``, ``id``, ``feature_type``, ``genome``; no ``_all_tag_keys``) plus the groups
``droplet_latents`` (``cell_probability``, ``barcode_indices_for_latents``, ...),
``global_latents`` and ``metadata`` (CellBender ``io.write_matrix_to_cellranger_h5``).
``scanpy.read_10x_h5`` only reads ``/matrix``, so it reads the ``*_filtered.h5`` file; the
unfiltered ``output.h5`` holds every droplet, and :func:`read_cellbender_h5` keeps the
droplets with cell probability > 0.5, as CellBender's own filtered file does.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..errors import InputError

log = logging.getLogger(__name__)

RAW_HELP = (
    "expected a Cell Ranger raw_feature_bc_matrix.h5 or a raw matrix folder "
    "(matrix.mtx[.gz], barcodes.tsv[.gz], features.tsv[.gz]; STARsolo Solo.out/GeneFull/raw)"
)
#: Entries read at a time from a raw matrix (bounds memory: ~16 bytes each).
BLOCK_ENTRIES = 5_000_000
GEX = "Gene Expression"


@dataclass
class RawDroplets:
    """Per-barcode totals of a raw droplet matrix, and the way back to its counts.

    Attributes
    ----------
    sample, path
        Sample id and file (for messages).
    fmt
        ``"10x_h5"`` or ``"mtx"``.
    gene_ids, symbols
        The gene-expression features, in matrix order.
    barcodes
        Every barcode, as bytes (``S`` dtype: a million barcodes take ~20 MB).
    totals
        UMIs of every barcode (gene-expression features only), int64.
    """

    sample: str
    path: Path
    fmt: str
    gene_ids: np.ndarray
    symbols: np.ndarray
    barcodes: np.ndarray
    totals: np.ndarray
    _gex: np.ndarray = field(repr=False)  # per feature of the file: gene expression?
    _group: str = field(default="matrix", repr=False)

    def gene_counts(
        self, lower: float, upper: float, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        """Counts per gene summed over the droplets with ``lower < total <= upper``.

        Parameters
        ----------
        lower, upper
            The UMI range.
        exclude
            Boolean mask over barcodes never to count (the called nuclei).

        Returns
        -------
        counts
            float64 vector over :attr:`gene_ids` (exact integers).
        n_droplets
            Droplets counted.
        """
        keep = (self.totals > lower) & (self.totals <= upper)
        if exclude is not None:
            keep &= ~np.asarray(exclude, dtype=bool)
        n_feat = self._gex.size
        out = np.zeros(n_feat, dtype=np.float64)
        if keep.any():
            blocks = _h5_blocks(self) if self.fmt == "10x_h5" else _mtx_blocks(self)
            for bc, feat, val in blocks:
                hit = keep[bc]
                if hit.any():
                    out += np.bincount(feat[hit], weights=val[hit], minlength=n_feat)
        return out[self._gex], int(keep.sum())


def check_raw_path(path: str | Path, sample: str) -> RawDroplets:
    """Check a sheet's ``raw_path`` quickly: it exists and is a 10x raw matrix.

    Reads only the header (features, barcodes, shape), not the counts, so a sample sheet
    can be checked before any job starts. Raises :class:`InputError` naming the sample and
    the file otherwise; returns the header (``totals`` all zero).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"sample '{sample}': raw droplet matrix does not exist ({RAW_HELP}).", path
        )
    return _mtx_header(path, sample) if path.is_dir() else _h5_header(path, sample)


def read_raw_droplets(path: str | Path, sample: str) -> RawDroplets:
    """Per-barcode totals of a sample's raw droplet matrix (:class:`RawDroplets`).

    Parameters
    ----------
    path
        ``raw_feature_bc_matrix.h5`` or a raw matrix folder.
    sample
        Sample id, for messages.

    Raises
    ------
    InputError
        Naming the sample and file: missing, not a 10x matrix, inconsistent sizes.
    """
    raw = check_raw_path(path, sample)
    # A file of gene-expression features only needs no feature index for the totals: the
    # .h5 pass then skips decompressing them (Cell Ranger's are 64-bit, half the data).
    all_gex = bool(raw._gex.all())
    blocks = _mtx_blocks(raw) if raw.fmt == "mtx" else _h5_blocks(raw, features=not all_gex)
    totals = np.zeros(raw.totals.size, dtype=np.float64)
    for bc, feat, val in blocks:
        weights = val if all_gex else val * raw._gex[feat]
        totals += np.bincount(bc, weights=weights, minlength=totals.size)
    raw.totals = np.rint(totals).astype(np.int64)
    if raw.totals.sum() == 0:
        raise InputError(f"sample '{sample}': the raw droplet matrix holds no counts.", path)
    return raw


# --------------------------------------------------------------------------------------
# Cell Ranger / CellBender .h5


def _h5_matrix_group(f, path: Path, sample: str) -> str:
    import h5py

    if "matrix" in f:
        return "matrix"
    legacy = [
        k
        for k in f
        if isinstance(f[k], h5py.Group)
        and {"barcodes", "data", "indices", "indptr", "shape"} <= set(f[k])
    ]
    if legacy:
        return legacy[0]
    keys = ", ".join(f.keys()) or "none"
    raise InputError(
        f"sample '{sample}': this .h5 is not a 10x Genomics matrix: it has no "
        f"'matrix' group (top-level keys: {keys}); {RAW_HELP}.",
        path,
    )


def _decode(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def _h5_features(grp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if "features" in grp:
        feat = grp["features"]
        ids, names = _decode(feat["id"][:]), _decode(feat["name"][:])
        types = (
            _decode(feat["feature_type"][:])
            if "feature_type" in feat
            else np.full(ids.size, GEX, dtype=object)
        )
    else:  # Cell Ranger 2 / CellBender v2 layout
        ids, names = _decode(grp["genes"][:]), _decode(grp["gene_names"][:])
        types = np.full(ids.size, GEX, dtype=object)
    return ids, names, types


def _h5_header(path: Path, sample: str) -> RawDroplets:
    import h5py

    if not h5py.is_hdf5(path):
        raise InputError(
            f"sample '{sample}': not an HDF5 file, so not a 10x .h5 ({RAW_HELP}).", path
        )
    with h5py.File(path, "r") as f:
        group = _h5_matrix_group(f, path, sample)
        grp = f[group]
        ids, names, types = _h5_features(grp)
        n_feat, n_bc = (int(v) for v in grp["shape"][:2])
        if ids.size != n_feat or grp["indptr"].shape[0] != n_bc + 1:
            raise InputError(
                f"sample '{sample}': the matrix shape {n_feat} x {n_bc} does not "
                "match its features or index pointer.",
                path,
            )
        barcodes = grp["barcodes"][:].astype(bytes)
    gex = _gex_mask(types)
    return RawDroplets(
        sample, path, "10x_h5", ids[gex], names[gex], barcodes, np.zeros(n_bc, np.int64), gex, group
    )


def _gex_mask(types: np.ndarray) -> np.ndarray:
    gex = types == GEX
    return gex if gex.any() else np.ones(types.size, dtype=bool)


def _h5_blocks(
    raw: RawDroplets, features: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
    """(barcode index, feature index, value) of every entry, a block of barcodes at a time.

    With ``features=False`` the feature indices are not read (None).
    """
    import h5py

    with h5py.File(raw.path, "r") as f:
        grp = f[raw._group]
        indptr = grp["indptr"][:].astype(np.int64)
        start = 0
        n_bc = indptr.size - 1
        while start < n_bc:
            stop = int(np.searchsorted(indptr, indptr[start] + BLOCK_ENTRIES, side="right")) - 1
            stop = min(max(stop, start + 1), n_bc)
            lo, hi = int(indptr[start]), int(indptr[stop])
            counts = np.diff(indptr[start : stop + 1])
            bc = np.repeat(np.arange(start, stop, dtype=np.int64), counts)
            feat = grp["indices"][lo:hi].astype(np.int64) if features else None
            yield bc, feat, grp["data"][lo:hi].astype(float)
            start = stop


# --------------------------------------------------------------------------------------
# Matrix Market folders (Cell Ranger gz, STARsolo plain)


def _find(folder: Path, names: Sequence[str], sample: str) -> Path:
    hit = next((folder / n for n in names if (folder / n).is_file()), None)
    if hit is None:
        raise InputError(
            f"sample '{sample}': raw matrix folder has no {' or '.join(names)} ({RAW_HELP}).",
            folder,
        )
    return hit


def _open(path: Path):
    return gzip.open(path, "rt") if path.name.endswith(".gz") else open(path)


def _mtx_header(folder: Path, sample: str) -> RawDroplets:
    matrix = _find(folder, ("matrix.mtx.gz", "matrix.mtx"), sample)
    barcodes = _find(folder, ("barcodes.tsv.gz", "barcodes.tsv"), sample)
    features = _find(
        folder, ("features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"), sample
    )
    try:
        with _open(matrix) as handle:
            first = handle.readline()
            if not first.startswith("%%MatrixMarket"):
                raise InputError(
                    f"sample '{sample}': {matrix.name} is not a Matrix Market file.", matrix
                )
            line, n_skip = first, 1
            while line.startswith("%"):
                line, n_skip = handle.readline(), n_skip + 1
        n_feat, n_bc, _ = (int(v) for v in line.split())
        feats = pd.read_csv(features, sep="\t", header=None, dtype=str)
        codes = pd.read_csv(barcodes, sep="\t", header=None, usecols=[0], dtype=str)[0]
        codes = codes.to_numpy().astype(bytes)
        n_barcodes = codes.size
    except (OSError, UnicodeDecodeError, EOFError, ValueError) as err:
        if isinstance(err, InputError):
            raise
        raise InputError(
            f"sample '{sample}': could not read the raw matrix folder: {err}", folder
        ) from err
    if feats.shape[0] != n_feat or n_barcodes != n_bc:
        raise InputError(
            f"sample '{sample}': {matrix.name} is {n_feat} features x {n_bc} "
            f"barcodes but {features.name} lists {feats.shape[0]} and "
            f"{barcodes.name} {n_barcodes}.",
            folder,
        )
    ids = feats[0].to_numpy(dtype=object)
    names = feats[1].to_numpy(dtype=object) if feats.shape[1] > 1 else ids
    types = (
        feats[2].to_numpy(dtype=object)
        if feats.shape[1] > 2
        else np.full(n_feat, GEX, dtype=object)
    )
    gex = _gex_mask(types)
    raw = RawDroplets(
        sample, folder, "mtx", ids[gex], names[gex], codes, np.zeros(n_bc, np.int64), gex
    )
    raw._group = f"{matrix.name}:{n_skip}"
    return raw


def _mtx_blocks(raw: RawDroplets) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    name, n_skip = raw._group.rsplit(":", 1)
    reader = pd.read_csv(
        raw.path / name,
        sep=r"\s+",
        header=None,
        skiprows=int(n_skip),
        names=["feature", "barcode", "value"],
        chunksize=BLOCK_ENTRIES,
        dtype={"feature": np.int64, "barcode": np.int64, "value": float},
    )
    try:
        with reader as chunks:
            for chunk in chunks:
                yield (
                    chunk["barcode"].to_numpy() - 1,
                    chunk["feature"].to_numpy() - 1,
                    chunk["value"].to_numpy(),
                )
    except (ValueError, OSError, EOFError) as err:
        raise InputError(
            f"sample '{raw.sample}': {name} could not be parsed: {err}", raw.path
        ) from err


# --------------------------------------------------------------------------------------
# CellBender output as a sample's filtered matrix


def is_cellbender_h5(path: str | Path) -> bool:
    """Whether an .h5 was written by CellBender ``remove-background``."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            title = f.attrs.get("TITLE", b"")
            title = title.decode() if isinstance(title, bytes) else str(title)
            return (
                "CellBender" in title
                or "droplet_latents" in f
                or ("matrix" in f and "latent_cell_probability" in f["matrix"])
            )
    except OSError:
        return False


def read_cellbender_h5(path: str | Path, sample: str, min_probability: float = 0.5):
    """Read a CellBender output .h5 as a sample's filtered matrix.

    The filtered output (``*_filtered.h5``) is read as it is. The unfiltered output holds
    every droplet: only those with ``cell_probability`` > ``min_probability`` are kept, the
    rule CellBender uses for its filtered file, and the log says so.

    Returns
    -------
    anndata.AnnData
        Nuclei x genes, ``X`` CSR counts as stored (the caller checks they are integers),
        ``obs`` indexed by barcode (``cell_probability`` when the file has it), ``var``
        indexed by gene id with the symbol in ``gene``; gene-expression features only.
    """
    import anndata as ad
    import h5py

    path = Path(path)
    if not path.exists():
        raise InputError(f"sample '{sample}': CellBender output does not exist.", path)
    if not h5py.is_hdf5(path):
        raise InputError(f"sample '{sample}': not an HDF5 file, so not a CellBender .h5.", path)
    with h5py.File(path, "r") as f:
        group = _h5_matrix_group(f, path, sample)
        grp = f[group]
        ids, names, types = _h5_features(grp)
        n_feat, n_bc = (int(v) for v in grp["shape"][:2])
        x = sparse.csr_matrix(
            (grp["data"][:], grp["indices"][:], grp["indptr"][:]), shape=(n_bc, n_feat)
        )
        barcodes = _decode(grp["barcodes"][:])
        prob, where = _cell_probability(f, grp)
    obs = pd.DataFrame(index=pd.Index(barcodes.astype(str)))
    if prob is not None and where is not None:
        obs["cell_probability"] = np.nan
        obs.iloc[where, 0] = prob
        keep = np.zeros(n_bc, dtype=bool)
        keep[where[prob > min_probability]] = True
        if not keep.all():
            if not keep.any():
                raise InputError(
                    f"sample '{sample}': no droplet of this CellBender output "
                    f"has cell probability > {min_probability:g}.",
                    path,
                )
            log.warning(
                "sample %s: %s is CellBender's unfiltered output (%d droplets); kept "
                "the %d with cell probability > %g",
                sample,
                path.name,
                n_bc,
                keep.sum(),
                min_probability,
            )
            x, obs = x[keep], obs[keep]
    gex = _gex_mask(types)
    var = pd.DataFrame({"gene": names[gex].astype(str)}, index=pd.Index(ids[gex].astype(str)))
    return ad.AnnData(X=x[:, gex].tocsr(), obs=obs, var=var)


def _cell_probability(f, grp) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Cell probabilities and the matrix rows they belong to (v0.3 or v0.2 layout)."""
    for parent, prob_key in (
        (f.get("droplet_latents"), "cell_probability"),
        (grp, "latent_cell_probability"),
    ):
        if parent is not None and prob_key in parent:
            prob = np.asarray(parent[prob_key][:], dtype=float)
            if "barcode_indices_for_latents" in parent:
                where = np.asarray(parent["barcode_indices_for_latents"][:], dtype=np.int64)
            else:
                where = np.arange(prob.size)
            n_bc = int(grp["shape"][1])
            if where.size != prob.size or (where.size and where.max() >= n_bc):
                # A filtered file may keep the indices of the unfiltered one: then the rows
                # are the cells themselves, in order.
                where = np.arange(prob.size) if prob.size == n_bc else None
            return prob, where
    return None, None
