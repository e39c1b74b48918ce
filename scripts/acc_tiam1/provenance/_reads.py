"""Methods paragraphs and step counts of the reads front end (FASTQ to counts)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ._text import _n, _plural, _span, _v

#: Versions pinned by the reads rules' conda environments (workflow/envs/*.yaml, the
#: Debian packages of the CI). Used where a tool's outputs do not record the version
#: that ran (STAR writes it to Log.out only, which no rule keeps).
READS_PINNED = {
    "fastp": "0.23.2",
    "salmon": "1.10.1",
    "STAR": "2.7.10b",
    "featureCounts": "2.0.3",
}

#: Strandedness calls in the order the text names them.
_CALLS = ("forward", "reverse", "unstranded", "undetermined")


def _tool(versions: pd.DataFrame, name: str) -> tuple[str, str]:
    """A tool's version and, when it is the pinned one, words saying so.

    The table marks pinned versions with `` (pinned)``; the text says it inside the
    citation's parentheses rather than nesting a second pair.
    """
    version = _v(versions, name)
    if version.endswith(" (pinned)"):
        return version.removesuffix(" (pinned)"), "the version the workflow pins; "
    return version, ""


def _fastp_version(path: str | Path) -> str | None:
    return json.loads(Path(path).read_text()).get("summary", {}).get("fastp_version")


def _salmon_version(path: str | Path) -> str | None:
    return json.loads(Path(path).read_text()).get("salmon_version")


def _featurecounts_version(path: str | Path) -> str | None:
    # First line: "# Program:featureCounts v2.0.3; Command:..."
    with open(path) as handle:
        first = handle.readline()
    if "featureCounts v" not in first:
        return None
    return first.split("featureCounts v", 1)[1].split(";", 1)[0].strip() or None


_READERS = {
    "fastp": _fastp_version,
    "salmon": _salmon_version,
    "featureCounts": _featurecounts_version,
}


def reads_tool_versions(
    tools: Sequence[str], outputs: Mapping[str, Iterable[str | Path]] | None = None
) -> pd.DataFrame:
    """Version of each reads tool: as the run's outputs record it, else the pinned one.

    Parameters
    ----------
    tools
        Tools that ran, in the order of the table (keys of :data:`READS_PINNED`).
    outputs
        ``{tool: files}`` that record the version: fastp JSON reports, salmon's
        ``aux_info/meta_info.json``, featureCounts count tables.

    Returns
    -------
    ``package, version`` rows (the layout of :func:`package_versions`); a version not
    found in any output is the pinned one followed by `` (pinned)``, and several versions
    across samples are joined by ``, ``.
    """
    outputs = outputs or {}
    rows = []
    for tool in tools:
        reader = _READERS.get(tool)
        seen = [reader(f) for f in outputs.get(tool, ())] if reader else []
        found = sorted({v for v in seen if v})
        version = ", ".join(found) if found else f"{READS_PINNED.get(tool, '?')} (pinned)"
        rows.append({"package": tool, "version": version})
    return pd.DataFrame(rows, columns=["package", "version"])


def reads_per_sample(checks: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Units, reads and layout of each sample, from the FASTQ check tables.

    Parameters
    ----------
    checks
        ``{sample: results/reads/{branch}/checks/{sample}.tsv}`` (one row per unit:
        ``unit, reads, read1_length, read2_length``; ``read2_length`` empty for
        single-end units). Mates were checked to hold equal numbers of reads, so the
        reads of a paired unit are its read pairs.

    Returns
    -------
    ``sample, units, reads, paired``.
    """
    rows = []
    for sample, table in checks.items():
        read2 = table.get("read2_length", pd.Series(dtype=object))
        rows.append(
            {
                "sample": sample,
                "units": len(table),
                "reads": int(pd.to_numeric(table["reads"]).sum()),
                "paired": bool(read2.notna().any() and (read2.astype(str) != "").any()),
            }
        )
    return pd.DataFrame(rows, columns=["sample", "units", "reads", "paired"])


def _layout_text(reads: pd.DataFrame) -> str:
    """``4 samples (5 sequencing units; 38,000-41,000 read pairs per sample)``."""
    n = len(reads)
    paired = int(reads["paired"].sum())
    if paired == n:
        unit, layout = "read pairs", "paired-end"
    elif paired == 0:
        unit, layout = "reads", "single-end"
    else:
        unit, layout = "reads or read pairs", f"{paired} paired-end, {n - paired} single-end"
    return (
        f"{_plural(n, 'sample')} ({layout}; {_plural(int(reads['units'].sum()), 'sequencing unit')}"
        f", merged per sample; {_span(reads['reads'])} {unit} per sample)"
    )


def _strand_text(settings: Mapping, strandedness: pd.DataFrame) -> str:
    inferred = strandedness["inferred"].astype(str)
    tally = ", ".join(f"{_n((inferred == c).sum())} {c}" for c in _CALLS)
    source = (
        "salmon's library-format counts"
        if settings.get("quantifier", "salmon") == "salmon"
        else "STAR's per-gene counts of both orientations, --quantMode GeneCounts"
    )
    configured = settings.get("strandedness", "auto")
    if configured != "auto":
        used = f"The configured strandedness (bulk.strandedness: {configured}) was used for "
        used += (
            "salmon's library type"
            if settings.get("quantifier", "salmon") == "salmon"
            else "featureCounts"
        )
        used += " regardless of the call."
    elif settings.get("quantifier", "salmon") == "salmon":
        used = (
            "Salmon detected the library type of each sample itself (-l A); the call checks "
            "that the samples agree."
        )
    else:
        used = (
            "Each sample was counted by featureCounts with its own call, an undetermined "
            "sample with the most common call of the others."
        )
    flags = strandedness.get("flag", pd.Series(dtype=object)).fillna("").astype(str)
    flagged = [f"{s}: {f}" for s, f in zip(strandedness["sample"], flags, strict=True) if f]
    flag_text = (
        f" Flagged for a look: {'; '.join(flagged)}."
        if flagged
        else " No sample was flagged (undetermined, or disagreeing with the others or the config)."
    )
    return (
        "Library strandedness was inferred per sample as nf-core/rnaseq does, from the "
        f"fraction of fragments whose read 1 lies on the transcript's strand ({source}): "
        "forward when at least 0.8, reverse when at most 0.2, unstranded when between 0.45 "
        f"and 0.55, undetermined otherwise ({tally}). {used}{flag_text}"
    )


def reads_bulk_methods(
    settings: Mapping,
    versions: pd.DataFrame,
    strandedness: pd.DataFrame,
    reads: pd.DataFrame | None = None,
) -> str:
    """Methods paragraph of the bulk reads: trimming, quantification, strandedness.

    Parameters
    ----------
    settings
        The checked front-end settings (``acc_tiam1.reads.ReadsInputs.settings``:
        ``quantifier``, ``strandedness``, ``salmon_counts``, ``salmon_decoys``,
        ``salmon_gencode``, ``star_sjdb_overhang``).
    versions
        Versions table with rows for the reads tools (:func:`reads_tool_versions`).
    strandedness
        ``results/reads/bulk/strandedness.tsv`` (``sample, inferred, used, flag``).
    reads
        Output of :func:`reads_per_sample`, or None when no table has the read counts.

    Returns
    -------
    str
        The paragraph.
    """
    what = (
        _layout_text(reads)
        if reads is not None and len(reads)
        else _plural(len(strandedness), "sample")
    )
    fastp_v, fastp_note = _tool(versions, "fastp")
    fastp = (
        f"Bulk RNA-seq reads of {what} were processed per unit with fastp "
        f"{fastp_v} ({fastp_note}Chen et al. 2018): adapters were detected and trimmed "
        "(--detect_adapter_for_pe for paired-end units) and reads failing fastp's default "
        "filters (more than 40% of bases below Phred 15, more than 5 N bases, or shorter "
        "than 15 bp) were removed."
    )
    if settings.get("quantifier", "salmon") == "salmon":
        index = (
            "a decoy-aware index of the transcriptome (the genome's sequences as decoys, "
            "so that reads from introns and intergenic regions are not forced onto "
            "transcripts)"
            if settings.get("salmon_decoys")
            else "an index of the transcriptome (without decoy sequences)"
        )
        if settings.get("salmon_gencode"):
            index += ", GENCODE headers read by their first field (--gencode)"
        counts = (
            'as tximport\'s countsFromAbundance = "lengthScaledTPM" does (Soneson et al. '
            "2015: gene TPMs scaled by the gene's average effective length and each "
            "sample's library size)"
            if settings.get("salmon_counts", "lengthScaledTPM") == "lengthScaledTPM"
            else "as the sum of their transcripts' estimated counts (tximport's "
            'countsFromAbundance = "no")'
        )
        salmon_v, salmon_note = _tool(versions, "salmon")
        quant = (
            f"Transcript abundances were estimated with salmon {salmon_v} "
            f"({salmon_note}Patro et al. 2017) in mapping-based mode with selective alignment "
            f"(--validateMappings) against {index}, the library type "
            + (
                "detected from the reads (-l A)"
                if settings.get("strandedness", "auto") == "auto"
                else f"set from the configured strandedness ({settings['strandedness']})"
            )
            + ". Gene-level counts were summarised from the transcript estimates through "
            f"the GTF's transcript-to-gene map {counts} and rounded."
        )
    else:
        star, star_note = _tool(versions, "STAR")
        fc_v, fc_note = _tool(versions, "featureCounts")
        quant = (
            f"Reads were aligned to the genome with STAR {star} ({star_note}Dobin et "
            "al. 2013; index with the GTF's splice junctions, --sjdbOverhang "
            f"{settings.get('star_sjdb_overhang', 100)}; sorted BAM output) and counted per "
            f"gene with featureCounts (subread {fc_v}; {fc_note}Liao et al. "
            "2014) on the GTF's exons, as fragments for paired-end samples "
            "(--countReadPairs), with the strandedness below (-s)."
        )
    return f"{fastp} {quant} {_strand_text(settings, strandedness)}"


def reads_snrna_methods(
    settings: Mapping, versions: pd.DataFrame, cell_calling: pd.DataFrame
) -> str:
    """Methods paragraph of the 10x reads: STARsolo and its cell calling.

    Parameters
    ----------
    settings
        The checked front-end settings (``chemistry``, ``cell_filter``).
    versions
        Versions table with a row for ``STAR``.
    cell_calling
        ``results/reads/snrna/cell_calling.tsv``: one row per sample with ``nuclei``,
        ``raw_barcodes_with_counts``, ``median_umis_per_nucleus``,
        ``intronic_fraction`` (and STARsolo's ``reads``, ``sequencing_saturation``).

    Returns
    -------
    str
        The paragraph.
    """
    chem = settings.get("chemistry", "v3")
    star, star_note = _tool(versions, "STAR")
    umi = {"v2": 10, "v3": 12}.get(chem, "?")
    cell_filter = str(settings.get("cell_filter", "EmptyDrops_CR")).strip()
    reads = pd.to_numeric(cell_calling.get("reads", pd.Series(dtype=float)), errors="coerce")
    reads_text = f" ({_span(reads)} reads per sample)" if reads.notna().any() else ""
    per_sample = ", ".join(f"{r.sample} {_n(r.nuclei)}" for r in cell_calling.itertuples())
    return (
        f"Single-nucleus 10x Chromium 3' {chem} reads of "
        f"{_plural(len(cell_calling), 'sample')}{reads_text} were aligned and counted "
        f"with STARsolo (STAR {star}; {star_note}Dobin et al. 2013, Kaminow et al. "
        "2021) against the genome index with the GTF's splice junctions: --soloType "
        f"CB_UMI_Simple (16 bp cell barcode and {umi} bp UMI in read 1, barcodes matched "
        "to the chemistry's whitelist with one mismatch), Cell Ranger >= 4 UMI "
        "deduplication and filtering (--soloUMIdedup 1MM_CR, --soloUMIfiltering "
        "MultiGeneUMI_CR, --clipAdapterType CellRanger4) and --soloFeatures GeneFull, "
        "so that reads in introns, which make up much of a nucleus' pre-mRNA, were "
        "counted (exonic-only counts were kept to report the intronic share: "
        f"{_span(cell_calling['intronic_fraction'], '{:.2f}')} of the UMIs in nuclei per "
        f"sample). Nuclei were called with --soloCellFilter {cell_filter} (Cell Ranger's "
        "EmptyDrops variant; Lun et al. 2019): "
        f"{_n(cell_calling['nuclei'].sum())} barcodes were called as nuclei "
        f"({per_sample}; median "
        f"{_span(cell_calling['median_umis_per_nucleus'])} UMIs per nucleus) out of "
        f"{_n(cell_calling['raw_barcodes_with_counts'].sum())} barcodes with at least one "
        "count, which were kept as the raw matrix for the ambient-RNA estimate."
    )


def reads_methods(
    settings: Mapping | None,
    versions: pd.DataFrame,
    strandedness: pd.DataFrame | None = None,
    bulk_reads: pd.DataFrame | None = None,
    cell_calling: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Methods paragraphs of the reads front end, ``{heading: paragraph}``.

    Empty when the run did not start from FASTQ (no ``bulk.units`` or ``snrna.units``),
    so that the page of a counts-only run is unchanged.

    Parameters
    ----------
    settings
        The checked front-end settings (``acc_tiam1.reads.ReadsInputs.settings``), or
        None when the front end is not configured.
    versions
        Versions table with rows for the reads tools (:func:`reads_tool_versions`) and
        ``multiqc``.
    strandedness
        ``results/reads/bulk/strandedness.tsv``, or None without bulk units.
    bulk_reads
        Output of :func:`reads_per_sample` for the bulk units, or None.
    cell_calling
        ``results/reads/snrna/cell_calling.tsv``, or None without 10x units.

    Returns
    -------
    dict
        Zero, one or two paragraphs; the last one names MultiQC, which runs once over
        the logs of both branches.
    """
    out = {}
    if settings is None:
        return out
    if strandedness is not None:
        out["Bulk RNA-seq: reads to counts"] = reads_bulk_methods(
            settings, versions, strandedness, bulk_reads
        )
    if cell_calling is not None:
        out["Single-nucleus RNA-seq: reads to counts"] = reads_snrna_methods(
            settings, versions, cell_calling
        )
    if out:
        logs = []
        if strandedness is not None:
            logs.append("fastp")
            logs.append(
                "salmon"
                if settings.get("quantifier", "salmon") == "salmon"
                else "STAR and featureCounts"
            )
            logs.append("the strandedness table")
        if cell_calling is not None:
            logs += ["STARsolo", "the cell-calling table"]
        last = list(out)[-1]
        out[last] += (
            f" Quality reports ({', '.join(logs)}) were collected with MultiQC "
            f"{_v(versions, 'multiqc')} (Ewels et al. 2016)."
        )
    return out


def reads_counts(bulk_reads: pd.DataFrame | None, cell_calling: pd.DataFrame | None) -> list[dict]:
    """Samples, units and nuclei at each step of the reads front end.

    Parameters
    ----------
    bulk_reads
        Output of :func:`reads_per_sample` for the bulk units, or None.
    cell_calling
        ``results/reads/snrna/cell_calling.tsv``, or None.
    """
    rows = []
    if bulk_reads is not None:
        rows += [
            {"step": "bulk reads: samples", "n": len(bulk_reads)},
            {"step": "bulk reads: sequencing units", "n": int(bulk_reads["units"].sum())},
            {"step": "bulk reads: reads (pairs) in all units", "n": int(bulk_reads["reads"].sum())},
        ]
    if cell_calling is not None:
        rows += [
            {"step": "10x reads: samples", "n": len(cell_calling)},
            {
                "step": "10x reads: barcodes with counts",
                "n": int(cell_calling["raw_barcodes_with_counts"].sum()),
            },
            {
                "step": "10x reads: barcodes called as nuclei",
                "n": int(cell_calling["nuclei"].sum()),
            },
        ]
    return rows
