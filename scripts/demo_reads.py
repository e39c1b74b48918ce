"""Rule demo_reads: simulate the reads demo (reference, bulk and 10x FASTQ, truth)."""

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    modules = {
        k: v for k, v in io.read_gmt(smk.input.genesets).items() if k != "TIAM1_RAC1_CORE_ABC"
    }
    settings = reads.DemoSettings(
        fragments=smk.params.fragments,
        nuclei=smk.params.nuclei,
        umis=smk.params.umis,
        empty_droplets=smk.params.empty_droplets,
        seed=smk.params.seed,
    )
    reads.write_demo(
        outputs={
            k: smk.output[k]
            for k in (
                "genome",
                "gtf",
                "transcriptome",
                "whitelist",
                "truth_genes",
                "truth_bulk",
                "truth_nuclei",
            )
        },
        modules=modules,
        markers=io.read_markers(smk.input.markers),
        cell_types=reads.DEMO_CELL_TYPES,
        bulk_samples=io.read_sample_sheet(smk.input.bulk_samples),
        bulk_units=reads.read_units(smk.input.bulk_units, "bulk").table,
        snrna_samples=io.read_sample_sheet(smk.input.snrna_samples),
        snrna_units=reads.read_units(smk.input.snrna_units, "10x").table,
        settings=settings,
    )


run_rule(main, snakemake)
