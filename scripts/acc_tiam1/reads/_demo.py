"""The reads demo study, written to disk: reference, FASTQ of every unit, planted truth."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import write_text, write_tsv
from . import _demo_reads as sim
from ._demo_reference import build_reference, gene_universe, write_reference

log = logging.getLogger(__name__)

#: Cell types of the demo nuclei and their shares; pain acts in L2/3 IT.
DEMO_CELL_TYPES = {"L2/3 IT": 0.3, "L5 ET": 0.15, "Oligo": 0.3, "Astro": 0.15, "Microglia": 0.1}


@dataclass
class DemoSettings:
    """Size of the reads demo.

    Attributes
    ----------
    fragments
        Mean read pairs per bulk sample.
    nuclei
        Nuclei per 10x sample (each sample varies by +-10%).
    umis
        Median UMIs per nucleus.
    empty_droplets
        Barcodes with ambient RNA only, per 10x sample.
    whitelist_size
        Barcodes of the demo whitelist.
    seed
        Seed of every random step.
    """

    fragments: int = 40000
    nuclei: int = 200
    umis: float = 800.0
    empty_droplets: int = 3000
    whitelist_size: int = 8000
    seed: int = 1


@dataclass
class DemoFiles:
    """What rule demo_reads reads and writes.

    Attributes
    ----------
    sheets
        The demo's sample and units sheets (``bulk_samples``, ``bulk_units``,
        ``snrna_samples``, ``snrna_units``).
    reference
        ``genome, gtf, transcriptome, whitelist``.
    truth
        ``truth_genes, truth_bulk, truth_nuclei``.
    fastq
        Every FASTQ the demo units sheets name.
    """

    sheets: dict[str, str]
    reference: dict[str, str]
    truth: dict[str, str]
    fastq: list[str] = field(default_factory=list)

    @property
    def all(self) -> list[str]:
        """Every file the rule writes."""
        return [*self.reference.values(), *self.truth.values(), *self.fastq]


def demo_outputs(folder: str, sheets_folder: str) -> DemoFiles:
    """The files of the reads demo.

    Fixed reference and truth names under ``folder``, and the FASTQ named in the demo
    units sheets (``reads_{bulk,snrna}_units.tsv`` under ``sheets_folder``), which must
    lie under ``folder`` too.

    Raises
    ------
    InputError
        When a demo units sheet names a file outside ``folder``.
    """
    from ._inputs import read_units

    sheets = {
        f"{b}_{k}": f"{sheets_folder}/reads_{b}_{k}.tsv"
        for b in ("bulk", "snrna")
        for k in ("samples", "units")
    }
    reference = {
        "genome": f"{folder}/genome.fa.gz",
        "gtf": f"{folder}/genes.gtf.gz",
        "transcriptome": f"{folder}/transcripts.fa.gz",
        "whitelist": f"{folder}/whitelist.txt",
    }
    truth = {
        "truth_genes": f"{folder}/truth_genes.tsv",
        "truth_bulk": f"{folder}/truth_bulk_counts.tsv",
        "truth_nuclei": f"{folder}/truth_nuclei.tsv",
    }
    fastq = []
    for branch, kind in (("bulk", "bulk"), ("snrna", "10x")):
        path = sheets[f"{branch}_units"]
        if not Path(path).exists():
            continue
        for f in read_units(path, kind).table[["fq1", "fq2"]].to_numpy().ravel():
            if not f:
                continue
            if Path(os.path.relpath(f, folder)).parts[0] == "..":
                raise InputError(f"demo FASTQ '{f}' must lie under {folder}/.", path)
            fastq.append(f)
    return DemoFiles(sheets=sheets, reference=reference, truth=truth, fastq=fastq)


def _split_units(n: int, units: pd.DataFrame, rng) -> list[np.ndarray]:
    which = rng.integers(0, len(units), n)
    return [np.flatnonzero(which == k) for k in range(len(units))]


def _write_units(sample: str, units: pd.DataFrame, r1: np.ndarray, r2: np.ndarray, rng) -> None:
    names = np.array([f"DEMO:{sample}:{i:09d}" for i in range(len(r1))])
    for k, idx in enumerate(_split_units(len(r1), units, rng)):
        row = units.iloc[k]
        sim.write_fastq(sim.fastq_bytes(names[idx], r1[idx], 1, rng), row["fq1"])
        sim.write_fastq(sim.fastq_bytes(names[idx], r2[idx], 2, rng), row["fq2"])
        log.info(
            "%s unit %s: %d read pairs -> %s, %s",
            sample,
            row["unit"],
            len(idx),
            row["fq1"],
            row["fq2"],
        )


def write_demo(
    outputs: Mapping[str, str],
    modules: Mapping[str, Sequence[str]],
    markers: pd.DataFrame,
    cell_types: Mapping[str, float],
    bulk_samples: pd.DataFrame | None,
    bulk_units: pd.DataFrame | None,
    snrna_samples: pd.DataFrame | None,
    snrna_units: pd.DataFrame | None,
    settings: DemoSettings,
) -> None:
    """Simulate and write the reads demo.

    Parameters
    ----------
    outputs
        Paths of ``genome, gtf, transcriptome, whitelist, truth_genes, truth_bulk,
        truth_nuclei``.
    modules
        Pathway gene sets; pain raises their genes (bulk; and in ``L2/3 IT`` nuclei).
    markers
        Marker table (``cell_type``, ``class``, ``markers``).
    cell_types
        Simulated cell types and their shares of nuclei.
    bulk_samples, snrna_samples
        Sample sheets (index sample, column ``condition``); None skips a branch.
    bulk_units, snrna_units
        Units tables (``sample, unit, fq1, fq2``): the FASTQ files to write.
    settings
        Sizes and seed.
    """
    table = markers.set_index("cell_type")
    marker_genes = {t: list(table.loc[t, "markers"]) for t in cell_types}
    genes = gene_universe(modules, marker_genes)
    ref = build_reference(genes, settings.seed)
    write_reference(ref, outputs["genome"], outputs["gtf"], outputs["transcriptome"])
    pain = sim.pain_genes(genes, list(modules))
    truth_genes = genes.assign(
        pain_log2fc=np.where(pain, sim.PAIN_LOG2FC, 0.0),
        has_intron=[len(i) > 0 for i in ref.genes["introns"]],
    )
    write_tsv(truth_genes, outputs["truth_genes"])
    log.info(
        "reference: %d genes, %d transcripts, %d bp",
        len(genes),
        len(ref.transcripts),
        sum(len(s) for s in ref.genome.values()),
    )
    barcodes = sim.whitelist(settings.whitelist_size, settings.seed)
    write_text("".join(f"{b}\n" for b in barcodes), outputs["whitelist"])
    if bulk_samples is not None:
        counts = sim.bulk_counts(genes, bulk_samples, settings.fragments, pain, settings.seed)
        for i, sample in enumerate(bulk_samples.index):
            rng = np.random.default_rng([settings.seed, 14, 5, i])
            r1, r2 = sim.bulk_reads(ref, counts[sample], rng)
            _write_units(sample, bulk_units[bulk_units["sample"] == sample], r1, r2, rng)
        write_tsv(
            counts.reset_index().assign(gene=genes["gene"].to_numpy())[
                ["gene_id", "gene", *bulk_samples.index]
            ],
            outputs["truth_bulk"],
            index=False,
        )
    truths = []
    if snrna_samples is not None:
        profiles = sim.cell_type_profiles(
            genes, marker_genes, {t: table.loc[t, "class"] for t in cell_types}, settings.seed
        )
        for i, (sample, row) in enumerate(snrna_samples.iterrows()):
            rng = np.random.default_rng([settings.seed, 14, 6, i])
            n = round(settings.nuclei * rng.uniform(0.9, 1.1))
            molecules, truth = sim.nuclei_molecules(
                ref,
                profiles,
                cell_types,
                row["condition"],
                pain,
                ["L2/3 IT"],
                n,
                settings.umis,
                settings.empty_droplets,
                barcodes,
                rng,
            )
            r1, r2 = sim.tenx_reads(ref, molecules, barcodes, rng)
            _write_units(sample, snrna_units[snrna_units["sample"] == sample], r1, r2, rng)
            truths.append(truth.assign(sample=sample))
            log.info(
                "%s: %d nuclei, %d empty droplets, %d molecules, %d read pairs",
                sample,
                n,
                settings.empty_droplets,
                len(molecules),
                len(r1),
            )
    columns = ["sample", "barcode", "cell_type", "umis", "intronic_umis"]
    nuclei = pd.concat(truths)[columns] if truths else pd.DataFrame(columns=columns)
    write_tsv(nuclei, outputs["truth_nuclei"], index=False)
