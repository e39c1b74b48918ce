"""Single-nucleus RNA-seq: reading, per-sample QC, integration, annotation, pseudobulk.

Every function works on plain AnnData/pandas objects and knows nothing about
Snakemake, so each step can be tested on a few hundred simulated nuclei.

Conventions
-----------
- Per-sample matrices are standardised by :func:`read_sample`: ``X`` holds raw integer
  counts (CSR, int32), ``var`` is indexed by gene id with the symbol in ``var["gene"]``
  and ``obs`` by the barcode.
- After merging, ``layers["counts"]`` keeps the raw counts and ``X`` the log-normalised
  values; ``obs["sample"]`` names the animal, the unit of every test.
- Cell-type labels (``"L2/3 IT"``) become file names through :func:`safe_name` only.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from .errors import InputError

log = logging.getLogger(__name__)

#: Label of nuclei whose cluster matches no cell type of the marker table.
UNASSIGNED = "Unassigned"
#: Input formats and how they are recognised.
FORMAT_HELP = (
    "expected a Cell Ranger filtered_feature_bc_matrix.h5, a matrix folder "
    "(matrix.mtx[.gz], barcodes.tsv[.gz], features.tsv[.gz] or genes.tsv[.gz]) "
    "or an .h5ad with raw counts in X or layers['counts']"
)
#: Columns of ``var`` that may hold gene ids / symbols in an .h5ad.
H5AD_ID_COLUMNS = ("gene_ids", "gene_id", "ensembl_id", "feature_id", "gene_ids-0")
H5AD_SYMBOL_COLUMNS = (
    "gene", "gene_symbols", "gene_symbol", "gene_name", "feature_name", "symbol", "Symbol",
)
#: Columns added to ``obs`` by the per-sample QC.
QC_COLUMNS = ("total_counts", "n_genes", "pct_mito")


# --------------------------------------------------------------------------------------
# names


def safe_name(label: str) -> str:
    """The file-safe form of a cell-type label, used in every path.

    ``/`` becomes ``-``, runs of white space become ``_``, any other character outside
    ``[A-Za-z0-9_.-]`` becomes ``_``; leading and trailing ``_``/``.`` are dropped.

    Examples
    --------
    >>> safe_name("L2/3 IT")
    'L2-3_IT'
    >>> safe_name("L6 IT Car3")
    'L6_IT_Car3'
    """
    name = str(label).strip().replace("/", "-")
    name = re.sub(r"\s+", "_", name)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    name = name.strip("_.")
    if not name:
        raise InputError(f"cell type '{label}' has no file-safe name (use letters or digits).")
    return name


def safe_names(labels: Sequence[str], where: str | None = None) -> dict[str, str]:
    """``{label: safe name}``; raises when two labels share a file-safe name."""
    mapping = {str(lbl): safe_name(lbl) for lbl in labels}
    seen: dict[str, str] = {}
    for lbl, safe in mapping.items():
        if safe in seen:
            raise InputError(
                f"cell types '{seen[safe]}' and '{lbl}' have the same file-safe name "
                f"'{safe}'; rename one of them.",
                where,
            )
        if safe == safe_name(UNASSIGNED):
            raise InputError(f"'{UNASSIGNED}' is reserved; rename cell type '{lbl}'.", where)
        seen[safe] = lbl
    return mapping


# --------------------------------------------------------------------------------------
# reading


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
            raise InputError(
                f"matrix folder has no {' or '.join(names)} ({FORMAT_HELP}).", folder
            )
        found[key] = hit
    return found


def read_sample(path: str | Path, sample: str) -> "anndata.AnnData":  # noqa: UP037
    """Read one sample's count matrix in any supported format and check it.

    Parameters
    ----------
    path
        A 10x ``.h5``, a matrix folder or an ``.h5ad`` (see :data:`FORMAT_HELP`).
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
            k for k in keys
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
    symbols = (
        var[sym_col].astype(str).to_numpy() if sym_col else var.index.astype(str).to_numpy()
    )
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
    x = sparse.csr_matrix(np.round(x).astype(np.int32) if x.dtype.kind == "f" else x,
                          dtype=np.int32)
    x.sort_indices()
    adata.X = x
    dup = adata.obs_names[adata.obs_names.duplicated()].unique().tolist()
    if dup:
        raise InputError(
            f"sample '{sample}': duplicated barcode(s) {', '.join(dup[:5])}.", path
        )
    adata.var.index = adata.var.index.astype(str)
    adata.var.index.name = None
    if adata.var.index.duplicated().any():
        n = int(adata.var.index.duplicated().sum())
        log.warning("sample %s: %d duplicated gene id(s) made unique", sample, n)
        adata.var_names_make_unique()
    adata.var["gene"] = adata.var["gene"].astype(str)
    return adata


# --------------------------------------------------------------------------------------
# per-sample QC


def mito_mask(symbols: Sequence[str]) -> np.ndarray:
    """Mitochondrially encoded genes: symbols starting with ``mt-`` (any case)."""
    return np.asarray(pd.Index(symbols).astype(str).str.lower().str.startswith("mt-"), dtype=bool)


def qc_metrics(adata) -> pd.DataFrame:
    """Total counts, genes detected (count > 0) and mitochondrial percentage per nucleus."""
    x = sparse.csr_matrix(adata.X)
    total = np.asarray(x.sum(axis=1)).ravel().astype(np.int64)
    n_genes = np.diff(x.indptr).astype(np.int64)
    mito = mito_mask(adata.var["gene"])
    mt = np.asarray(x[:, mito].sum(axis=1)).ravel() if mito.any() else np.zeros(len(total))
    pct = np.divide(100.0 * mt, total, out=np.zeros(len(total)), where=total > 0)
    return pd.DataFrame(
        {"total_counts": total, "n_genes": n_genes, "pct_mito": pct}, index=adata.obs_names
    )


def mad_bounds(values: np.ndarray, n_mads: float, zero_mad_open: bool = True
               ) -> tuple[float, float]:
    """``median -/+ n_mads * MAD`` (MAD scaled by 1.4826 to a normal SD).

    With ``zero_mad_open``, a MAD of 0 (more than half the values equal) gives infinite
    bounds: no value is called an outlier on a metric that does not vary.
    """
    values = np.asarray(values, dtype=float)
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    if mad == 0 and zero_mad_open:
        return -np.inf, np.inf
    return med - n_mads * mad, med + n_mads * mad


def qc_thresholds(metrics: pd.DataFrame, params: Mapping) -> dict[str, float]:
    """QC thresholds of one sample: the configured ones, or MAD outliers where unset.

    Parameters
    ----------
    metrics
        Output of :func:`qc_metrics`.
    params
        The ``snrna.qc`` config section. ``min_counts``, ``max_counts``, ``min_genes``,
        ``max_genes`` and ``max_pct_mito`` replace the data-driven value when set.
        Otherwise counts and genes use ``n_mads`` MADs of their log, both directions,
        and mitochondrial percentage ``median + mito_n_mads * MAD`` kept within
        [``mito_pct_floor``, ``mito_pct_cap``] (nuclei carry little mitochondrial RNA,
        so a high fraction marks cytoplasmic contamination or damage).

    Returns
    -------
    ``{min_counts, max_counts, min_genes, max_genes, max_pct_mito}``.
    """
    n_mads = params.get("n_mads", 5.0)
    lo_c, hi_c = mad_bounds(np.log1p(metrics["total_counts"]), n_mads)
    lo_g, hi_g = mad_bounds(np.log1p(metrics["n_genes"]), n_mads)
    _, hi_m = mad_bounds(metrics["pct_mito"], params.get("mito_n_mads", 3.0),
                         zero_mad_open=False)
    mito = float(np.clip(hi_m, params.get("mito_pct_floor", 1.0),
                         params.get("mito_pct_cap", 5.0)))
    auto = {
        "min_counts": float(np.expm1(lo_c)),
        "max_counts": float(np.expm1(hi_c)),
        "min_genes": float(np.expm1(lo_g)),
        "max_genes": float(np.expm1(hi_g)),
        "max_pct_mito": mito,
    }
    return {k: float(params[k]) if params.get(k) is not None else v for k, v in auto.items()}


def qc_flags(metrics: pd.DataFrame, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """Boolean QC failures per nucleus (a nucleus may fail several)."""
    t = thresholds
    return pd.DataFrame(
        {
            "low_counts": metrics["total_counts"] < t["min_counts"],
            "high_counts": metrics["total_counts"] > t["max_counts"],
            "low_genes": metrics["n_genes"] < t["min_genes"],
            "high_genes": metrics["n_genes"] > t["max_genes"],
            "high_mito": metrics["pct_mito"] > t["max_pct_mito"],
        },
        index=metrics.index,
    )


def detect_doublets(
    adata, expected_rate: float, threshold: float | None, seed: int, max_genes: int = 3000
) -> tuple[pd.DataFrame, float | None]:
    """Scrublet (``sc.pp.scrublet``) doublet scores and calls for one sample.

    Parameters
    ----------
    adata
        Raw counts of the nuclei that passed QC.
    expected_rate
        Expected doublet fraction.
    threshold
        Score above which a nucleus is a doublet; None lets Scrublet choose it from the
        simulated-doublet score histogram (needs scikit-image).
    seed
        Random state.
    max_genes
        Scrublet runs on this many most variable genes of the sample (memory).

    Returns
    -------
    scores
        Columns ``doublet_score`` and ``predicted_doublet``.
    threshold
        The threshold used (None when Scrublet could not find one: nothing is called).
    """
    import scanpy as sc

    if adata.n_obs < 100:
        log.warning("only %d nuclei: doublet detection skipped", adata.n_obs)
        return pd.DataFrame(
            {"doublet_score": np.nan, "predicted_doublet": False}, index=adata.obs_names
        ), None
    tmp = adata.copy()
    tmp.X = tmp.X.astype(np.float32)
    if tmp.n_vars > max_genes:
        # Scrublet densifies observed + simulated nuclei x genes; on a full reference that
        # costs GBs per sample. Its own gene selection keeps the variable genes anyway, so
        # hand it the most variable ones (of this sample) only.
        lognorm = tmp.copy()
        sc.pp.normalize_total(lognorm, target_sum=1e4)
        sc.pp.log1p(lognorm)
        sc.pp.highly_variable_genes(lognorm, n_top_genes=max_genes, flavor="seurat")
        tmp = tmp[:, lognorm.var["highly_variable"].to_numpy()].copy()
        del lognorm
    n_pcs = int(min(30, tmp.n_obs - 1, tmp.n_vars - 1))
    # Exact neighbours (sklearn): scanpy's default above 4,096 nuclei is pynndescent,
    # whose numba compilation costs about a minute of CPU in every per-sample job.
    sc.pp.scrublet(
        tmp, expected_doublet_rate=expected_rate, threshold=threshold,
        n_prin_comps=n_pcs, use_approx_neighbors=False, random_state=seed, verbose=False,
    )
    used = tmp.uns.get("scrublet", {}).get("threshold")
    if used is None:
        log.warning("Scrublet found no doublet score threshold; no doublets called. "
                    "Set snrna.qc.doublet_threshold.")
    out = tmp.obs[["doublet_score", "predicted_doublet"]].copy()
    out["predicted_doublet"] = out["predicted_doublet"].astype(bool)
    return out, None if used is None else float(used)


def sample_qc(adata, sample: str, params: Mapping, seed: int):
    """QC of one sample: metrics, thresholds, flags, doublets; returns the kept nuclei.

    Returns
    -------
    kept
        AnnData of the nuclei that pass every filter (raw counts, QC metrics in obs).
    nuclei
        One row per input nucleus: metrics, one boolean per filter, doublet score and
        call (doublets are called on QC-passing nuclei only), ``kept``.
    summary
        One row: nuclei in, nuclei failing each filter (a nucleus can fail several),
        failing any QC filter, doublets among those that passed, nuclei kept, and the
        thresholds used.
    """
    metrics = qc_metrics(adata)
    thresholds = qc_thresholds(metrics, params)
    flags = qc_flags(metrics, thresholds)
    passed = ~flags.any(axis=1).to_numpy()
    nuclei = metrics.join(flags)
    nuclei["doublet_score"] = np.nan
    nuclei["predicted_doublet"] = False
    doublet_threshold = None
    if params.get("doublets", True) and passed.sum() > 0:
        scores, doublet_threshold = detect_doublets(
            adata[passed], params.get("expected_doublet_rate", 0.05),
            params.get("doublet_threshold"), seed,
        )
        nuclei.loc[scores.index, "doublet_score"] = scores["doublet_score"]
        nuclei.loc[scores.index, "predicted_doublet"] = scores["predicted_doublet"]
    nuclei["kept"] = passed & ~nuclei["predicted_doublet"].to_numpy(dtype=bool)
    n_kept = int(nuclei["kept"].sum())
    if n_kept == 0:
        raise InputError(
            f"sample '{sample}': no nucleus passed QC ({len(nuclei)} in; thresholds "
            + ", ".join(f"{k} {v:.4g}" for k, v in thresholds.items())
            + "). Check the file, or set the snrna.qc thresholds."
        )
    kept = adata[nuclei["kept"].to_numpy()].copy()
    for col in QC_COLUMNS:
        kept.obs[col] = metrics.loc[kept.obs_names, col].to_numpy()
    kept.obs["doublet_score"] = nuclei.loc[kept.obs_names, "doublet_score"].to_numpy()
    summary = {"sample": sample, "nuclei_in": len(nuclei)}
    summary.update({k: int(flags[k].sum()) for k in flags.columns})
    summary["failed_qc"] = int((~passed).sum())
    summary["doublets"] = int(nuclei["predicted_doublet"].sum())
    summary["nuclei_kept"] = n_kept
    summary["pct_kept"] = round(100.0 * n_kept / len(nuclei), 2)
    summary.update({f"threshold_{k}": round(v, 4) for k, v in thresholds.items()})
    summary["threshold_doublet_score"] = (
        round(doublet_threshold, 4) if doublet_threshold is not None else np.nan
    )
    nuclei.index.name = "barcode"
    return kept, nuclei, pd.DataFrame([summary])


# --------------------------------------------------------------------------------------
# merging, normalisation, integration


def merge_samples(adatas: Mapping[str, object], sheet: pd.DataFrame):
    """Concatenate per-sample AnnData objects; obs gets ``sample`` and every covariate.

    Nuclei are named ``{sample}_{barcode}`` (the given objects are renamed in place, to
    spare a copy of every matrix). Genes are those shared by all samples (a warning names
    how many were dropped when the samples differ).
    """
    import anndata as ad

    parts = []
    for sample, a in adatas.items():
        a.obs_names = [f"{sample}_{b}" for b in a.obs_names]
        a.obs["sample"] = sample
        parts.append(a)
    genes = [set(p.var_names) for p in parts]
    shared = set.intersection(*genes)
    union = set.union(*genes)
    if not shared:
        raise InputError("the samples share no gene id; were they quantified with the "
                         "same reference?")
    if len(shared) < len(union):
        log.warning("%d gene id(s) not in every sample were dropped", len(union) - len(shared))
    merged = ad.concat(parts, join="inner", merge="first")
    merged.var["gene"] = parts[0].var.loc[merged.var_names, "gene"].to_numpy()
    covariates = [c for c in sheet.columns if c != "path"]
    for col in covariates:
        merged.obs[col] = pd.Categorical(
            sheet.loc[merged.obs["sample"], col].to_numpy(),
            categories=sorted(sheet[col].unique()),
        )
    merged.obs["sample"] = pd.Categorical(merged.obs["sample"], categories=list(sheet.index))
    merged.X = sparse.csr_matrix(merged.X, dtype=np.int32)
    return merged


def normalise(adata, target_sum: float = 1e4) -> None:
    """Keep raw counts in ``layers["counts"]``; ``X`` becomes log1p(counts per 10k)."""
    import scanpy as sc

    adata.layers["counts"] = adata.X
    adata.X = adata.X.astype(np.float32)  # a new matrix; the layer keeps the counts
    sc.pp.normalize_total(adata, target_sum=target_sum)
    sc.pp.log1p(adata)


def batch_levels(obs: pd.DataFrame, batch_key: str | None) -> int:
    """Number of batches (0 when there is no such column)."""
    if not batch_key or batch_key not in obs.columns:
        return 0
    return int(obs[batch_key].nunique())


def integrate(
    adata,
    n_top_genes: int = 2000,
    n_pcs: int = 30,
    batch_key: str | None = "batch",
    harmony: bool | None = None,
    n_neighbors: int = 15,
    exact_neighbors_max: int = 120_000,
    seed: int = 0,
    n_jobs: int = 1,
) -> dict:
    """Batch-aware HVGs, PCA, optional Harmony and the neighbour graph, in place.

    UMAP is a separate step (:func:`umap`), so that it can run while nuclei are
    annotated and tested.

    Parameters
    ----------
    adata
        Log-normalised (see :func:`normalise`).
    n_top_genes
        Highly variable genes (Seurat flavour, ranked across batches when there are
        several).
    n_pcs
        Principal components (ARPACK, seeded).
    batch_key
        obs column of the batch; HVGs and Harmony use it when it has two levels or more.
    harmony
        Harmony integration of the PCs; None means on when there is more than one batch.
    n_neighbors
        Neighbours of the kNN graph.
    exact_neighbors_max
        Up to this many nuclei the kNN search is exact (brute force, fastest there);
        above it, pynndescent's approximate search (seeded, single-threaded so that it is
        reproducible), whose cost grows linearly instead of quadratically with nuclei.
    seed
        Random state of PCA and Harmony.
    n_jobs
        Threads of the exact nearest-neighbour search.

    Returns
    -------
    What was done: ``{"batches", "harmony", "representation", "n_hvgs", "n_pcs",
    "neighbors"}``.
    """
    import time

    import scanpy as sc

    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        log.info("%s: %.1f s", step, now - clock[0])
        clock[0] = now

    n_batches = batch_levels(adata.obs, batch_key)
    if harmony and n_batches < 2:
        raise InputError(
            f"snrna.integration.harmony is true but batch column '{batch_key}' "
            f"{'is missing' if n_batches == 0 else 'has one level'}; nothing to integrate.",
            "snrna.integration",
        )
    use_harmony = n_batches > 1 if harmony is None else bool(harmony)
    hvg_batch = batch_key if n_batches > 1 else None
    n_top = int(min(n_top_genes, adata.n_vars))
    sc.pp.highly_variable_genes(adata, n_top_genes=n_top, flavor="seurat", batch_key=hvg_batch)
    lap("highly variable genes")
    hvg = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    hvg.X = hvg.X.toarray() if sparse.issparse(hvg.X) else hvg.X
    sc.pp.scale(hvg, max_value=10)
    n_comps = int(min(n_pcs, hvg.n_obs - 1, hvg.n_vars - 1))
    sc.pp.pca(hvg, n_comps=n_comps, svd_solver="arpack", random_state=seed)
    adata.obsm["X_pca"] = hvg.obsm["X_pca"]
    adata.uns["pca"] = hvg.uns["pca"]
    adata.varm["PCs"] = np.zeros((adata.n_vars, n_comps), dtype=np.float32)
    adata.varm["PCs"][adata.var["highly_variable"].to_numpy()] = hvg.varm["PCs"]
    del hvg
    lap("scale + PCA")
    rep = "X_pca"
    if use_harmony:
        from .harmony import run_harmony  # harmonypy's import costs seconds

        corrected = run_harmony(adata.obsm["X_pca"], adata.obs, batch_key, seed)
        if corrected is None:
            log.warning("too few nuclei (%d) for Harmony; PCs left as they are", adata.n_obs)
            use_harmony = False
        else:
            adata.obsm["X_pca_harmony"] = corrected
            rep = "X_pca_harmony"
            lap("Harmony")
    transformer, method = neighbour_search(adata.n_obs, n_neighbors, exact_neighbors_max, seed,
                                           n_jobs)
    sc.pp.neighbors(adata, n_neighbors=n_neighbors, use_rep=rep, random_state=seed,
                    transformer=transformer)
    lap(f"neighbours ({method})")
    info = {"batches": n_batches, "harmony": use_harmony, "representation": rep,
            "n_hvgs": n_top, "n_pcs": n_comps, "neighbors": method}
    adata.uns["integration"] = {k: str(v) for k, v in info.items()}
    return info


def neighbour_search(n_obs: int, n_neighbors: int, exact_max: int, seed: int, n_jobs: int = 1):
    """kNN transformer for ``sc.pp.neighbors``: exact up to ``exact_max`` nuclei.

    Brute-force search (BLAS) is exact, deterministic and the faster one up to about
    130,000 nuclei on 2 cores, but its cost is quadratic; above ``exact_max`` the
    approximate search of pynndescent (scanpy's default, with scanpy's tree and iteration
    settings) is used, seeded and on one thread so that reruns give the same graph.

    Returns
    -------
    The transformer and a short name of the method (for the log and the Methods text).
    """
    if n_obs <= exact_max:
        from sklearn.neighbors import KNeighborsTransformer

        return (KNeighborsTransformer(n_neighbors=n_neighbors, algorithm="brute",
                                      n_jobs=n_jobs), "exact")
    from pynndescent import PyNNDescentTransformer

    return (PyNNDescentTransformer(
        n_neighbors=n_neighbors, metric="euclidean", random_state=seed, n_jobs=1,
        n_trees=min(64, 5 + round(n_obs**0.5 / 20.0)), n_iters=max(5, round(np.log2(n_obs))),
    ), "approximate (pynndescent)")


def umap(adata, min_dist: float = 0.5, seed: int = 0) -> np.ndarray:
    """UMAP of the neighbour graph made by :func:`integrate` (seeded, so single-threaded).

    Returns
    -------
    Nuclei x 2 coordinates (also stored in ``obsm["X_umap"]``).
    """
    import scanpy as sc

    sc.tl.umap(adata, min_dist=min_dist, random_state=seed)
    return np.asarray(adata.obsm["X_umap"])


def leiden(adata, resolution: float, seed: int, key: str = "leiden") -> None:
    """Leiden clusters (igraph implementation, seeded), labels ordered by size."""
    import scanpy as sc

    sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2,
                 directed=False, random_state=seed, key_added=key)


# --------------------------------------------------------------------------------------
# annotation


def marker_genes(markers: pd.DataFrame, symbols: Sequence[str]) -> dict[str, list[str]]:
    """Markers of each cell type that the data has (symbols, table order)."""
    present = set(map(str, symbols))
    return {
        row.cell_type: [g for g in row.markers if g in present]
        for row in markers.itertuples()
    }


def marker_scores(adata, markers: pd.DataFrame) -> pd.DataFrame:
    """Per-nucleus score of every cell type: mean z-score of its markers.

    Each marker's log-normalised expression is standardised over all nuclei (so rare
    types' markers count as much as abundant ones'); a type's score is the mean over
    its markers that the data has. Types with no marker in the data score NaN.

    Returns
    -------
    Nuclei x cell types (marker-table labels).
    """
    found = marker_genes(markers, adata.var["gene"])
    genes = sorted({g for gs in found.values() for g in gs})
    first = pd.Series(np.arange(adata.n_vars), index=adata.var["gene"].astype(str).to_numpy())
    first = first[~first.index.duplicated()]
    if not genes:
        raise InputError("no marker gene of the marker table is in the data (are the gene "
                         "symbols mouse symbols?).", "snrna.markers")
    x = adata.X[:, first.loc[genes].to_numpy()]
    x = np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float64)
    sd = x.std(axis=0)
    z = np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)
    z = np.clip(z, -10, 10)
    col = {g: i for i, g in enumerate(genes)}
    scores = {}
    for cell_type, gs in found.items():
        if not gs:
            log.warning("cell type %s: none of its markers is in the data", cell_type)
            scores[cell_type] = np.full(adata.n_obs, np.nan)
            continue
        scores[cell_type] = z[:, [col[g] for g in gs]].mean(axis=1)
    return pd.DataFrame(scores, index=adata.obs_names)


def assign_clusters(
    scores: pd.DataFrame,
    clusters: pd.Series,
    min_score: float = 0.5,
    min_fraction: float = 0.3,
) -> pd.DataFrame:
    """Give each cluster the cell type whose markers score highest in it.

    A cluster gets type T when T has the highest mean score over the cluster's nuclei,
    that mean is at least ``min_score``, and at least ``min_fraction`` of the cluster's
    nuclei have T as their own best-scoring type; otherwise it is :data:`UNASSIGNED`.

    Returns
    -------
    One row per cluster: ``n_nuclei``, ``best_type``, ``best_score``, ``second_type``,
    ``second_score``, ``fraction_agree``, ``cell_type``, ``reason``.
    """
    valid = scores.dropna(axis=1, how="all")
    if valid.shape[1] == 0:
        raise InputError("no cell type of the marker table can be scored.", "snrna.markers")
    nucleus_best = valid.idxmax(axis=1)
    rows = []
    for cluster, idx in clusters.groupby(clusters, observed=True).groups.items():
        means = valid.loc[idx].mean(axis=0).sort_values(ascending=False)
        best, second = means.index[0], means.index[1] if len(means) > 1 else ""
        frac = float((nucleus_best.loc[idx] == best).mean())
        if means.iloc[0] < min_score:
            label, reason = UNASSIGNED, f"best mean score {means.iloc[0]:.2f} < {min_score}"
        elif frac < min_fraction:
            label, reason = UNASSIGNED, (
                f"only {frac:.0%} of nuclei score highest for {best} (< {min_fraction:.0%})"
            )
        else:
            label, reason = best, ""
        rows.append({
            "cluster": str(cluster), "n_nuclei": len(idx), "best_type": best,
            "best_score": round(float(means.iloc[0]), 4), "second_type": second,
            "second_score": round(float(means.iloc[1]), 4) if second else np.nan,
            "fraction_agree": round(frac, 4), "cell_type": label, "reason": reason,
        })
    return pd.DataFrame(rows).set_index("cluster")


def annotate(adata, markers: pd.DataFrame, resolution: float, min_score: float,
             min_fraction: float, seed: int) -> pd.DataFrame:
    """Leiden clusters, marker scores and cluster-level cell types, in place.

    Adds obs ``leiden``, ``cell_type`` (categories: marker-table order, then
    :data:`UNASSIGNED`), ``cell_type_nucleus`` (each nucleus' best-scoring type) and
    ``cell_type_score``; ``obsm["marker_scores"]`` holds all scores.

    Returns
    -------
    The cluster table of :func:`assign_clusters`.
    """
    leiden(adata, resolution, seed)
    scores = marker_scores(adata, markers)
    table = assign_clusters(scores, adata.obs["leiden"], min_score, min_fraction)
    categories = [*markers["cell_type"], UNASSIGNED]
    labels = adata.obs["leiden"].astype(str).map(table["cell_type"])
    adata.obs["cell_type"] = pd.Categorical(labels.to_numpy(), categories=categories)
    best = scores.dropna(axis=1, how="all").idxmax(axis=1)
    adata.obs["cell_type_nucleus"] = pd.Categorical(best.to_numpy(), categories=categories)
    own = [
        scores.at[n, t] if t in scores.columns else np.nan
        for n, t in zip(scores.index, labels, strict=True)
    ]
    adata.obs["cell_type_score"] = np.asarray(own, dtype=float)
    adata.obsm["marker_scores"] = scores.to_numpy(dtype=np.float32)
    adata.uns["marker_score_types"] = list(scores.columns)
    return table


def write_h5ad(adata, path: str | Path) -> None:
    """Write an AnnData atomically (see :func:`acc_tiam1.io.atomic_output`)."""
    from .io import atomic_output

    with atomic_output(path) as tmp:
        adata.write_h5ad(tmp)


def read_h5ad_parts(path: str | Path, x: bool = True, counts: bool = False,
                    obsm: Sequence[str] = (), graph: bool = False):
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


#: Columns of the per-nucleus annotation table, before the marker scores.
ANNOTATION_COLUMNS = ("sample", "leiden", "cell_type", "cell_type_nucleus", "cell_type_score")


def annotation_table(adata) -> pd.DataFrame:
    """Per-nucleus annotation (:data:`ANNOTATION_COLUMNS`, then ``score:<cell type>``)."""
    table = adata.obs[list(ANNOTATION_COLUMNS)].copy()
    scores = pd.DataFrame(adata.obsm["marker_scores"], index=adata.obs_names,
                          columns=[f"score:{t}" for t in adata.uns["marker_score_types"]])
    table = table.join(scores)
    table.index.name = "nucleus"
    return table


def read_annotation_table(path: str | Path) -> pd.DataFrame:
    """Read an :func:`annotation_table` written as TSV (labels kept as text)."""
    return pd.read_csv(path, sep="\t", index_col=0,
                       dtype={c: str for c in ("nucleus", "sample", "leiden", "cell_type",
                                               "cell_type_nucleus")})


def apply_annotation(adata, table: pd.DataFrame, cell_types: Sequence[str]) -> None:
    """Put an :func:`annotation_table` back into ``adata`` (obs, ``obsm["marker_scores"]``)."""
    table = table.loc[adata.obs_names]
    categories = [*cell_types, UNASSIGNED]
    adata.obs["leiden"] = pd.Categorical(
        table["leiden"].astype(str),
        categories=sorted(table["leiden"].astype(str).unique(), key=int))
    for col in ("cell_type", "cell_type_nucleus"):
        adata.obs[col] = pd.Categorical(table[col].astype(str), categories=categories)
    adata.obs["cell_type_score"] = table["cell_type_score"].to_numpy(dtype=float)
    score_cols = [c for c in table.columns if c.startswith("score:")]
    adata.obsm["marker_scores"] = table[score_cols].to_numpy(dtype=np.float32)
    adata.uns["marker_score_types"] = [c.removeprefix("score:") for c in score_cols]


# --------------------------------------------------------------------------------------
# composition


def composition_counts(obs: pd.DataFrame, samples: Sequence[str],
                       cell_types: Sequence[str]) -> pd.DataFrame:
    """Nuclei per sample (rows, sheet order) and cell type (columns, given order)."""
    table = pd.crosstab(obs["sample"].astype(str), obs["cell_type"].astype(str))
    return table.reindex(index=list(samples), columns=list(cell_types), fill_value=0)


def clr(counts: pd.DataFrame, pseudocount: float = 0.5) -> pd.DataFrame:
    """Centred log-ratio of each sample's composition (rows), with a pseudocount."""
    logp = np.log(counts.to_numpy(dtype=float) + pseudocount)
    return pd.DataFrame(logp - logp.mean(axis=1, keepdims=True), index=counts.index,
                        columns=counts.columns)


def bh(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stay NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok])]
    ranked = p[order] * ok.size / np.arange(1, ok.size + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return out


def composition_tests(
    counts: pd.DataFrame,
    sheet: pd.DataFrame,
    design: str,
    contrasts: Sequence,
    pseudocount: float = 0.5,
) -> pd.DataFrame:
    """Sample-level test of composition change for every contrast and cell type.

    The animal is the unit: each sample's composition is CLR-transformed, and every
    cell type's CLR value is fitted with ordinary least squares on the sample-level
    design (same formula as the DE); the contrast is tested with a t-test on the
    residual degrees of freedom, and p-values are BH-adjusted within each contrast.

    Parameters
    ----------
    counts
        Samples x cell types nuclei counts (:func:`composition_counts`).
    sheet
        Sample sheet indexed like ``counts``.
    design
        Design formula, e.g. ``"~ sex + condition"``.
    contrasts
        :class:`~acc_tiam1.design.Contrast` objects.
    pseudocount
        Added to counts before the log.

    Returns
    -------
    Long table: contrast, cell_type, mean proportions in both groups, their log2 ratio,
    ``clr_difference`` (estimate), ``se``, ``t``, ``df``, ``pvalue``, ``padj``.
    """
    from formulaic_contrasts import FormulaicContrasts

    from .design import make_coldata

    coldata = make_coldata(sheet.loc[counts.index], design, contrasts)
    fc = FormulaicContrasts(coldata, design)
    x = fc.design_matrix.to_numpy(dtype=float)
    y = clr(counts, pseudocount).to_numpy()
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ x.T @ y
    resid = y - x @ beta
    dof = x.shape[0] - np.linalg.matrix_rank(x)
    sigma2 = (resid**2).sum(axis=0) / dof if dof > 0 else np.full(y.shape[1], np.nan)
    props = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    from scipy import stats

    rows = []
    for c in contrasts:
        vec = np.asarray(fc.contrast(c.variable, c.reference, c.target), dtype=float)
        est = vec @ beta
        se = np.sqrt(sigma2 * float(vec @ xtx_inv @ vec))
        t = np.divide(est, se, out=np.full(est.shape, np.nan), where=se > 0)
        p = 2 * stats.t.sf(np.abs(t), dof) if dof > 0 else np.full(est.shape, np.nan)
        in_t = sheet.loc[counts.index, c.variable] == c.target
        in_r = sheet.loc[counts.index, c.variable] == c.reference
        mt, mr = props[in_t.to_numpy()].mean(), props[in_r.to_numpy()].mean()
        padj = bh(p)
        for j, ct in enumerate(counts.columns):
            rows.append({
                "contrast": c.name, "cell_type": ct,
                "mean_prop_target": mt[ct], "mean_prop_reference": mr[ct],
                "log2_prop_ratio": np.log2((mt[ct] + 1e-9) / (mr[ct] + 1e-9)),
                "clr_difference": est[j], "se": se[j], "t": t[j], "df": dof,
                "pvalue": p[j], "padj": padj[j],
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# pseudobulk


def pseudobulk(adata, layer: str = "counts"):
    """Sum raw counts per sample x cell type (``sc.get.aggregate``).

    Unassigned nuclei are left out.

    Returns
    -------
    anndata.AnnData
        One row per sample x cell type present, ``X`` int64 summed counts, obs
        ``sample``, ``cell_type``, ``cell_type_safe``, ``n_nuclei``, ``total_counts``;
        var as in ``adata``.
    """
    import anndata as ad
    import scanpy as sc

    assigned = (adata.obs["cell_type"].astype(str) != UNASSIGNED).to_numpy()
    counts = adata.layers[layer] if layer else adata.X
    sub_obs = pd.DataFrame({
        "sample": adata.obs["sample"].astype(str).to_numpy(),
        "cell_type": adata.obs["cell_type"].astype(str).to_numpy(),
    }, index=adata.obs_names)
    # One sample at a time: aggregate multiplies a float indicator matrix with the counts,
    # which copies them as float64; per sample that copy stays small.
    parts, labels = [], []
    for sample in pd.unique(sub_obs["sample"]):
        rows = np.flatnonzero(assigned & (sub_obs["sample"] == sample).to_numpy())
        if not len(rows):
            continue
        part = ad.AnnData(X=counts[rows], obs=sub_obs.iloc[rows])
        agg = sc.get.aggregate(part, by="cell_type", func="sum")
        parts.append(np.rint(np.asarray(agg.layers["sum"])).astype(np.int64))
        labels += [(sample, str(t)) for t in agg.obs["cell_type"]]
    sums = np.vstack(parts) if parts else np.zeros((0, adata.n_vars), dtype=np.int64)
    n_nuclei = sub_obs[assigned].groupby(["sample", "cell_type"], observed=True).size()
    obs = pd.DataFrame(labels, columns=["sample", "cell_type"])
    obs["cell_type_safe"] = obs["cell_type"].map(safe_name)
    obs["n_nuclei"] = [int(n_nuclei.get((s, t), 0)) for s, t in
                       zip(obs["sample"], obs["cell_type"], strict=True)]
    obs["total_counts"] = sums.sum(axis=1)
    obs.index = [f"{s}|{t}" for s, t in zip(obs["sample"], obs["cell_type_safe"], strict=True)]
    return ad.AnnData(X=sparse.csr_matrix(sums), obs=obs, var=adata.var[["gene"]].copy())


def filter_pseudobulk_samples(obs: pd.DataFrame, min_nuclei: int, min_counts: int) -> pd.Series:
    """Why each pseudobulk sample is dropped ('' when kept)."""
    reasons = []
    for n, c in zip(obs["n_nuclei"], obs["total_counts"], strict=True):
        why = []
        if n < min_nuclei:
            why.append(f"{n} nuclei < {min_nuclei}")
        if c < min_counts:
            why.append(f"{c} counts < {min_counts}")
        reasons.append("; ".join(why))
    return pd.Series(reasons, index=obs.index, name="dropped_reason")


def filter_by_expr(
    counts: pd.DataFrame,
    groups: Sequence[str],
    min_count: float = 10,
    min_total_count: float = 15,
    large_n: int = 10,
    min_prop: float = 0.7,
) -> np.ndarray:
    """edgeR's ``filterByExpr``: genes with enough counts in enough samples.

    A gene is kept when its CPM is at least ``min_count / median library size * 1e6``
    in at least as many samples as the smallest group (capped as edgeR does for
    large groups) and its total count is at least ``min_total_count``.

    Parameters
    ----------
    counts
        Genes x samples raw counts.
    groups
        Group of each sample (the contrast variable).

    Returns
    -------
    Boolean mask over genes.
    """
    x = counts.to_numpy(dtype=float)
    lib = x.sum(axis=0)
    if x.shape[1] == 0 or (lib <= 0).all():
        return np.zeros(x.shape[0], dtype=bool)
    sizes = pd.Series(list(groups)).value_counts()
    min_n = float(sizes[sizes > 0].min())
    if min_n > large_n:
        min_n = large_n + (min_n - large_n) * min_prop
    median_lib = float(np.median(lib))
    cutoff = min_count / median_lib * 1e6
    cpm = np.divide(x, lib, out=np.zeros_like(x), where=lib > 0) * 1e6
    keep_cpm = (cpm >= cutoff).sum(axis=1) >= min_n - 1e-14
    keep_total = x.sum(axis=1) >= min_total_count - 1e-14
    return keep_cpm & keep_total


def plan_cell_type(
    kept_samples: Sequence[str],
    sheet: pd.DataFrame,
    design: str,
    contrasts: Sequence,
    min_group_size: int,
    sheet_path: str = "snrna.samples",
) -> list[dict]:
    """Which contrasts one cell type can be tested in, and why not.

    A contrast is tested when both its groups keep at least ``min_group_size``
    pseudobulk samples and the design can be fitted on the kept samples
    (:func:`acc_tiam1.design.validate_design`: every variable with two levels or more,
    full rank).

    Returns
    -------
    One dict per contrast: ``contrast``, ``n_target``, ``n_reference``, ``status``
    (``tested`` or ``skipped``), ``reason``.
    """
    from .design import validate_design

    sub = sheet.loc[list(kept_samples)]
    rows = []
    for c in contrasts:
        n_t = int((sub[c.variable] == c.target).sum()) if len(sub) else 0
        n_r = int((sub[c.variable] == c.reference).sum()) if len(sub) else 0
        row = {"contrast": c.name, "n_target": n_t, "n_reference": n_r,
               "status": "tested", "reason": ""}
        if n_t < min_group_size or n_r < min_group_size:
            row["status"] = "skipped"
            row["reason"] = (
                f"too few replicates: {n_t} {c.target} and {n_r} {c.reference} "
                f"pseudobulk sample(s), need {min_group_size} per group"
            )
        else:
            try:
                validate_design(sub, design, [c], sheet_path=sheet_path,
                                min_replicates=min_group_size)
            except InputError as err:
                row["status"] = "skipped"
                row["reason"] = f"design cannot be fitted on the kept samples: {err.message}"
        rows.append(row)
    return rows


def pseudobulk_plan(
    pb,
    sheet: pd.DataFrame,
    cell_types: Sequence[str],
    design: str,
    contrasts: Sequence,
    params: Mapping,
    min_group_size: int,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Drop small pseudobulk samples, filter genes per cell type, decide what to test.

    Parameters
    ----------
    pb
        Output of :func:`pseudobulk`.
    sheet
        snRNA sample sheet indexed by sample.
    cell_types
        Every cell type of the marker table (those with no nuclei are reported too).
    design, contrasts
        Design formula and contrasts.
    params
        ``snrna.pseudobulk`` config: ``min_nuclei``, ``min_counts``, ``min_count``,
        ``min_total_count``, ``min_prop``, ``large_n``, ``min_genes``.
    min_group_size
        Fewest pseudobulk samples per contrast group.

    Returns
    -------
    samples
        One row per pseudobulk sample: nuclei, counts, ``kept`` and the reason if not.
    plan
        One row per cell type x contrast: ``status`` (tested/skipped), ``reason``,
        replicate numbers, genes after filtering.
    counts
        ``{safe cell type: genes x samples counts}`` (column ``gene`` first) for every
        cell type with at least one tested contrast.
    """
    obs = pb.obs.copy()
    obs["dropped_reason"] = filter_pseudobulk_samples(
        obs, params["min_nuclei"], params["min_counts"]
    )
    obs["kept"] = obs["dropped_reason"] == ""
    variables = sorted({c.variable for c in contrasts})
    plan_rows, out = [], {}
    genes = pb.var[["gene"]]
    for ct in cell_types:
        safe = safe_name(ct)
        here = obs[obs["cell_type"] == ct]
        kept = here[here["kept"]]
        base = {"cell_type": ct, "cell_type_safe": safe,
                "n_pseudobulk_samples": len(here), "n_kept": len(kept)}
        if len(here) == 0:
            for c in contrasts:
                plan_rows.append({**base, "contrast": c.name, "n_target": 0, "n_reference": 0,
                                  "n_genes": 0, "status": "skipped",
                                  "reason": "no nuclei annotated as this cell type"})
            continue
        rows = plan_cell_type(kept["sample"], sheet, design, contrasts, min_group_size)
        n_genes = 0
        if any(r["status"] == "tested" for r in rows):
            x = pb[kept.index].X
            mat = pd.DataFrame(
                np.asarray(x.toarray() if sparse.issparse(x) else x).T.astype(np.int64),
                index=pb.var_names, columns=kept["sample"].to_numpy(),
            )
            group = sheet.loc[mat.columns, variables].astype(str).agg("|".join, axis=1)
            mask = filter_by_expr(
                mat, group.to_numpy(), params["min_count"], params["min_total_count"],
                params["large_n"], params["min_prop"],
            )
            n_genes = int(mask.sum())
            if n_genes < params["min_genes"]:
                for r in rows:
                    if r["status"] == "tested":
                        r["status"] = "skipped"
                        r["reason"] = (f"only {n_genes} genes pass the expression filter "
                                       f"(< {params['min_genes']})")
            else:
                mat = mat[mask]
                mat.index.name = "gene_id"
                out[safe] = genes.loc[mat.index].join(mat)
        for r in rows:
            plan_rows.append({**base, **r, "n_genes": n_genes})
    plan = pd.DataFrame(plan_rows)[
        ["cell_type", "cell_type_safe", "contrast", "status", "reason", "n_pseudobulk_samples",
         "n_kept", "n_target", "n_reference", "n_genes"]
    ]
    samples = obs[["sample", "cell_type", "cell_type_safe", "n_nuclei", "total_counts", "kept",
                   "dropped_reason"]].copy()
    samples.index.name = "pseudobulk_sample"
    return samples, plan, out


# --------------------------------------------------------------------------------------
# Tiam1 / pathway per animal


def log_cpm(counts: np.ndarray) -> np.ndarray:
    """log2(CPM + 1) of rows (samples) of a samples x genes matrix."""
    x = np.asarray(counts, dtype=float)
    lib = x.sum(axis=1, keepdims=True)
    return np.log2(np.divide(x, lib, out=np.zeros_like(x), where=lib > 0) * 1e6 + 1)


def pathway_table(
    pb,
    sheet: pd.DataFrame,
    gene_sets: Mapping[str, Sequence[str]],
    genes: Sequence[str],
    min_mean_cpm: float = 1.0,
) -> pd.DataFrame:
    """Per-animal expression of chosen genes and gene-set scores in every cell type.

    Uses the pseudobulk samples that pass the size filters (``pb.obs["kept"]``).
    Gene values are log2(CPM + 1) of the pseudobulk; a set's score is, per cell type,
    the mean over its genes (those with mean CPM >= ``min_mean_cpm`` in that type) of
    their log2 CPM standardised across that type's samples.

    Returns
    -------
    Long table: sample, covariates, cell_type, ``feature``, ``kind`` (gene / gene set),
    ``value``, ``n_genes``.
    """
    symbols = pb.var["gene"].astype(str).to_numpy()
    first = pd.Series(np.arange(len(symbols)), index=symbols)
    first = first[~first.index.duplicated()]
    kept = pb.obs[pb.obs["kept"].astype(bool)] if "kept" in pb.obs else pb.obs
    covariates = [c for c in sheet.columns if c != "path"]
    rows = []
    for ct, obs in kept.groupby("cell_type", observed=True, sort=False):
        x = pb[obs.index].X
        x = np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=float)
        lc = log_cpm(x)
        cpm = 2**lc - 1
        base = pd.DataFrame({"sample": obs["sample"].to_numpy(), "cell_type": ct})
        for c in covariates:
            base[c] = sheet.loc[obs["sample"], c].to_numpy()
        for g in genes:
            if g not in first.index:
                continue
            frame = base.copy()
            frame["feature"], frame["kind"] = g, "gene"
            frame["value"], frame["n_genes"] = lc[:, first[g]], 1
            rows.append(frame)
        for name, members in gene_sets.items():
            idx = [first[g] for g in members if g in first.index]
            idx = [i for i in idx if cpm[:, i].mean() >= min_mean_cpm]
            if not idx:
                continue
            sub = lc[:, idx]
            sd = sub.std(axis=0, ddof=1) if sub.shape[0] > 1 else np.zeros(len(idx))
            z = np.divide(sub - sub.mean(axis=0), sd, out=np.zeros_like(sub), where=sd > 1e-12)
            frame = base.copy()
            frame["feature"], frame["kind"] = name, "gene set"
            frame["value"], frame["n_genes"] = z.mean(axis=1), len(idx)
            rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=["sample", *covariates, "cell_type", "feature", "kind",
                                     "value", "n_genes"])
    table = pd.concat(rows, ignore_index=True)
    return table[["sample", *covariates, "cell_type", "feature", "kind", "value", "n_genes"]]
