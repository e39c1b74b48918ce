"""Rule snrna_qc_sample: read one sample, check it, filter nuclei, remove doublets, and
take its soup profile (ambient RNA) from its empty droplets or its nuclei."""

import logging

from acc_tiam1 import io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    sample = smk.wildcards.sample
    adata = snrna.read_sample(smk.params.path, sample)
    logging.info(
        "%s: %d barcodes x %d genes read from %s",
        sample,
        adata.n_obs,
        adata.n_vars,
        smk.params.path,
    )
    kept, nuclei, summary = snrna.sample_qc(adata, sample, smk.params.qc, smk.params.seed)
    row = summary.iloc[0]
    logging.info(
        "%s: thresholds %s",
        sample,
        {k: row[k] for k in summary.columns if k.startswith("threshold_")},
    )
    logging.info(
        "%s: %d nuclei in, %d failed QC, %d doublets, %d kept",
        sample,
        row["nuclei_in"],
        row["failed_qc"],
        row["doublets"],
        row["nuclei_kept"],
    )
    soup, ranks = snrna.sample_soup(kept, adata.obs_names, smk.params.raw_path, sample)
    for key, value in soup.describe().items():
        summary[key] = value
    snrna.write_h5ad(kept, smk.output.h5ad)
    io.write_tsv(nuclei, smk.output.nuclei)
    io.write_tsv(summary, smk.output.summary, index=False)
    io.write_tsv(snrna.soup_table(soup, kept.var), smk.output.soup, index=False)
    io.write_tsv(ranks, smk.output.ranks, index=False)


run_rule(main, snakemake)
