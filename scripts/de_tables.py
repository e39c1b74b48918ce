"""Rules bulk_de and snrna_de: one DESeq2 fit, then a Wald test per contrast of it.

Every configured contrast gets a table; a contrast that the dataset cannot test (a
cell type with too few animals in a group) gets the standard columns and no genes, and
the pseudobulk plan says why. The job also writes the fitted model (design matrix and
one contrast vector per tested comparison) for CAMERA and the set-score equivalence
test, and, with the rescue analysis on, the per-gene equivalence test of the ketamine
contrast's target vs the pain contrast's reference (DESeq2 ``lessAbs``) from the same
fit; that table is empty (columns only) when the dataset cannot test it.
"""

import logging

from acc_tiam1 import de, design, io, snrna
from acc_tiam1.runner import run_rule


def main(smk):
    p = smk.params
    counts, genes = io.read_prepared_counts(smk.input.counts)
    samples = io.read_sample_sheet(smk.input.samples)
    tested = design.parse_contrasts(p.contrasts)
    if "gene_filter" in smk.output.keys():
        # Bulk: filter here. Pseudobulk counts arrive filtered (the pseudobulk plan).
        keep = de.expression_filter(
            counts, samples, sorted({c.variable for c in tested}), p.gene_filter
        )
        record = de.filter_record(keep, p.gene_filter)
        logging.info("gene filter: %s", record.iloc[0].to_dict())
        io.write_tsv(record, smk.output.gene_filter, index=False)
        counts, genes = counts[keep], genes[keep]
    coldata = design.make_coldata(samples.loc[counts.columns], p.design, tested)
    logging.info(
        "%s: design %s; reference levels: %s",
        p.label,
        p.design,
        {c: str(coldata[c].cat.categories[0]) for c in coldata.columns},
    )
    dds = de.fit_deseq(counts, coldata, p.design, min_replicates=p.de["min_replicates_for_replace"])
    logging.info("size factors: %s", dds.obs["size_factors"].round(4).to_dict())
    io.write_tsv(de.normalized_counts(dds, genes), smk.output.normalized)
    by_name = {c.name: c for c in tested}
    for name, path in zip(p.contrast_names, smk.output.tables, strict=True):
        if name not in by_name:
            logging.info("%s: not tested (%s)", name, p.skipped.get(name, "not planned"))
            io.write_tsv(de.untested_table(), path, index=False)
            continue
        table = de.contrast_table(
            dds,
            by_name[name],
            genes.loc[dds.var_names],
            alpha=p.de["alpha"],
            cooks_filter=p.de["cooks_filter"],
            independent_filter=p.de["independent_filter"],
            shrink=p.de["lfc_shrink"],
        )
        if smk.input.get("ambient"):
            explained = io.read_tsv(smk.input.ambient, index_col=None)
            table = snrna.flag_mostly_ambient(
                table,
                explained,
                explained["cell_type"].iloc[0],
                alpha=p.de["alpha"],
                max_fraction=p.ambient_max_fraction,
            )
        logging.info(
            "%s: %d genes with padj < %g",
            name,
            int((table["padj"] < p.de["alpha"]).sum()),
            p.de["alpha"],
        )
        io.write_tsv(table, path, index=False)
    model = {c.name: c for c in tested}
    equivalence = de.untested_equivalence()
    eq = p.equivalence
    if eq and all(name in by_name for name in eq["requires"]):
        spec = [eq["variable"], eq["target"], eq["reference"]]
        model[eq["name"]] = spec
        equivalence = de.equivalence_table(
            dds,
            spec,
            eq["margin"],
            genes.loc[dds.var_names],
            alpha=p.de["alpha"],
            cooks_filter=p.de["cooks_filter"],
            independent_filter=p.de["independent_filter"],
        )
        logging.info(
            "%s: %d genes equivalent (|log2FC| < %g, padj < %g)",
            eq["name"],
            int((equivalence["padj"] < p.de["alpha"]).sum()),
            eq["margin"],
            p.de["alpha"],
        )
    elif eq:
        logging.info("%s: not tested (needs %s)", eq["name"], " and ".join(eq["requires"]))
    io.write_tsv(equivalence, smk.output.equivalence, index=False)
    io.write_tsv(de.design_table(dds), smk.output.design)
    io.write_tsv(de.contrast_vectors(dds, model), smk.output.contrasts)


run_rule(main, snakemake)
