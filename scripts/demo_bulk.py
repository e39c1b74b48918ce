"""Rule demo_bulk: simulate the bulk part of the demo study."""

from acc_tiam1 import demo, io
from acc_tiam1.runner import run_rule


def main(smk):
    samples = io.read_sample_sheet(smk.input.samples)
    modules = demo.demo_modules(smk.input.genesets)
    markers = [g for genes in io.read_markers(smk.input.markers)["markers"] for g in genes]
    counts, truth = demo.simulate_bulk(
        samples,
        modules,
        markers,
        n_genes=smk.params.n_genes,
        seed=smk.params.seed,
        null=smk.params.null,
    )
    io.write_tsv(truth, smk.output.truth, index=False)
    io.write_tsv(counts, smk.output.counts, index=False)


run_rule(main, snakemake)
