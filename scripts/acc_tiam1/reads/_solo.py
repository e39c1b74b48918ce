"""STARsolo for 10x single-nucleus reads: chemistry, and matrices for the snRNA branch.

STARsolo writes ``Solo.out/<feature>/{raw,filtered}/`` with uncompressed
``matrix.mtx, barcodes.tsv, features.tsv``; scanpy's ``read_10x_mtx`` (Cell Ranger >= 3
layout) and the snRNA branch want them gzipped. The raw matrix lists every whitelist
barcode; like Cell Ranger's ``raw_feature_bc_matrix``, only barcodes with at least one
count are kept (an ambient-RNA estimate reads nothing from empty ones), which keeps the
raw matrix of a 3.6-million barcode whitelist small.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_output

if TYPE_CHECKING:
    from scipy import sparse

#: Cell barcode and UMI lengths of 10x Chromium 3' chemistries (read 1 = barcode + UMI).
CHEMISTRY = {"v2": {"cb_len": 16, "umi_len": 10}, "v3": {"cb_len": 16, "umi_len": 12}}
_CELL_FILTER = re.compile(r"^EmptyDrops_CR(\s+[0-9.eE+-]+){0,10}$")


def chemistry(name: str) -> dict[str, int]:
    """Barcode and UMI lengths of a chemistry (``v2`` or ``v3``)."""
    if name not in CHEMISTRY:
        raise InputError(
            f"unknown chemistry '{name}' (known: {', '.join(CHEMISTRY)}).", "snrna.chemistry"
        )
    return CHEMISTRY[name]


def solo_arguments(chem: str, whitelist: str, cell_filter: str) -> str:
    """STARsolo options for 10x 3' nuclei.

    GeneFull counts (intronic reads count), Cell Ranger >= 4 barcode and UMI handling, and
    the configured cell calling.

    ``Gene`` (exonic only) is counted too, to report the intronic share of each nucleus.
    """
    chem_ = chemistry(chem)
    if not _CELL_FILTER.match(cell_filter.strip()):
        raise InputError(
            f"'{cell_filter}' is not 'EmptyDrops_CR' followed by up to 10 numbers.",
            "snrna.cell_filter",
        )
    return " ".join(
        [
            "--soloType CB_UMI_Simple",
            f"--soloCBwhitelist {whitelist}",
            f"--soloCBstart 1 --soloCBlen {chem_['cb_len']}",
            f"--soloUMIstart {chem_['cb_len'] + 1} --soloUMIlen {chem_['umi_len']}",
            # Read 1 may be longer than barcode + UMI; the check rule verified it is not shorter.
            "--soloBarcodeReadLength 0",
            "--soloFeatures Gene GeneFull",
            f"--soloCellFilter {cell_filter.strip()}",
            "--soloUMIdedup 1MM_CR --soloCBmatchWLtype 1MM_multi_Nbase_pseudocounts",
            "--soloUMIfiltering MultiGeneUMI_CR --clipAdapterType CellRanger4",
            "--outFilterScoreMin 30 --outSAMtype None",
        ]
    )


def check_whitelist(path: str | Path, cb_len: int) -> list[str]:
    """Read a barcode whitelist (plain or gzipped) and check its barcodes' length.

    Raises
    ------
    InputError
        When it is empty or a barcode is not ``cb_len`` letters of ACGTN.
    """
    path = Path(path)
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt") as handle:
            barcodes = [line.split()[0] for line in handle if line.strip()]
    except (OSError, EOFError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the barcode whitelist ({err}).", path) from err
    if not barcodes:
        raise InputError("the barcode whitelist is empty.", path)
    bad = next((b for b in barcodes if len(b) != cb_len or set(b) - set("ACGTN")), None)
    if bad is not None:
        raise InputError(
            f"barcode '{bad}' is not {cb_len} letters of ACGTN; is this the "
            "whitelist of the configured chemistry (snrna.chemistry)?",
            path,
        )
    return barcodes


def read_solo_summary(path: str | Path) -> dict[str, float | str]:
    """STARsolo's ``Summary.csv`` as ``{metric: value}`` (numbers where they are)."""
    out: dict[str, float | str] = {}
    for line in Path(path).read_text().splitlines():
        if "," not in line:
            continue
        key, value = line.rsplit(",", 1)
        try:
            out[key.strip()] = float(value)
        except ValueError:
            out[key.strip()] = value.strip()
    return out


def read_solo_matrix(folder: str | Path) -> tuple[sparse.csc_matrix, list[str], pd.DataFrame]:
    """A STARsolo matrix folder: genes x barcodes counts (CSC), barcodes, features table."""
    # scipy is imported here: the package is imported when Snakemake reads the config.
    from scipy import io as spio
    from scipy import sparse

    folder = Path(folder)
    matrix = sparse.csc_matrix(spio.mmread(folder / "matrix.mtx"))
    barcodes = (folder / "barcodes.tsv").read_text().split()
    features = pd.read_csv(folder / "features.tsv", sep="\t", header=None, dtype=str)
    return matrix, barcodes, features


def write_matrix_folder(
    matrix: sparse.spmatrix, barcodes: list[str], features: pd.DataFrame, folder: str | Path
) -> None:
    """Write a Cell Ranger >= 3 matrix folder (gzipped), each file atomically.

    Parameters
    ----------
    matrix
        Genes x barcodes integer counts.
    barcodes
        Column names.
    features
        Three columns: gene id, symbol, feature type.
    folder
        Destination (created).
    """
    from scipy import io as spio
    from scipy import sparse

    folder = Path(folder)
    with atomic_output(folder / "matrix.mtx.gz") as tmp, gzip.open(tmp, "wb") as handle:
        spio.mmwrite(handle, sparse.coo_matrix(matrix).astype(np.int64), field="integer")
    with atomic_output(folder / "barcodes.tsv.gz") as tmp, gzip.open(tmp, "wt") as handle:
        handle.write("".join(f"{b}\n" for b in barcodes))
    with atomic_output(folder / "features.tsv.gz") as tmp, gzip.open(tmp, "wt") as handle:
        features.iloc[:, :3].to_csv(handle, sep="\t", header=False, index=False)


def convert_solo(
    solo_dir: str | Path,
    out_filtered: str | Path,
    out_raw: str | Path,
    genes: pd.DataFrame | None = None,
    feature: str = "GeneFull",
) -> dict:
    """Gzip one sample's STARsolo matrices for the snRNA branch and summarise them.

    Parameters
    ----------
    solo_dir
        The sample's ``Solo.out`` folder.
    out_filtered, out_raw
        Destination folders (``path`` and ``raw_path`` of the snRNA sheet).
    genes
        Gene table (``gene_id``, ``gene``); when given, feature symbols come from it
        (STAR uses ``gene_name`` only, and takes the id when a GTF has none).
    feature
        The STARsolo feature to convert.

    Returns
    -------
    Per-sample numbers: nuclei called, raw barcodes with counts, UMIs in nuclei by
    ``GeneFull`` and by ``Gene`` (exonic only), the intronic share, and the medians.
    """
    solo_dir = Path(solo_dir)
    matrix, barcodes, features = read_solo_matrix(solo_dir / feature / "raw")
    if genes is not None:
        symbol = dict(zip(genes["gene_id"].astype(str), genes["gene"].astype(str), strict=True))
        features[1] = [symbol.get(g, s) for g, s in zip(features[0], features[1], strict=True)]
    filtered = (solo_dir / feature / "filtered" / "barcodes.tsv").read_text().split()
    col = {b: i for i, b in enumerate(barcodes)}
    unknown = [b for b in filtered if b not in col]
    if unknown:
        raise InputError(f"filtered barcode {unknown[0]} is not in the raw matrix.", solo_dir)
    cells = np.array([col[b] for b in filtered], dtype=int)
    write_matrix_folder(matrix[:, cells], filtered, features, out_filtered)
    nonzero = np.flatnonzero(np.asarray(matrix.sum(axis=0)).ravel() > 0)
    write_matrix_folder(matrix[:, nonzero], [barcodes[i] for i in nonzero], features, out_raw)
    umis_full = np.asarray(matrix[:, cells].sum(axis=0)).ravel()
    exon_matrix, exon_barcodes, _ = read_solo_matrix(solo_dir / "Gene" / "raw")
    exon_col = {b: i for i, b in enumerate(exon_barcodes)}
    umis_exon = (
        np.asarray(exon_matrix[:, [exon_col[b] for b in filtered]].sum(axis=0)).ravel()
        if len(filtered)
        else np.zeros(0)
    )
    total_full, total_exon = float(umis_full.sum()), float(umis_exon.sum())
    return {
        "nuclei": len(filtered),
        "raw_barcodes_with_counts": len(nonzero),
        "genes": matrix.shape[0],
        "umis_in_nuclei": int(total_full),
        "median_umis_per_nucleus": float(np.median(umis_full)) if len(filtered) else 0.0,
        "exonic_umis_in_nuclei": int(total_exon),
        "intronic_fraction": round(1 - total_exon / total_full, 4) if total_full else 0.0,
    }


def cell_calling_table(summaries: dict[str, dict], solo: dict[str, dict]) -> pd.DataFrame:
    """One row per sample: the conversion numbers and STARsolo's own summary metrics.

    Parameters
    ----------
    summaries
        ``{sample: dict from convert_solo}``.
    solo
        ``{sample: read_solo_summary of GeneFull}``.
    """
    rows = []
    for sample, numbers in summaries.items():
        s = solo.get(sample, {})
        rows.append(
            {
                "sample": sample,
                "reads": s.get("Number of Reads"),
                "valid_barcodes": s.get("Reads With Valid Barcodes"),
                "mapped_unique": s.get("Reads Mapped to Genome: Unique"),
                "reads_on_genes_genefull": s.get("Reads Mapped to GeneFull: Unique GeneFull"),
                "sequencing_saturation": s.get("Sequencing Saturation"),
                **numbers,
            }
        )
    return pd.DataFrame(rows)
