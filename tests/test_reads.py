"""The reads front end's library, without Snakemake or the tools: units sheets, FASTQ and
reference checks, strandedness, gene-count matrices, STARsolo conversion, the demo."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from acc_tiam1 import io, reads
from acc_tiam1.errors import InputError
from acc_tiam1.reads import _demo_reads, _demo_reference
from conftest import REPO
from scipy import io as spio
from scipy import sparse


def fastq_text(n, length=8, prefix="r", mate=None):
    tag = f" {mate}:N:0:1" if mate else ""
    return "".join(
        f"@{prefix}{i}{tag}\n{'ACGT' * (length // 4)}\n+\n{'I' * length}\n" for i in range(n)
    )


def write_fastq(path, text, gz=True):
    path = Path(path)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return str(path)


# --- FASTQ checks ----------------------------------------------------------------------


def test_scan_counts_reads_in_plain_gzip_and_without_final_newline(tmp_path):
    text = fastq_text(1000)
    a = write_fastq(tmp_path / "a.fq.gz", text)
    b = write_fastq(tmp_path / "b.fq", text.rstrip("\n"), gz=False)
    c = write_fastq(tmp_path / "c.fq", text.replace("\n", "\r\n"), gz=False)
    for path in (a, b, c):
        stats = reads.scan_fastq(path, "x")
        assert (stats.reads, stats.min_length, stats.max_length) == (1000, 8, 8)
        assert stats.first_name == "r0"


def test_scan_reads_records_across_block_boundaries(tmp_path, monkeypatch):
    from acc_tiam1.reads import _fastq

    monkeypatch.setattr(_fastq, "BLOCK", 37)  # boundaries fall inside records
    text = "".join(f"@q{i}\n{'A' * (i % 9 + 1)}\n+\n{'#' * (i % 9 + 1)}\n" for i in range(301))
    stats = reads.scan_fastq(write_fastq(tmp_path / "a.fq.gz", text), "x")
    assert (stats.reads, stats.min_length, stats.max_length) == (301, 1, 9)


def test_truncated_gzip_is_named(tmp_path):
    path = write_fastq(tmp_path / "t.fq.gz", fastq_text(20000, 100))
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated") as err:
        reads.scan_fastq(path, "sample 'S1' unit 'L1' fq1")
    assert "t.fq.gz" in str(err.value) and "sample 'S1' unit 'L1'" in str(err.value)


def test_file_cut_inside_a_record_is_truncated(tmp_path):
    path = write_fastq(tmp_path / "t.fq", fastq_text(50)[:-6], gz=False)
    with pytest.raises(InputError, match="middle of record 50: the file is truncated"):
        reads.scan_fastq(path, "x")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">chr1\nACGT\n>chr2\nACGT\n", "does not start with '@'"),
        ("@r1\nACGT\n-\nIIII\n", "does not start with '+'"),
        ("@r1\nACGT\n+\nIIII\n@r2\nACGTA\n+\nIIII\n", "record 2 has 5 bases but 4 quality"),
        ("", "empty"),
    ],
)
def test_not_fastq_is_named(tmp_path, text, message):
    path = write_fastq(tmp_path / "bad.fq", text, gz=False)
    with pytest.raises(InputError, match=re.escape(message)) as err:
        reads.scan_fastq(path, "x")
    assert "bad.fq" in str(err.value)


def test_peek_rejects_fasta_and_fake_gzip(tmp_path):
    with pytest.raises(InputError, match="not a FASTQ"):
        reads.peek_fastq(write_fastq(tmp_path / "a.fq", ">x\nACGT\n", gz=False), "x")
    fake = write_fastq(tmp_path / "b.fastq.gz", fastq_text(3), gz=False)
    with pytest.raises(InputError, match="not gzip-compressed"):
        reads.peek_fastq(fake, "x")
    assert reads.peek_fastq(write_fastq(tmp_path / "c.fq.gz", fastq_text(3, mate=1)), "x") == "r0"


def test_mates_of_different_read_counts_are_an_error(tmp_path):
    r1 = write_fastq(tmp_path / "S1_R1.fq.gz", fastq_text(100, mate=1))
    r2 = write_fastq(tmp_path / "S1_R2.fq.gz", fastq_text(99, mate=2))
    with pytest.raises(InputError) as err:
        reads.check_sample_fastq([{"unit": "L1", "fq1": r1, "fq2": r2}], "S1")
    text = str(err.value)
    assert "100 reads" in text and "99" in text and "S1_R1.fq.gz" in text
    assert "S1_R2.fq.gz" in text


def test_check_sample_fastq_reports_units_and_read1_length(tmp_path):
    r1 = write_fastq(tmp_path / "R1.fq.gz", fastq_text(10, 28, mate=1))
    r2 = write_fastq(tmp_path / "R2.fq.gz", fastq_text(10, 92, mate=2))
    rows = reads.check_sample_fastq([{"unit": "L1", "fq1": r1, "fq2": r2}], "S1", 28)
    assert rows == [{"unit": "L1", "reads": 10, "read1_length": "28-28", "read2_length": "92-92"}]
    short = write_fastq(tmp_path / "short.fq.gz", fastq_text(10, 24, mate=1))
    with pytest.raises(InputError, match="at least 28 bp"):
        reads.check_sample_fastq([{"unit": "L1", "fq1": short, "fq2": r2}], "S1", 28)


# --- units sheets and config ---------------------------------------------------------


def study(tmp_path, samples=("A", "B"), units=None, paired=True):
    """A small bulk study on disk: sample sheet, units sheet, FASTQ, reference files."""
    (tmp_path / "fq").mkdir(exist_ok=True)
    rows = []
    for s in samples:
        for u in (units or {}).get(s, ["L1"]):
            r1 = write_fastq(tmp_path / "fq" / f"{s}_{u}_1.fq.gz", fastq_text(5, mate=1))
            r2 = write_fastq(tmp_path / "fq" / f"{s}_{u}_2.fq.gz", fastq_text(5, mate=2))
            rows.append(
                {
                    "sample": s,
                    "unit": u,
                    "fq1": f"fq/{Path(r1).name}",
                    "fq2": f"fq/{Path(r2).name}" if paired else "",
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "units.tsv", sep="\t", index=False)
    pd.DataFrame({"sample": list(samples), "condition": ["a", "b"] * (len(samples) // 2)}).to_csv(
        tmp_path / "samples.tsv", sep="\t", index=False
    )
    (tmp_path / "genes.gtf").write_text(
        'chr1\tt\texon\t1\t10\t.\t+\t.\tgene_id "G1"; transcript_id "T1";\n'
    )
    (tmp_path / "tx.fa").write_text(">T1\nACGTACGTAC\n")
    (tmp_path / "genome.fa").write_text(">chr1\n" + "A" * 100 + "\n")
    return {
        "bulk": {
            "units": str(tmp_path / "units.tsv"),
            "samples": str(tmp_path / "samples.tsv"),
            "design": "~ condition",
        },
        "reference": {
            "gtf": str(tmp_path / "genes.gtf"),
            "transcriptome": str(tmp_path / "tx.fa"),
            "genome": str(tmp_path / "genome.fa"),
        },
    }


def test_check_reads_resolves_units_relative_to_the_sheet(tmp_path):
    config = study(tmp_path, units={"A": ["L1", "L2"]})
    out = reads.check_reads(config, bulk_counts="results/c.tsv")
    assert out.bulk.samples == ["A", "B"] and out.bulk.units_of("A") == ["L1", "L2"]
    assert out.bulk.files("A", "L2") == [
        str(tmp_path / "fq/A_L2_1.fq.gz"),
        str(tmp_path / "fq/A_L2_2.fq.gz"),
    ]
    assert out.bulk.paired("A")
    assert out.settings["quantifier"] == "salmon" and out.settings["salmon_decoys"]
    assert out.bulk_config(config)["bulk"]["counts"] == "results/c.tsv"
    assert "counts" not in config["bulk"]  # the user's config is left as it is
    assert out.outputs == ["results/c.tsv"]
    assert out.salmon_libtype("A") == "A"


def test_units_sheet_naming_an_unknown_sample(tmp_path):
    config = study(tmp_path, samples=("A", "B", "C", "D"))
    sheet = pd.read_csv(tmp_path / "samples.tsv", sep="\t")
    sheet[sheet["sample"] != "D"].to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    with pytest.raises(InputError) as err:
        reads.check_reads(config)
    text = str(err.value)
    assert "sample(s) D of the units sheet are not in the sample sheet" in text
    assert "units.tsv" in text and "samples.tsv" in text


def test_sample_without_units_is_an_error(tmp_path):
    config = study(tmp_path)
    units = pd.read_csv(tmp_path / "units.tsv", sep="\t")
    units[units["sample"] != "B"].to_csv(tmp_path / "units.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"sample\(s\) B of the sample sheet .* have no FASTQ"):
        reads.check_reads(config)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.assign(unit=["L1", "L1"], sample=["A", "A"]), "unit 'L1' twice"),
        (lambda t: t.assign(unit=["L.1", "L1"]), "unit 'L.1' may hold only"),
        (lambda t: t.drop(columns="unit"), "no column(s) unit"),
        (lambda t: t.assign(fq1=["", t["fq1"][1]]), "empty fq1"),
    ],
)
def test_bad_units_sheets(tmp_path, edit, message):
    config = study(tmp_path)
    units = pd.read_csv(tmp_path / "units.tsv", sep="\t", dtype=str, keep_default_na=False)
    edit(units).to_csv(tmp_path / "units.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=re.escape(message)):
        reads.check_reads(config)


def test_mixed_single_and_paired_units_of_a_sample(tmp_path):
    config = study(tmp_path, units={"A": ["L1", "L2"]})
    units = pd.read_csv(tmp_path / "units.tsv", sep="\t", dtype=str, keep_default_na=False)
    units.loc[1, "fq2"] = ""
    units.to_csv(tmp_path / "units.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match="mixes single-end and paired-end"):
        reads.check_reads(config)


def test_missing_fastq_and_swapped_mates_are_named(tmp_path):
    config = study(tmp_path)
    os.remove(tmp_path / "fq/B_L1_2.fq.gz")
    with pytest.raises(InputError, match=r"sample 'B' unit 'L1': fq2 .*B_L1_2\.fq\.gz' does not"):
        reads.check_reads(config)
    write_fastq(tmp_path / "fq/B_L1_2.fq.gz", fastq_text(5, prefix="other", mate=2))
    with pytest.raises(InputError, match="not mates"):
        reads.check_reads(config)


def test_fastq_a_rule_writes_may_be_missing(tmp_path):
    config = study(tmp_path)
    os.remove(tmp_path / "fq/B_L1_2.fq.gz")
    reads.check_reads(config, producible=[str(tmp_path / "fq/B_L1_2.fq.gz")])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["bulk"].update(counts="c.tsv"), "not both"),
        (lambda c: c["reference"].pop("transcriptome"), "reference.transcriptome: is needed"),
        (
            lambda c: (c["bulk"].update(quantifier="star"), c["reference"].pop("genome")),
            "reference.genome: is needed",
        ),
        (lambda c: c["reference"].update(gtf="nowhere.gtf"), "does not exist"),
    ],
)
def test_config_mistakes(tmp_path, change, message):
    config = study(tmp_path)
    change(config)
    with pytest.raises(InputError, match=message):
        reads.check_reads(config)


def test_no_units_means_inactive():
    out = reads.check_reads({"bulk": {"counts": "c.tsv", "samples": "s.tsv", "design": "~ a"}})
    assert not out.active and out.outputs == [] and out.matrices is None


def test_snrna_sheet_gets_the_front_ends_matrix_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("config").mkdir()
    sheet = pd.DataFrame({"condition": ["a", "b"]}, index=pd.Index(["S1", "S2"], name="sample"))
    matrices = {
        s: {"path": f"results/reads/snrna/{s}/filtered", "raw_path": f"results/reads/snrna/{s}/raw"}
        for s in sheet.index
    }
    out = reads.sheet_with_matrices(sheet, matrices, "config/samples.tsv")
    assert out.loc["S1", "path"] == "../results/reads/snrna/S1/filtered"
    # Read back the way sheet paths are read (relative to the sheet's folder).
    back = os.path.normpath(os.path.join("config", out.loc["S2", "raw_path"]))
    assert back == "results/reads/snrna/S2/raw"
    with pytest.raises(InputError, match="sample 'S1' has a 'path'"):
        reads.sheet_with_matrices(sheet.assign(path=["x", ""]), matrices, "config/samples.tsv")
    with pytest.raises(InputError, match="relative"):
        reads.sheet_with_matrices(sheet, matrices, str(tmp_path / "config/samples.tsv"))


def test_units_schema_and_config_schema_know_the_new_keys():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["properties"]
    assert {"units", "quantifier", "strandedness", "salmon_counts"} <= set(
        props["bulk"]["properties"]
    )
    assert props["bulk"]["required"] == ["samples", "design"]
    assert {"units", "chemistry", "whitelist", "cell_filter"} <= set(props["snrna"]["properties"])
    assert set(props["reference"]["properties"]) == {
        "genome",
        "gtf",
        "transcriptome",
        "salmon_decoys",
        "star_sjdb_overhang",
        "star_sa_index_nbases",
    }
    readme = (REPO / "config/README.md").read_text()
    for key in (
        "units",
        "quantifier",
        "strandedness",
        "salmon_counts",
        "chemistry",
        "whitelist",
        "cell_filter",
        "salmon_decoys",
        "star_sjdb_overhang",
        "star_sa_index_nbases",
        "reads_fragments",
        "reads_nuclei",
        "reads_umis",
        "reads_empty_droplets",
    ):
        assert f"`{key}`" in readme, key
    units = yaml.safe_load((REPO / "workflow/schemas/units.schema.yaml").read_text())
    assert units["required"] == ["sample", "unit", "fq1"]


# --- reference ---------------------------------------------------------------------------


def test_gtf_attributes_and_flybase_symbols(tmp_path):
    gtf = tmp_path / "a.gtf"
    gtf.write_text(
        "#!header\n"
        'chr2L\tFB\tgene\t1\t100\t.\t+\t.\tgene_id "FBgn1";\n'
        'chr2L\tFB\texon\t1\t50\t.\t+\t.\tgene_id "FBgn1"; gene_symbol "Smn"; '
        'transcript_id "FBtr1";\n'
        'chr2L\tFB\texon\t61\t100\t.\t+\t.\tgene_id "FBgn1"; gene_symbol "Smn"; '
        'transcript_id "FBtr1";\n'
        'chr2R\tFB\texon\t5\t9\t.\t-\t.\tgene_id "FBgn2"; transcript_id "FBtr2";\n'
    )
    exons = reads.read_gtf_exons(gtf)
    assert exons["gene"].tolist() == ["Smn", "Smn", "FBgn2"]
    check = reads.check_reference(str(gtf))
    assert check.genes.set_index("gene_id").loc["FBgn1", ["start", "end"]].tolist() == [1, 100]
    assert check.tx2gene.values.tolist() == [["FBtr1", "FBgn1"], ["FBtr2", "FBgn2"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('chr1\tx\tgene\t1\t5\t.\t+\t.\tgene_id "G";\n', "no 'exon' line"),
        ("chr1 x exon 1 5 . + . gene_id G;\n", "a GTF line has 9"),
        ('chr1\tx\texon\t1\t5\t.\t+\t.\tgene_id "G";\n', "without gene_id or transcript_id"),
        ('chr1\tx\texon\ta\t5\t.\t+\t.\tgene_id "G"; transcript_id "T";\n', "not a number"),
    ],
)
def test_bad_gtf(tmp_path, text, message):
    (tmp_path / "a.gtf").write_text(text)
    with pytest.raises(InputError, match=message):
        reads.read_gtf_exons(tmp_path / "a.gtf")


def test_transcriptome_must_match_the_gtf(tmp_path):
    gtf = tmp_path / "genes.gtf"
    gtf.write_text(
        "".join(
            f'1\tx\texon\t{10 * i + 1}\t{10 * i + 10}\t.\t+\t.\tgene_id "G{i}"; '
            f'transcript_id "ENSMUST{i}"; transcript_version "2";\n'
            for i in range(3)
        )
    )
    fa = tmp_path / "tx.fa"
    # Versioned FASTA ids match an unversioned GTF.
    fa.write_text("".join(f">ENSMUST{i}.2 cdna\n{'A' * 10}\n" for i in range(3)))
    check = reads.check_reference(str(gtf), str(fa))
    assert check.tx2gene["gene_id"].tolist() == ["G0", "G1", "G2"]
    assert check.summary["length_differs_from_gtf"] == 0
    fa.write_text(">NM_001\nAAAA\n>ENSMUST1\nAAAA\n")
    with pytest.raises(InputError) as err:
        reads.check_reference(str(gtf), str(fa))
    text = str(err.value)
    assert "1 of 2 transcripts of this FASTA are not in the GTF" in text
    assert "tx.fa" in text and "genes.gtf" in text and "NM_001" in text


def test_genome_must_share_chromosome_names_with_the_gtf(tmp_path):
    gtf = tmp_path / "genes.gtf"
    gtf.write_text('1\tx\texon\t1\t5\t.\t+\t.\tgene_id "G"; transcript_id "T";\n')
    genome = tmp_path / "genome.fa.gz"
    with gzip.open(genome, "wt") as handle:
        handle.write(">chr1 dna\nACGTACGT\nACGT\n>chrM\nAC\n")
    with pytest.raises(InputError, match="'chr1' or both '1'") as err:
        reads.check_reference(str(gtf), genome=str(genome))
    assert "genome.fa.gz" in str(err.value)
    gtf.write_text(
        'chr1\tx\texon\t1\t5\t.\t+\t.\tgene_id "G"; transcript_id "T";\n'
        'chrUn\tx\texon\t1\t5\t.\t+\t.\tgene_id "H"; transcript_id "U";\n'
    )
    check = reads.check_reference(str(gtf), genome=str(genome))
    assert check.genome_names == ["chr1", "chrM"] and check.genome_length == 14
    assert check.summary["gtf_chromosomes_not_in_genome"] == ["chrUn"]


def test_star_sa_index_nbases_follows_the_manual():
    assert reads.star_sa_index_nbases(2_000_000) == 9  # the dm6 test set (2 Mb)
    assert reads.star_sa_index_nbases(2_404) == 4  # the 10x smoke-test windows
    assert reads.star_sa_index_nbases(2_700_000_000) == 14  # mouse


# --- strandedness ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fwd", "rev", "call"),
    [
        (85, 15, "forward"),
        (10, 90, "reverse"),
        (46, 54, "unstranded"),
        (45, 55, "undetermined"),
        (60, 40, "undetermined"),
        (0, 0, "undetermined"),
        (80, 20, "forward"),
    ],
)
def test_strandedness_calls(fwd, rev, call):
    assert reads.call_strandedness(fwd, rev)[0] == call


def test_strandedness_table_flags_and_fills(tmp_path):
    table = reads.strandedness_table(
        {"A": (1, 99), "B": (2, 98), "C": (50, 50), "D": (62, 38)}, "auto", "x"
    )
    row = table.set_index("sample")
    assert row["inferred"].tolist() == ["reverse", "reverse", "unstranded", "undetermined"]
    assert row["used"].tolist() == ["reverse", "reverse", "unstranded", "reverse"]
    assert row.loc["C", "flag"] == "looks unstranded but most samples look reverse"
    assert row.loc["D", "flag"].startswith("undetermined")
    assert row.loc["A", "flag"] == ""
    fixed = reads.strandedness_table({"A": (1, 99), "B": (50, 50)}, "unstranded", "x")
    assert fixed["used"].tolist() == ["unstranded", "unstranded"]
    assert "configured unstranded but the reads look reverse" in fixed["flag"][0]
    with pytest.raises(InputError, match=r"set bulk\.strandedness"):
        reads.strandedness_table({"A": (60, 40), "B": (0, 0)}, "auto", "x")


def test_orientation_from_salmon_and_star_outputs(tmp_path):
    lib = tmp_path / "lib_format_counts.json"
    lib.write_text(
        json.dumps({"expected_format": "IU", "ISF": 4450, "ISR": 4400, "SF": 10, "SR": 0, "IU": 0})
    )
    assert reads.salmon_orientation(lib) == (4460.0, 4400.0)
    tab = tmp_path / "ReadsPerGene.out.tab"
    tab.write_text("N_unmapped\t5\t5\t5\nN_noFeature\t1\t90\t3\nG1\t10\t0\t10\nG2\t7\t1\t6\n")
    assert reads.star_orientation(tab) == (1.0, 16.0)


# --- gene counts ----------------------------------------------------------------------


def quant(lengths, counts):
    lengths, counts = np.asarray(lengths, float), np.asarray(counts, float)
    rate = counts / lengths
    return pd.DataFrame(
        {"EffectiveLength": lengths, "TPM": rate / rate.sum() * 1e6, "NumReads": counts},
        index=[f"T{i}" for i in range(len(counts))],
    )


def test_summed_and_length_scaled_gene_counts():
    tx2gene = pd.DataFrame({"transcript_id": ["T0", "T1", "T2"], "gene_id": ["A", "A", "B"]})
    # Gene A switches from its short to its long isoform; its molecules per length do not.
    quants = {
        "s1": quant([500, 2000, 1000], [500, 0, 1000]),
        "s2": quant([500, 2000, 1000], [0, 2000, 1000]),
    }
    summed = reads.summarize_to_gene(quants, tx2gene, "sum")
    assert summed.loc["A"].tolist() == [500, 2000] and summed.loc["B"].tolist() == [1000, 1000]
    scaled = reads.summarize_to_gene(quants, tx2gene, "lengthScaledTPM")
    # tximport: TPM x mean (over samples) of the abundance-weighted length, rescaled to
    # each sample's summed counts. Here: lengths A = (500, 2000) -> 1250; B = 1000.
    for s, total in (("s1", 1500), ("s2", 3000)):
        tpm = quants[s]["TPM"].to_numpy()
        raw = np.array([(tpm[0] + tpm[1]) * 1250, tpm[2] * 1000])
        np.testing.assert_allclose(scaled[s].to_numpy(), raw / raw.sum() * total)
    # The switch moves gene A against gene B four-fold in the summed counts, not at all in
    # the length-scaled ones (equal TPMs: A / B = 1250 / 1000 in both samples).
    assert (summed.loc["A"] / summed.loc["B"]).tolist() == [0.5, 2.0]
    np.testing.assert_allclose((scaled.loc["A"] / scaled.loc["B"]).to_numpy(), [1.25, 1.25])


def test_length_of_a_gene_absent_in_one_sample_is_the_geometric_mean_of_the_others():
    tx2gene = pd.DataFrame({"transcript_id": ["T0", "T1", "T2"], "gene_id": ["A", "A", "B"]})
    quants = {
        "s1": quant([500, 2000, 1000], [500, 0, 100]),
        "s2": quant([500, 2000, 1000], [0, 2000, 100]),
        "s3": quant([500, 2000, 1000], [0, 0, 100]),
    }
    scaled = reads.summarize_to_gene(quants, tx2gene, "lengthScaledTPM")
    assert scaled.loc["A", "s3"] == 0
    # A's mean length: (500 + 2000 + sqrt(500 * 2000)) / 3.
    tpm1 = quants["s1"]["TPM"].to_numpy()
    mean_a = (500 + 2000 + np.sqrt(500 * 2000)) / 3
    raw = np.array([tpm1[0] * mean_a, tpm1[2] * 1000])
    np.testing.assert_allclose(scaled["s1"].to_numpy(), raw / raw.sum() * 600)


def test_transcripts_outside_the_map_and_other_references():
    tx2gene = pd.DataFrame({"transcript_id": ["X"], "gene_id": ["A"]})
    with pytest.raises(InputError, match="no transcript"):
        reads.summarize_to_gene({"s1": quant([100], [5])}, tx2gene)
    q = quant([100, 100], [5, 5])
    with pytest.raises(InputError, match="other transcripts"):
        reads.summarize_to_gene(
            {"s1": q, "s2": q.iloc[:1]}, pd.DataFrame({"transcript_id": ["T0"], "gene_id": ["A"]})
        )


def test_count_matrix_is_what_the_bulk_branch_reads(tmp_path):
    genes = pd.DataFrame({"gene_id": ["G1", "G2", "G3"], "gene": ["Tiam1", "Rac1", "G3"]})
    columns = {"B": pd.Series({"G1": 2.6, "G3": 1.0}), "A": pd.Series({"G1": 1.4, "G2": 3.0})}
    table = reads.count_matrix(columns, genes, ["A", "B"])
    assert table.columns.tolist() == ["gene_id", "gene", "A", "B"]
    assert table["A"].tolist() == [1, 3, 0] and table["B"].tolist() == [3, 0, 1]
    table.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    _, symbols = io.read_count_matrix(tmp_path / "c.tsv")
    assert symbols["gene"].tolist() == ["Tiam1", "Rac1", "G3"]
    with pytest.raises(InputError, match="not in the GTF"):
        reads.count_matrix({"A": pd.Series({"G9": 1.0})}, genes, ["A"])
    with pytest.raises(InputError, match="no counts for sample"):
        reads.count_matrix(columns, genes, ["A", "C"])


def test_featurecounts_table(tmp_path):
    path = tmp_path / "fc.tsv"
    path.write_text(
        "# Program:featureCounts v2.0.3\nGeneid\tChr\tStart\tEnd\tStrand\tLength\t"
        "results/x.bam\nG1\tchr1\t1\t10\t+\t10\t7\nG2\tchr1\t20\t30\t-\t11\t0\n"
    )
    assert reads.read_featurecounts(path).to_dict() == {"G1": 7, "G2": 0}


# --- STARsolo --------------------------------------------------------------------------


def test_solo_arguments_follow_the_chemistry():
    v3 = reads.solo_arguments("v3", "wl.txt", "EmptyDrops_CR")
    assert "--soloCBlen 16" in v3 and "--soloUMIstart 17 --soloUMIlen 12" in v3
    assert "--soloFeatures Gene GeneFull" in v3 and "--soloCellFilter EmptyDrops_CR" in v3
    assert "--soloUMIlen 10" in reads.solo_arguments("v2", "wl.txt", "EmptyDrops_CR 300")
    with pytest.raises(InputError, match=r"snrna\.cell_filter"):
        reads.solo_arguments("v3", "wl.txt", "CellRanger2.2 3000")
    with pytest.raises(InputError, match="unknown chemistry"):
        reads.chemistry("v4")


def test_whitelist_of_the_wrong_chemistry(tmp_path):
    (tmp_path / "wl.txt").write_text("ACGTACGTACGTACGT\nACGTACGTACGTACGA\n")
    assert len(reads.check_whitelist(tmp_path / "wl.txt", 16)) == 2
    with gzip.open(tmp_path / "wl14.txt.gz", "wt") as handle:
        handle.write("ACGTACGTACGTAC\n")
    with pytest.raises(InputError, match="not 16 letters"):
        reads.check_whitelist(tmp_path / "wl14.txt.gz", 16)


def write_solo(folder, matrix, barcodes, genes):
    folder.mkdir(parents=True)
    spio.mmwrite(folder / "matrix.mtx", sparse.coo_matrix(matrix), field="integer")
    (folder / "barcodes.tsv").write_text("".join(f"{b}\n" for b in barcodes))
    (folder / "features.tsv").write_text("".join(f"{g}\t{g}\tGene Expression\n" for g in genes))


def test_convert_solo_gzips_filtered_and_nonempty_raw_barcodes(tmp_path):
    solo = tmp_path / "Solo.out"
    genes, barcodes = ["G1", "G2", "G3"], ["AAAA", "CCCC", "GGGG", "TTTT"]
    full = np.array([[5, 0, 1, 0], [3, 0, 0, 0], [2, 0, 0, 4]])  # CCCC: no count
    exon = np.array([[3, 0, 1, 0], [2, 0, 0, 0], [1, 0, 0, 2]])
    write_solo(solo / "GeneFull" / "raw", full, barcodes, genes)
    write_solo(solo / "Gene" / "raw", exon, barcodes, genes)
    (solo / "GeneFull" / "filtered").mkdir()
    (solo / "GeneFull" / "filtered" / "barcodes.tsv").write_text("TTTT\nAAAA\n")
    symbols = pd.DataFrame({"gene_id": genes, "gene": ["Tiam1", "Rac1", "mt-Co1"]})
    out = reads.convert_solo(solo, tmp_path / "f", tmp_path / "r", symbols)
    assert out["nuclei"] == 2 and out["raw_barcodes_with_counts"] == 3
    assert out["umis_in_nuclei"] == 14 and out["exonic_umis_in_nuclei"] == 8
    assert out["intronic_fraction"] == pytest.approx(1 - 8 / 14, abs=1e-4)
    import scanpy as sc
    from acc_tiam1.snrna import read_sample

    filtered = read_sample(tmp_path / "f", "S1")
    assert filtered.obs_names.tolist() == ["TTTT", "AAAA"]
    assert filtered.var["gene"].tolist() == ["Tiam1", "Rac1", "mt-Co1"]
    assert filtered.X.toarray().tolist() == [[0, 0, 4], [5, 3, 2]]
    raw = sc.read_10x_mtx(tmp_path / "r")
    assert raw.obs_names.tolist() == ["AAAA", "GGGG", "TTTT"]
    assert all(
        (tmp_path / "f" / n).exists()
        for n in ("matrix.mtx.gz", "barcodes.tsv.gz", "features.tsv.gz")
    )


def test_solo_summary_keeps_text_values(tmp_path):
    (tmp_path / "Summary.csv").write_text(
        "Number of Reads,2111\nReads Mapped to GeneFull: Unique+Multiple GeneFull,NoMulti\n"
        "Estimated Number of Cells,1592\n"
    )
    summary = reads.read_solo_summary(tmp_path / "Summary.csv")
    assert summary["Estimated Number of Cells"] == 1592
    assert summary["Reads Mapped to GeneFull: Unique+Multiple GeneFull"] == "NoMulti"


def test_multiqc_custom_content_survives_quotes():
    text = reads.custom_content(
        pd.DataFrame({"sample": ["A"], "x": [1]}),
        "id1",
        "It's a 'name'",
        "the transcript's strand: yes",
    )
    header = yaml.safe_load(
        "\n".join(line[2:] for line in text.splitlines() if line.startswith("# "))
    )
    assert header == {
        "id": "id1",
        "section_name": "It's a 'name'",
        "description": "the transcript's strand: yes",
        "plot_type": "table",
    }
    assert text.splitlines()[-2:] == ["sample\tx", "A\t1"]


# --- the reads demo ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_reference():
    genes = _demo_reference.gene_universe(
        {"M": ["Tiam1", "Rac1"]}, {"Oligo": ["Mog", "Plp1"], "Astro": ["Aqp4"]}
    )
    return genes, _demo_reference.build_reference(genes, seed=3)


def test_demo_reference_genes_have_spliced_transcripts(small_reference):
    genes, ref = small_reference
    assert "mt-Co1" in genes["gene"].tolist() and "Tiam1" in genes["gene"].tolist()
    for gene_id, g in ref.genes.iterrows():
        pre = g["premrna"].tobytes().decode()
        for a, b in g["introns"]:
            assert pre[a : a + 2] == "GT" and pre[b - 2 : b] == "AG"
        chrom = ref.genome[g["chrom"]]
        span = chrom[g["start"] - 1 : g["end"]]
        sense = span if g["strand"] == "+" else _demo_reference.revcomp(span)
        assert sense.tobytes() == g["premrna"].tobytes()
        for _, t in ref.transcripts[ref.transcripts["gene_id"] == gene_id].iterrows():
            exons = [chrom[a - 1 : b] for a, b in t["exons"]]
            spliced = np.concatenate(exons)
            if g["strand"] == "-":
                spliced = _demo_reference.revcomp(spliced)
            assert spliced.tobytes() == t["sequence"].tobytes()


def test_demo_bulk_reads_are_reverse_stranded_pairs(small_reference):
    _, ref = small_reference
    counts = pd.Series(20, index=ref.genes.index)
    r1, r2 = _demo_reads.bulk_reads(ref, counts, np.random.default_rng(1))
    assert len(r1) == counts.sum() and r1.shape[1] == r2.shape[1] == 75
    transcripts = "|".join(t.tobytes().decode() for t in ref.transcripts["sequence"])
    # Past the insert: the adapter (repeated when the insert is shorter than 42 bp).
    adapter1, adapter2 = (a.decode() * 3 for a in (_demo_reads.ADAPTER_R1, _demo_reads.ADAPTER_R2))
    short = 0
    for a, b in zip(r1[:300], r2[:300], strict=True):
        read1, read2 = a.tobytes().decode(), b.tobytes().decode()
        # The insert: a start of read 2 on a transcript's strand, the adapter after it (the
        # longest such start; an insert may end in the adapter's first bases by chance).
        k = max(
            k for k in range(76) if read2[:k] in transcripts and read2[k:] == adapter2[: 75 - k]
        )
        insert1 = _demo_reference.revcomp(a[:k]).tobytes().decode()
        assert insert1 in transcripts  # read 1: the opposite strand (dUTP)
        assert read1[k:] == adapter1[: 75 - k]
        short += k < 75
    assert 0 < short < 30  # about 3% of fragments are shorter than a read


def test_demo_10x_reads_carry_barcode_umi_and_intronic_cdna(small_reference):
    genes, ref = small_reference
    barcodes = _demo_reads.whitelist(50, seed=1)
    assert len(set(barcodes)) == 50 and {len(b) for b in barcodes} == {16}
    profiles = _demo_reads.cell_type_profiles(
        genes, {"Oligo": ["Mog", "Plp1"]}, {"Oligo": "Non-neuronal"}, seed=1
    )
    rng = np.random.default_rng(2)
    molecules, truth = _demo_reads.nuclei_molecules(
        ref,
        profiles,
        {"Oligo": 1.0},
        "sham",
        np.zeros(len(genes), bool),
        [],
        5,
        200,
        10,
        barcodes,
        rng,
    )
    assert truth["cell_type"].value_counts().to_dict() == {"empty": 10, "Oligo": 5}
    assert truth["umis"].sum() == len(molecules)
    assert molecules["intronic"].mean() == pytest.approx(_demo_reads.INTRONIC_FRACTION, abs=0.08)
    r1, r2 = _demo_reads.tenx_reads(ref, molecules, barcodes, rng)
    assert r1.shape[1] == 28 and r2.shape[1] == 90 and len(r1) >= len(molecules)
    introns = "".join(
        g["premrna"].tobytes().decode()[a:b] + "|"
        for _, g in ref.genes.iterrows()
        for a, b in g["introns"]
    )
    in_intron = np.mean([r.tobytes().decode() in introns for r in r2[:300]])
    assert in_intron == pytest.approx(molecules["intronic"].mean(), abs=0.12)


def test_write_demo_is_seeded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config/demo").mkdir(parents=True)
    for name in (
        "reads_bulk_samples.tsv",
        "reads_snrna_samples.tsv",
        "reads_bulk_units.tsv",
        "reads_snrna_units.tsv",
    ):
        (tmp_path / "config/demo" / name).write_text((REPO / "config/demo" / name).read_text())
    files = reads.demo_outputs("resources/demo/reads", "config/demo")
    assert len(files.fastq) == 20 and all(
        f.startswith("resources/demo/reads/") for f in files.fastq
    )
    modules = {
        k: v
        for k, v in io.read_gmt(REPO / "config/genesets/tiam1_rac1.gmt").items()
        if k != "TIAM1_RAC1_CORE_ABC"
    }
    markers = io.read_markers(REPO / "config/markers/acc_markers.tsv")
    settings = reads.DemoSettings(
        fragments=2000, nuclei=20, umis=100, empty_droplets=30, whitelist_size=200, seed=5
    )
    outputs = {**files.reference, **files.truth}

    def run():
        reads.write_demo(
            outputs,
            modules,
            markers,
            reads.DEMO_CELL_TYPES,
            io.read_sample_sheet(files.sheets["bulk_samples"]),
            reads.read_units(files.sheets["bulk_units"], "bulk").table,
            io.read_sample_sheet(files.sheets["snrna_samples"]),
            reads.read_units(files.sheets["snrna_units"], "10x").table,
            settings,
        )
        return {
            f: gzip.open(f).read() if f.endswith(".gz") else Path(f).read_bytes() for f in files.all
        }

    first = run()
    assert run() == first
    truth = pd.read_csv(files.truth["truth_bulk"], sep="\t")
    pairs = sum(
        len(gzip.open(f, "rt").read().splitlines()) // 4
        for f in files.fastq
        if "/bulk/" in f and "_R1" in f
    )
    assert pairs == truth.drop(columns=["gene_id", "gene"]).to_numpy().sum()
    nuclei = pd.read_csv(files.truth["truth_nuclei"], sep="\t")
    assert set(nuclei["sample"]) == {"RS1", "RS2", "RS3", "RS4"}
    for name in ("genome", "gtf", "transcriptome"):
        assert files.reference[name].endswith(".gz")
    check = reads.check_reference(
        files.reference["gtf"], files.reference["transcriptome"], files.reference["genome"]
    )
    assert check.summary["length_differs_from_gtf"] == 0


# --- workflow hygiene ---------------------------------------------------------------------


def test_tool_environments_are_pinned_to_the_debian_versions():
    expected = {
        "salmon": "salmon=1.10.1",
        "star": "star=2.7.10b",
        "subread": "subread=2.0.3",
        "fastp": "fastp=0.23.2",
    }
    for name, pin in expected.items():
        env = yaml.safe_load((REPO / f"workflow/envs/{name}.yaml").read_text())
        assert env["dependencies"] == [pin], name
        assert "nodefaults" in env["channels"] and "bioconda" in env["channels"]
    pip = next(
        d["pip"]
        for d in yaml.safe_load((REPO / "workflow/envs/analysis.yaml").read_text())["dependencies"]
        if isinstance(d, dict)
    )
    assert "multiqc==1.28" in pip
    assert "multiqc==1.28" in (REPO / "constraints.txt").read_text().splitlines()


def test_every_reads_rule_logs_benchmarks_and_declares_resources():
    text = (REPO / "workflow/rules/reads.smk").read_text()
    rules = re.findall(r"^rule (\w+):\n(.*?)(?=^rule |^ruleorder|\Z)", text, re.S | re.M)
    assert len(rules) >= 18
    for name, body in rules:
        for key in (
            "log:",
            "benchmark:",
            "threads:",
            "resources:",
            "conda:",
            "mem_mb=",
            "runtime=",
        ):
            assert f"    {key}" in body or f"        {key}" in body, (name, key)
