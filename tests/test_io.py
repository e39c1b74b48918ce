"""Reading count matrices, sample sheets and gene sets, and the errors for bad ones."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from acc_tiam1 import io
from acc_tiam1.errors import InputError


def write(path, text):
    path.write_text(text)
    return path


def test_reads_tsv_matrix_with_plain_ids(tmp_path):
    p = write(tmp_path / "c.tsv", "gene_id\tA\tB\ng1\t1\t2\ng2\t0\t5\n")
    counts, genes = io.read_count_matrix(p)
    assert counts.columns.tolist() == ["A", "B"]
    assert counts.loc["g2", "B"] == 5
    assert counts.dtypes.unique().tolist() == [np.dtype("int64")]
    assert genes["gene"].tolist() == ["g1", "g2"]


def test_splits_ensembl_symbol_ids_from_csv(tmp_path):
    p = write(tmp_path / "c.csv", "gene_id,S1,S2\nENSMUSG01|Tiam1,3,4\nENSMUSG02|Rac1,5,6\n")
    counts, genes = io.read_count_matrix(p)
    assert counts.index.tolist() == ["ENSMUSG01", "ENSMUSG02"]
    assert genes.loc["ENSMUSG02", "gene"] == "Rac1"


def test_reads_separate_symbol_column_and_gzip(tmp_path):
    p = tmp_path / "c.tsv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write("id\tgene_name\tS1\tS2\nE1\tTiam1\t3\t4\nE2\t\t5\t6\n")
    counts, genes = io.read_count_matrix(p)
    assert counts.shape == (2, 2)
    # An empty symbol falls back to the id rather than an empty label.
    assert genes["gene"].tolist() == ["Tiam1", "E2"]


def test_reads_featurecounts_table(tmp_path):
    text = (
        "# Program:featureCounts v2.0.1; Command: ...\n"
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/x/a_S1_sort.bam\t/x/a_S2_sort.bam\n"
        "E1\t1\t10\t20\t+\t11\t7\t8\n"
        "E2\t1\t30\t40\t-\t11\t0\t1\n"
    )
    counts, _ = io.read_count_matrix(write(tmp_path / "fc.txt", text))
    assert counts.shape == (2, 2)
    mapping = io.match_samples(counts.columns, ["S1", "S2"], "fc.txt", "s.tsv")
    assert mapping == {"/x/a_S1_sort.bam": "S1", "/x/a_S2_sort.bam": "S2"}


def test_integer_valued_floats_are_accepted(tmp_path):
    counts, _ = io.read_count_matrix(write(tmp_path / "c.tsv", "g\tA\ng1\t3.0\n"))
    assert counts.loc["g1", "A"] == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("g\tA\tB\ng1\t1.5\t2\n", "non-integer count 1.5 for gene g1 in sample 'A'"),
        ("g\tA\tB\ng1\t-1\t2\n", "negative count -1 for gene g1 in sample 'A'"),
        ("g\tA\tB\ng1\tx\t2\n", "non-numeric value 'x'"),
        ("g\tA\tB\ng1\t\t2\n", "missing count for gene g1 in sample 'A'"),
        ("g\tA\tB\ng1\t1\t2\ng1\t3\t4\n", "duplicated gene id(s): g1"),
        ("g\tA\tA\ng1\t1\t2\n", "duplicated column name(s): A"),
        ("g\ng1\n", "needs a gene id column and at least one sample column"),
    ],
)
def test_bad_matrices_name_the_problem_and_file(tmp_path, body, message):
    p = write(tmp_path / "bad.tsv", body)
    with pytest.raises(InputError) as err:
        io.read_count_matrix(p)
    assert message in str(err.value)
    assert str(p) in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        io.read_count_matrix(tmp_path / "nope.tsv")
    binary = tmp_path / "x.tsv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 20)
    with pytest.raises(InputError, match=r"x\.tsv"):
        io.read_count_matrix(binary)


def test_match_samples_reports_both_directions(tmp_path):
    with pytest.raises(InputError) as err:
        io.match_samples(["A", "B", "Z"], ["A", "B", "C"], "m.tsv", "s.tsv")
    text = str(err.value)
    assert "in the sheet s.tsv but not in the matrix: C" in text
    assert "match no sample of the sheet: Z" in text
    assert text.startswith("m.tsv")


def test_match_samples_refuses_ambiguous_substrings():
    # "S1" is contained in both names: a match must be unique or it is no match.
    with pytest.raises(InputError, match="match no sample"):
        io.match_samples(["x_S1_S10.bam"], ["S1", "S10"], "m", "s")


def test_sample_sheet(tmp_path):
    p = write(tmp_path / "s.tsv", "sample\tcondition\nA \tpain\nB\tsham\n")
    sheet = io.read_sample_sheet(p)
    assert sheet.index.tolist() == ["A", "B"]
    assert sheet.loc["A", "condition"] == "pain"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name\tcondition\nA\tpain\n", "no column 'sample' (found: name, condition)"),
        ("sample condition\nA pain\n", "looks space-separated"),
        ("sample\tcondition\nA\tpain\nA\tsham\n", "duplicated sample id(s): A"),
        ("sample\tcondition\n\tpain\n", "empty 'sample' in line(s) 2"),
        ("", "is empty"),
    ],
)
def test_bad_sample_sheets(tmp_path, body, message):
    p = write(tmp_path / "s.tsv", body)
    with pytest.raises(InputError, match=r"s\.tsv") as err:
        io.read_sample_sheet(p)
    assert message in str(err.value)


def test_comma_separated_sheet_is_read(tmp_path):
    sheet = io.read_sample_sheet(write(tmp_path / "s.csv", "sample,condition\nA,pain\n"))
    assert sheet.loc["A", "condition"] == "pain"


def test_read_gmt(tmp_path):
    p = write(tmp_path / "g.gmt", "SET1\tdesc\tA\tB\tA\n\nSET2\t\tC\n")
    assert io.read_gmt(p) == {"SET1": ["A", "B"], "SET2": ["C"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("SET1 desc A B\n", "line 1 is not GMT"),
        ("SET1\tdesc\n", "line 1 is not GMT"),
        ("S\td\tA\nS\td\tB\n", "defined twice (line 2)"),
        ("# only a comment\n", "holds no gene sets"),
    ],
)
def test_bad_gmt(tmp_path, body, message):
    p = write(tmp_path / "g.gmt", body)
    with pytest.raises(InputError, match=r"g\.gmt") as err:
        io.read_gmt(p)
    assert message in str(err.value)


def test_shipped_gene_sets_and_markers_are_valid():
    from conftest import REPO

    sets = io.read_gmt(REPO / "config" / "genesets" / "tiam1_rac1.gmt")
    core = set(sets["TIAM1_RAC1_CORE_ABC"])
    union = set().union(*(sets[k] for k in sets if k.startswith("TIAM1_RAC1_") and k[11] in "ABC"))
    assert core == union
    assert {"Tiam1", "Rac1", "Kalrn"} <= core
    markers = io.read_markers(REPO / "config" / "markers" / "acc_markers.tsv")
    assert len(markers) >= 20
    assert "Oligo" in markers["cell_type"].tolist()


def test_write_tsv_is_atomic_and_leaves_no_temp_files(tmp_path):
    df = pd.DataFrame({"a": [1, 2]})
    io.write_tsv(df, tmp_path / "sub" / "x.tsv", index=False)
    assert (tmp_path / "sub" / "x.tsv").read_text() == "a\n1\n2\n"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["x.tsv"]


def _pandas_tsv(df, index):
    return df.to_csv(sep="\t", index=index, lineterminator="\n")


def _awkward_floats(rng, n):
    """Floats of every exponent (random bit patterns) and the notation boundaries."""
    bits = rng.integers(0, 2**63, size=n, dtype=np.int64).view(np.float64)
    edges = [1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 5e-324, 1.7976931348623157e308]
    edges += [-0.0, 0.0, np.inf, -np.inf, np.nan, 0.1 + 0.2]
    return np.concatenate([bits, edges, -np.asarray(edges)])


def _fast_tsv(df, index):
    from acc_tiam1._tsv import tsv_chunks

    chunks = tsv_chunks(df, index)
    return None if chunks is None else "".join(chunks)


def test_fast_tsv_text_is_pandas_text(monkeypatch):
    """Tables the fast path writes are byte for byte what pandas writes."""
    from acc_tiam1 import _tsv

    monkeypatch.setattr(_tsv, "CHUNK_ROWS", 1000)  # several chunks, the last one short

    rng = np.random.default_rng(7)
    floats = _awkward_floats(rng, 3000)
    n = len(floats)
    df = pd.DataFrame(
        {
            "f64": floats,
            "f32": rng.normal(size=n).astype(np.float32),
            "int": rng.integers(-(2**40), 2**40, n),
            "uint": rng.integers(0, 2**63, n, dtype=np.uint64),
            "flag": rng.random(n) > 0.5,
            "text": [None if i % 7 == 0 else f"gene {i}; (x)" for i in range(n)],
            "sparse_text": [np.nan if i % 3 else "y" for i in range(n)],
        },
        index=pd.Index([f"ENSMUSG{i:011d}" for i in range(n)], name="gene_id"),
    )
    by_position = df.set_index("f64", drop=False).rename_axis("position")
    frames = (df, df.reset_index(drop=True), df.rename_axis(columns="ignored"), by_position)
    for frame in frames:
        for index in (True, False):
            text = _fast_tsv(frame, index)
            assert text is not None
            assert text == _pandas_tsv(frame, index)


@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame({"a": ["x\ty", "z"], "b": [1, 2]}),  # quoted by the csv module
        pd.DataFrame({"a": ['say "x"', "z"], "b": [1, 2]}),
        pd.DataFrame({"a": ["two\nlines", "z"], "b": [1, 2]}),
        pd.DataFrame({"a\tb": [1.0], "c": [2.0]}),
        pd.DataFrame({"a": pd.Categorical(["x", "y"]), "b": [1, 2]}),
        pd.DataFrame({"a": pd.array([1, None]), "b": [1, 2]}),
        pd.DataFrame({"a": pd.to_datetime(["2020-01-01", "2021-01-01"]), "b": [1, 2]}),
        pd.DataFrame({"a": ["x", 1.5], "b": [1, 2]}),
        pd.DataFrame({0: [1.0], 1: [2.0]}),
        pd.DataFrame({"a": [1, 2]}, index=pd.MultiIndex.from_tuples([("x", 1), ("y", 2)])),
        pd.DataFrame({"a": [], "b": []}),
    ],
    ids=[
        "tab",
        "quote",
        "newline",
        "label",
        "categorical",
        "nullable",
        "datetime",
        "mixed",
        "int-labels",
        "multiindex",
        "empty",
    ],
)
def test_tables_the_fast_path_does_not_reproduce_go_to_pandas(tmp_path, df):
    assert _fast_tsv(df, index=True) is None
    io.write_tsv(df, tmp_path / "x.tsv")
    assert (tmp_path / "x.tsv").read_text() == _pandas_tsv(df, True)


def test_single_column_without_index_goes_to_pandas(tmp_path):
    """The csv module quotes an empty field that is alone on its line."""
    df = pd.DataFrame({"a": ["", "x"]})
    assert _fast_tsv(df, index=False) is None
    io.write_tsv(df, tmp_path / "x.tsv", index=False)
    assert (tmp_path / "x.tsv").read_text() == 'a\n""\nx\n'


def test_atomic_output_keeps_usual_permissions_and_cleans_up_on_error(tmp_path):
    """Results must be readable by the lab (umask), not owner-only as mkstemp makes them."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        io.write_tsv(pd.DataFrame({"a": [1]}), tmp_path / "x.tsv")
        io.write_text("<html></html>", tmp_path / "x.html")
    finally:
        os.umask(old)
    for name in ("x.tsv", "x.html"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
    with pytest.raises(RuntimeError), io.atomic_output(tmp_path / "y.tsv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.html", "x.tsv"]


def test_interactive_table_keeps_highlighted_genes_beyond_the_row_limit():
    import json
    import re

    from acc_tiam1.html_table import interactive_table

    table = pd.DataFrame({"gene": [f"g{i}" for i in range(10)] + ["Tiam1"], "padj": range(11)})
    page = interactive_table(table, "t", max_rows=3, keep=table["gene"].isin(["Tiam1"]))
    payload = json.loads(re.search(r"id='data'>(.*?)</script>", page).group(1))
    assert [r[0] for r in payload["rows"]] == ["g0", "g1", "g2", "Tiam1"]
    assert "first 3 plus 1 highlighted gene(s) of 11 rows" in page
    plain = interactive_table(table, "t", max_rows=3)
    assert len(json.loads(re.search(r"id='data'>(.*?)</script>", plain).group(1))["rows"]) == 3
