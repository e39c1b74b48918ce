"""Rules bulk_de_fit (and pseudobulk fits): one DESeq2 fit per design."""

import logging

from acc_tiam1 import de, design, io
from acc_tiam1.runner import run_rule


def main(smk):
    counts, genes = io.read_prepared_counts(smk.input.counts)
    samples = io.read_sample_sheet(smk.input.samples)
    contrasts = design.parse_contrasts(smk.params.contrasts)
    coldata = design.make_coldata(samples.loc[counts.columns], smk.params.design, contrasts)
    logging.info(
        "design %s; reference levels: %s",
        smk.params.design,
        {c: str(coldata[c].cat.categories[0]) for c in coldata.columns},
    )
    dds = de.fit_deseq(
        counts,
        coldata,
        smk.params.design,
        min_replicates=smk.params.de["min_replicates_for_replace"],
    )
    dds.var["gene"] = genes.loc[dds.var_names, "gene"].to_numpy()
    size_factors = dds.obs["size_factors"].round(4)
    logging.info("size factors: %s", size_factors.to_dict())
    de.save_fit(dds, smk.output.fit)
    io.write_tsv(de.normalized_counts(dds, genes), smk.output.normalized)


run_rule(main, snakemake)
