"""Reading user tables (count matrices, sample sheets) and writing results.

Every reader checks what it reads and raises :class:`~acc_tiam1.errors.InputError`
naming the file and the problem, so that mistakes surface before any model is fitted.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

#: Column names that hold gene symbols next to a gene id column.
SYMBOL_COLUMNS = ("gene", "gene_name", "symbol", "Symbol", "gene_symbol", "external_gene_name")
#: Annotation columns of a featureCounts table, in the order featureCounts writes them.
FEATURECOUNTS_COLUMNS = ("Geneid", "Chr", "Start", "End", "Strand", "Length")


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt")
    return open(path)


def _first_data_line(path: Path) -> str:
    with _open_text(path) as handle:
        for line in handle:
            if line.strip() and not line.startswith("#"):
                return line
    return ""


def sniff_separator(path: str | Path) -> str:
    r"""Guess whether a table is tab- or comma-separated from its header line.

    Parameters
    ----------
    path
        A text table, optionally gzipped. Lines starting with ``#`` are skipped.

    Returns
    -------
    ``"\\t"`` or ``","``.
    """
    header = _first_data_line(Path(path))
    if "\t" in header:
        return "\t"
    if "," in header:
        return ","
    return "\t"


def check_readable(path: str | Path, what: str) -> Path:
    """Raise :class:`InputError` unless ``path`` is an existing, readable file.

    Parameters
    ----------
    path
        The file.
    what
        How to call it in the message (e.g. ``"count matrix"``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} does not exist.", path)
    if path.is_dir():
        raise InputError(f"{what} is a folder, expected a file.", path)
    if not os.access(path, os.R_OK):
        raise InputError(f"{what} is not readable (check its permissions).", path)
    return path


def _check_text(path: Path, what: str) -> None:
    # Decode the start up front, so that a binary or mis-encoded file gets one clear
    # message instead of a decoder error from whichever reader touches it first.
    try:
        with _open_text(path) as handle:
            handle.read(65536)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as err:
        raise InputError(f"{what} is not a UTF-8 text file ({type(err).__name__}).", path) from err


def read_table(path: str | Path, what: str = "table", **kwargs) -> pd.DataFrame:
    """Read a TSV or CSV file with every cell as a string.

    Parameters
    ----------
    path
        The file; the separator is taken from its header line.
    what
        How to call the file in error messages.
    **kwargs
        Passed to :func:`pandas.read_csv`.
    """
    path = check_readable(path, what)
    _check_text(path, what)
    try:
        return pd.read_csv(
            path,
            sep=sniff_separator(path),
            comment=None,
            dtype=str,
            keep_default_na=False,
            **kwargs,
        )
    except (UnicodeDecodeError, gzip.BadGzipFile) as err:
        raise InputError(f"{what} is not a text table ({err}).", path) from err
    except pd.errors.ParserError as err:
        raise InputError(f"{what} could not be parsed: {err}", path) from err
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{what} is empty.", path) from err


def read_sample_sheet(path: str | Path, id_column: str = "sample") -> pd.DataFrame:
    """Read a sample sheet: one row per sample, column ``sample`` plus covariates.

    Parameters
    ----------
    path
        TSV (or CSV) file.
    id_column
        Column holding the sample ids.

    Returns
    -------
    The sheet indexed by sample id, all values as stripped strings, rows in file order.
    """
    sheet = read_table(path, what="sample sheet")
    sheet.columns = [str(c).strip() for c in sheet.columns]
    if id_column not in sheet.columns:
        hint = ""
        if len(sheet.columns) == 1 and " " in sheet.columns[0]:
            hint = " The header looks space-separated; use tabs between columns."
        raise InputError(
            f"no column '{id_column}' (found: {', '.join(sheet.columns)}).{hint}", path
        )
    sheet = sheet.apply(lambda col: col.str.strip())
    empty = sheet.index[sheet[id_column] == ""].tolist()
    if empty:
        rows = ", ".join(str(i + 2) for i in empty)
        raise InputError(f"empty '{id_column}' in line(s) {rows}.", path)
    dup = sheet[id_column][sheet[id_column].duplicated()].unique().tolist()
    if dup:
        raise InputError(
            f"duplicated {id_column} id(s): {', '.join(dup)}. Each sample must be on one row.",
            path,
        )
    return sheet.set_index(id_column, drop=True).rename_axis(id_column)


def split_gene_ids(ids: Iterable[str]) -> tuple[list[str], list[str] | None]:
    """Split ids of the form ``ENSMUSG...|Symbol`` into ids and symbols.

    Returns
    -------
    ``(ids, symbols)``; ``symbols`` is None when the ids carry no ``|``.
    """
    ids = [str(i) for i in ids]
    if ids and all("|" in i for i in ids):
        parts = [i.split("|", 1) for i in ids]
        return [p[0] for p in parts], [p[1] for p in parts]
    return ids, None


def _is_featurecounts(columns: list[str]) -> bool:
    return tuple(columns[: len(FEATURECOUNTS_COLUMNS)]) == FEATURECOUNTS_COLUMNS


def read_count_matrix(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a genes x samples matrix of raw counts.

    Accepted layouts: first column gene id, then one column per sample (TSV or CSV);
    optionally one symbol column (see :data:`SYMBOL_COLUMNS`); ids of the form
    ``ENSMUSG...|Symbol``; or a featureCounts table (``Geneid, Chr, Start, End,
    Strand, Length, samples...``, ``#`` comment lines skipped).

    Parameters
    ----------
    path
        The matrix file.

    Returns
    -------
    counts
        Integer counts, genes (index ``gene_id``) x samples (columns as in the file).
    genes
        Index ``gene_id``, column ``gene`` (the symbol, or the id when none is given).

    Raises
    ------
    InputError
        For missing, non-numeric, negative, non-integer counts and duplicated gene ids.
    """
    path = check_readable(path, "count matrix")
    _check_text(path, "count matrix")
    skip = _comment_lines(path)
    header = _header_fields(path, len(skip))
    dup_cols = sorted({c for c in header if header.count(c) > 1})
    if dup_cols:
        raise InputError(f"duplicated column name(s): {', '.join(dup_cols)}.", path)
    table = read_table(path, what="count matrix", skiprows=skip)
    columns = [str(c) for c in table.columns]
    if len(columns) < 2:
        raise InputError(
            "a count matrix needs a gene id column and at least one sample column.", path
        )
    symbols = None
    if _is_featurecounts(columns):
        id_col = "Geneid"
        drop = list(FEATURECOUNTS_COLUMNS[1:])
    else:
        id_col = columns[0]
        drop = []
    symbol_cols = [c for c in columns[1:] if c in SYMBOL_COLUMNS]
    if len(symbol_cols) > 1:
        raise InputError(
            f"more than one gene symbol column ({', '.join(symbol_cols)}); keep one.", path
        )
    if symbol_cols:
        symbols = table[symbol_cols[0]].tolist()
        drop.append(symbol_cols[0])
    ids = table[id_col].tolist()
    split_ids, split_symbols = split_gene_ids(ids)
    if split_symbols is not None:
        ids = split_ids
        symbols = symbols or split_symbols
    values = table.drop(columns=[id_col, *drop])
    counts = _to_counts(values, ids, path)
    dup = counts.index[counts.index.duplicated()].unique().tolist()
    if dup:
        shown = ", ".join(dup[:5]) + (" ..." if len(dup) > 5 else "")
        raise InputError(
            f"{len(dup)} duplicated gene id(s): {shown}. Sum or remove duplicates first.",
            path,
        )
    genes = pd.DataFrame({"gene": symbols if symbols is not None else ids}, index=counts.index)
    genes.loc[genes["gene"].isin(["", "NA", "nan"]), "gene"] = genes.index[
        genes["gene"].isin(["", "NA", "nan"])
    ]
    return counts, genes


def _header_fields(path: Path, n_skip: int) -> list[str]:
    sep = sniff_separator(path)
    with _open_text(path) as handle:
        for i, line in enumerate(handle):
            if i == n_skip:
                return [f.strip().strip('"') for f in line.rstrip("\r\n").split(sep)]
    return []


def _comment_lines(path: Path) -> list[int]:
    skip = []
    with _open_text(path) as handle:
        for i, line in enumerate(handle):
            if line.startswith("#"):
                skip.append(i)
            else:
                break
    return skip


def _to_counts(values: pd.DataFrame, ids: list[str], path: Path) -> pd.DataFrame:
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & (values != "")
    if bad.any().any():
        col = bad.any().idxmax()
        row = int(np.argmax(bad[col].to_numpy()))
        raise InputError(
            f"column '{col}' holds a non-numeric value '{values[col].iloc[row]}' "
            f"(gene {ids[row]}). Only the gene id and one symbol column may be text.",
            path,
        )
    if numeric.isna().any().any():
        col = numeric.isna().any().idxmax()
        row = int(np.argmax(numeric[col].isna().to_numpy()))
        raise InputError(f"missing count for gene {ids[row]} in sample '{col}'.", path)
    arr = numeric.to_numpy(dtype=float)
    if (arr < 0).any():
        r, c = np.argwhere(arr < 0)[0]
        raise InputError(
            f"negative count {arr[r, c]:g} for gene {ids[r]} in sample "
            f"'{numeric.columns[c]}'. Raw counts are never negative.",
            path,
        )
    frac = np.abs(arr - np.round(arr)) > 1e-8
    if frac.any():
        r, c = np.argwhere(frac)[0]
        raise InputError(
            f"non-integer count {arr[r, c]:g} for gene {ids[r]} in sample "
            f"'{numeric.columns[c]}'. DESeq2 needs raw integer counts; estimated counts "
            "(salmon, kallisto, RSEM) must be summarised to genes and rounded first "
            "(as tximport does), never normalised values (TPM, FPKM, CPM).",
            path,
        )
    counts = pd.DataFrame(
        np.round(arr).astype(np.int64),
        index=pd.Index(ids, name="gene_id"),
        columns=[str(c) for c in numeric.columns],
    )
    return counts


def match_samples(
    columns: Iterable[str], samples: Iterable[str], matrix_path: str, sheet_path: str
) -> dict[str, str]:
    """Map count-matrix columns to sample-sheet ids.

    A column matches a sample when it is equal to it or, for featureCounts-style paths
    (``/x/walker_S1_sort.bam``), when its file name contains exactly one sample id.

    Returns
    -------
    ``{column: sample}`` for every column.

    Raises
    ------
    InputError
        When a sheet sample has no column or a column matches no (or several) samples.
    """
    columns = list(columns)
    samples = list(samples)
    sample_set = set(samples)
    mapping: dict[str, str] = {}
    unmatched = []
    for col in columns:
        if col in sample_set:
            mapping[col] = col
            continue
        base = Path(col).name
        hits = [s for s in samples if s in base]
        if len(hits) == 1:
            mapping[col] = hits[0]
        else:
            unmatched.append(col)
    missing = sorted(sample_set - set(mapping.values()))
    problems = []
    if missing:
        problems.append(
            f"sample(s) in the sheet {sheet_path} but not in the matrix: {', '.join(missing)}"
        )
    if unmatched:
        problems.append(
            "column(s) of the matrix that match no sample of the sheet: " + ", ".join(unmatched)
        )
    if problems:
        raise InputError("; ".join(problems) + ".", matrix_path)
    counts = pd.Series(list(mapping.values())).value_counts()
    twice = counts.index[counts > 1].tolist()
    if twice:
        raise InputError(
            f"several matrix columns map to sample(s) {', '.join(twice)}.", matrix_path
        )
    return mapping


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Write a file through a temporary name, so that a killed job never leaves half a file.

    Yields a temporary path in the destination's folder (created if needed); when the
    block succeeds, the file gets the permissions a plain ``open()`` would give it
    (``mkstemp`` creates files readable by their owner only, which hides results from
    the rest of a lab on a shared cluster) and is renamed to ``path``; when it fails, the
    temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_tsv(df: pd.DataFrame, path: str | Path, index: bool = True) -> None:
    """Write a table atomically (see :func:`atomic_output`).

    The text is pandas' ``to_csv`` (tab-separated, Unix line ends). Tables of plain
    number, bool and string columns are formatted by :func:`acc_tiam1._tsv.tsv_chunks`,
    which writes the same text faster.

    Parameters
    ----------
    df
        The table.
    path
        Destination; its folder is created.
    index
        Whether to write the index as the first column.
    """
    from ._tsv import tsv_chunks

    chunks = tsv_chunks(df, index)
    with atomic_output(path) as tmp, open(tmp, "w") as handle:
        if chunks is None:
            df.to_csv(handle, sep="\t", index=index, lineterminator="\n")
        else:
            handle.writelines(chunks)


def write_text(text: str, path: str | Path) -> None:
    """Write a text file (an HTML page, a YAML file) atomically."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)


def read_tsv(path: str | Path, index_col: int | None = 0) -> pd.DataFrame:
    """Read a TSV this workflow wrote."""
    return pd.read_csv(path, sep="\t", index_col=index_col)


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Read a GMT gene-set file: ``name <tab> description <tab> gene <tab> gene ...``.

    Returns
    -------
    ``{set name: genes}`` in file order, genes de-duplicated in order.

    Raises
    ------
    InputError
        For lines without a tab-separated name, description and at least one gene, and
        for set names used twice.
    """
    path = check_readable(path, "gene-set file")
    _check_text(path, "gene-set file")
    sets: dict[str, list[str]] = {}
    try:
        with _open_text(path) as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as err:
        raise InputError("gene-set file is not text; expected GMT.", path) from err
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        genes = [g for g in fields[2:] if g]
        if len(fields) < 3 or not fields[0] or not genes:
            raise InputError(
                f"line {number} is not GMT (set name, description, then genes, all "
                "separated by tabs).",
                path,
            )
        if fields[0] in sets:
            raise InputError(f"gene set '{fields[0]}' is defined twice (line {number}).", path)
        sets[fields[0]] = list(dict.fromkeys(genes))
    if not sets:
        raise InputError("gene-set file holds no gene sets.", path)
    return sets


def read_markers(path: str | Path) -> pd.DataFrame:
    """Read a cell-type marker table (columns ``cell_type``, ``class``, ``markers``).

    Returns
    -------
    One row per cell type, ``markers`` as a list of gene symbols.
    """
    table = read_table(path, what="marker table")
    missing = {"cell_type", "markers"} - set(table.columns)
    if missing:
        raise InputError(f"marker table lacks column(s) {', '.join(sorted(missing))}.", path)
    if "class" not in table.columns:
        table["class"] = ""
    table["markers"] = table["markers"].map(
        lambda s: [g.strip() for g in str(s).split(",") if g.strip()]
    )
    empty = table.loc[table["markers"].map(len) == 0, "cell_type"].tolist()
    if empty:
        raise InputError(f"cell type(s) with no markers: {', '.join(empty)}.", path)
    dup = table["cell_type"][table["cell_type"].duplicated()].tolist()
    if dup:
        raise InputError(f"cell type(s) listed twice: {', '.join(dup)}.", path)
    return table[["cell_type", "class", "markers"]].reset_index(drop=True)


def read_prepared_counts(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read a matrix written by the prepare rules (``gene_id, gene, samples...``).

    Returns
    -------
    counts
        Genes x samples integers.
    genes
        Index ``gene_id``, column ``gene``.
    """
    table = pd.read_csv(path, sep="\t", index_col=0, dtype={"gene_id": str, "gene": str})
    table.index = table.index.astype(str)
    genes = table[["gene"]]
    counts = table.drop(columns="gene").astype(np.int64)
    return counts, genes
