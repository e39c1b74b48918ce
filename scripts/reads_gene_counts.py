"""Rule reads_gene_counts: the gene-count matrix the bulk branch reads."""

import logging

from acc_tiam1 import io, reads
from acc_tiam1.runner import run_rule


def main(smk):
    genes = io.read_tsv(smk.input.genes, index_col=None)
    samples = smk.params.samples
    if smk.params.quantifier == "salmon":
        quants = {
            s: reads.read_salmon_quant(f) for s, f in zip(samples, smk.input.counts, strict=True)
        }
        tx2gene = io.read_tsv(smk.input.tx2gene, index_col=None)
        counts = reads.summarize_to_gene(quants, tx2gene, smk.params.salmon_counts)
        columns = {s: counts[s] for s in samples}
    else:
        columns = {
            s: reads.read_featurecounts(f) for s, f in zip(samples, smk.input.counts, strict=True)
        }
    table = reads.count_matrix(columns, genes, samples)
    for s in samples:
        logging.info("%s: %d counts on %d genes", s, table[s].sum(), (table[s] > 0).sum())
    io.write_tsv(table, smk.output[0], index=False)


run_rule(main, snakemake)
